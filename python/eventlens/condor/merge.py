"""``eventlens merge OUTDIR``: add a batch's job outputs, refusing to drop any job.

Checks, per job of the plan in ``batch.json``:

* ``output.coffea`` exists (else: the job's ``error.json``, the tail of its
  ``job.err``, or "no output" is reported under the job's name);
* it processed exactly the chunks it was given (coffea's ``processed`` set);
* its cutflow has every dataset of its slice, and where the cutflow counts the
  events read (``read``), that count equals the entries of the slice.

Only when every job passes are the outputs added (coffea ``accumulate``) chunk
by chunk in the plan's order -- the Iterative executor's order, so that even
floating-point sums agree bit for bit -- ``postprocess`` applied once, as the
Iterative executor does, and ``merged.coffea`` + ``merge.json`` written
atomically.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlens.io import atomic_path, write_json

from . import chunks as chunklib
from .batch import PROCESSOR, Batch, BatchError
from .job import ERROR, OUTPUT

log = logging.getLogger(__name__)

MERGED, SUMMARY = "merged.coffea", "merge.json"
#: Cutflow keys that count the events a chunk read (eventlens processors: ``read``).
READ_KEYS = ("read", "all")


class MergeError(BatchError):
    """Some jobs are missing, failed or incomplete; they are named."""


@dataclass(frozen=True)
class MergeResult:
    output: Any
    path: Path
    summary: dict[str, Any]


def job_problem(
    batch: Batch, job: Mapping[str, Any], loaded: Mapping[str, Any] | None
) -> str | None:
    """Why ``job`` cannot be merged (None when it can)."""
    jobdir = batch.job_dir(job["name"])
    if loaded is None:
        err = jobdir / ERROR
        if err.exists():
            return f"failed: {json.loads(err.read_text()).get('error', '?')}"
        tail = _tail(jobdir / "job.err")
        return "no output.coffea" + (
            f" (job.err: {tail})" if tail else " (not run yet, or still running?)"
        )
    planned = {chunklib.key(c) for c in job["chunks"]}
    done = set(loaded.get("processed", ()))
    if planned != done:
        missing = sorted(planned - done)
        extra = sorted(done - planned)
        what = []
        if missing:
            what.append(f"{len(missing)} chunk(s) missing, first {missing[0]}")
        if extra:
            what.append(f"{len(extra)} unexpected chunk(s), first {extra[0]}")
        return "incomplete: " + "; ".join(what)
    from coffea.processor import accumulate

    out = accumulate(list(_outputs(loaded)))
    cutflow = out.get("cutflow") if isinstance(out, Mapping) else None
    if isinstance(cutflow, Mapping):
        for dataset, entries in job["entries"].items():
            if dataset not in cutflow:
                return f"cutflow lacks dataset {dataset!r}"
            cf = cutflow[dataset]
            read = next((cf[k] for k in READ_KEYS if isinstance(cf, Mapping) and k in cf), None)
            if isinstance(read, int) and read != entries:
                return f"cutflow of {dataset!r} read {read} events, the job's slice has {entries}"
    return None


def _outputs(loaded: Mapping[str, Any]) -> list[Any]:
    """A job's outputs in chunk order: one per chunk, or its single subtotal."""
    if "chunks" in loaded:
        return [out for _, out in loaded["chunks"]]
    return [loaded["output"]]


def _tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])[:300]


def merge(outdir: str | Path, output: str | Path | None = None) -> MergeResult:
    """Check and add every job's output (module docstring); MergeError names the bad jobs."""
    from coffea.processor import accumulate
    from coffea.util import load, save

    batch = Batch.open(outdir)
    outputs = []
    problems = []
    for job in batch.jobs:
        path = batch.job_dir(job["name"]) / OUTPUT
        loaded = load(path) if path.exists() else None
        why = job_problem(batch, job, loaded)
        if why:
            problems.append(f"{job['name']}: {why}")
        elif loaded is not None:
            outputs.extend(_outputs(loaded))
    if problems:
        raise MergeError(
            f"{batch.outdir}: {len(problems)} of {len(batch.jobs)} job(s) cannot be merged: "
            + "; ".join(problems)
        )
    merged = accumulate(outputs)
    processor = load(batch.outdir / PROCESSOR)["processor"]
    post = getattr(processor, "postprocess", None)
    if callable(post):
        result = post(merged)
        merged = merged if result is None else result
    target = Path(output) if output else batch.outdir / MERGED
    with atomic_path(target) as tmp:
        save(merged, tmp)
    summary = {
        "jobs": len(batch.jobs),
        "chunks": batch.manifest["n_chunks"],
        "datasets": batch.manifest["datasets"],
        "cluster": batch.manifest.get("cluster"),
        "output": str(target),
    }
    write_json(batch.outdir / SUMMARY, summary)
    log.info("merged %d job(s) of %s into %s", len(batch.jobs), batch.outdir, target)
    return MergeResult(merged, target, summary)
