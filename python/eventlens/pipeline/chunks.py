"""Chunks: coffea work items (file + entry range), their names, JSON, and jobs of them.

Chunks are cut along the boundaries coffea's own Runner uses for the same
``chunksize``, so every executor — HTCondor batch jobs included — processes
exactly the chunks the Iterative executor processes.  A chunk's
:func:`chunk_name` names every file written for it (its results, its table,
its scores).  Work items travel as JSON (a batch job's share), readable by a
person and by the job.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eventlens.errors import EventLensError


def work_items(
    fileset: Mapping[str, Any],
    chunksize: int,
    treename: str = "Events",
    schema: Any = None,
    metadata_cache: Any = None,
) -> list[Any]:
    """coffea's chunks of ``fileset`` (reads each file's entry count once)."""
    from coffea import processor
    from coffea.nanoevents import NanoAODSchema

    runner = processor.Runner(
        executor=processor.IterativeExecutor(status=False),
        schema=schema or NanoAODSchema,
        chunksize=chunksize,
        metadata_cache=metadata_cache,
    )
    return list(runner.preprocess(dict(fileset), treename=treename))


def to_json(item: Any) -> dict[str, Any]:
    return {
        "dataset": item.dataset,
        "filename": item.filename,
        "treename": item.treename,
        "entrystart": int(item.entrystart),
        "entrystop": int(item.entrystop),
        "fileuuid": bytes(item.fileuuid).hex(),
        "usermeta": item.usermeta,
        "preload": sorted(item.preload) if item.preload else None,
    }


def from_json(d: Mapping[str, Any]) -> Any:
    from coffea.processor.executor import WorkItem

    return WorkItem(
        d["dataset"],
        d["filename"],
        d["treename"],
        d["entrystart"],
        d["entrystop"],
        bytes.fromhex(d["fileuuid"]),
        d.get("usermeta"),
        frozenset(d["preload"]) if d.get("preload") else None,
    )


def chunk_name(dataset: str, filename: str, start: int, stop: int) -> str:
    """A chunk's file-name-safe identity: unique per (dataset, input file, entry range)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(filename.split("?")[0]).stem)[:60]
    digest = hashlib.sha1(filename.encode()).hexdigest()[:8]
    safe_ds = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset)
    return f"{safe_ds}__{stem}-{digest}__{start}-{stop}"


def name_of(item: Any) -> str:
    """:func:`chunk_name` of a coffea WorkItem or of its JSON form."""
    if isinstance(item, Mapping):
        return chunk_name(item["dataset"], item["filename"], item["entrystart"], item["entrystop"])
    return chunk_name(item.dataset, item.filename, item.entrystart, item.entrystop)


def split(items: Sequence[dict[str, Any]], jobs: int) -> list[list[dict[str, Any]]]:
    """Contiguous groups of chunks with about equal entries; never an empty group.

    More jobs than chunks gives one job per chunk (a smaller ``chunksize``
    gives more chunks).
    """
    if jobs < 1:
        raise EventLensError(f"--jobs must be >= 1, got {jobs}")
    if not items:
        raise EventLensError("the fileset has no events to process")
    jobs = min(jobs, len(items))
    total = sum(i["entrystop"] - i["entrystart"] for i in items)
    groups: list[list[dict[str, Any]]] = [[] for _ in range(jobs)]
    done = 0
    g = 0
    for n, item in enumerate(items):
        remaining_items = len(items) - n
        remaining_groups = jobs - g - (1 if groups[g] else 0)
        # move on when this group has its share, or when the rest must fill the other groups
        if groups[g] and (done >= total * (g + 1) / jobs or remaining_items <= remaining_groups):
            g += 1
        groups[g].append(item)
        done += item["entrystop"] - item["entrystart"]
    return groups


def entries_by_dataset(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i["dataset"]] = out.get(i["dataset"], 0) + i["entrystop"] - i["entrystart"]
    return out
