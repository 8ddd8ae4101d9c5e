"""Step 3 of every run: add up the chunks, check every event is accounted for, write.

The chunk results (:mod:`.execute`) are read from ``OUT.incomplete/chunks``
one at a time and added in the plan's chunk order — the Iterative
executor's — so floating point sums are identical whichever executor ran
them, and memory holds one chunk's result besides the sum (lists that only
grow, e.g. example events, are cut as they are added: ``reduce``).  Then, in order:

* the files the workers checked (:class:`~.execute.ChunkRecorder`): one
  lacking a branch the task needs stops the run with the one line the plan
  would have given (:class:`MissingBranchError`), or with ``skip_bad_files``
  is listed under ``skipped`` like a file the plan left out; a dataset must be
  all simulation or all data; files per NanoAOD flavour go into the
  manifest, their substitutions into the log (one line per dataset and kind);
* chunks that could not be read (corrupt baskets) stop the run with one line,
  or with ``skip_bad_files`` are listed under ``skipped`` in the manifest;
* every dataset's cutflow must add up and match the entries planned;
* ``hists.json`` (histograms + cutflow, data-only: :mod:`.results`),
  ``cutflow.json``/``.txt``, whatever the run kind adds (``extra``), and
  finally ``manifest.json`` are written, each atomically; the chunk results
  are removed and the staging folder takes the place of ``OUT``.

HTCondor batch runs call the same :func:`finish` once their jobs are done
(``eventlens merge``), so every executor writes the same files.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eventlens import __version__
from eventlens.config.selection import TaskConfig
from eventlens.errors import EventLensError, InputFileError
from eventlens.io import atomic_path, write_json
from eventlens.objects import ObjectType
from eventlens.processors import hists
from eventlens.processors.cutflow import check_balance, empty_cutflow, format_cutflow
from eventlens.processors.flavour import RUN2, MissingBranchError
from eventlens.processors.task import Task, run_steps

from . import chunks as chunklib
from . import results
from .outdir import MANIFEST, Staging
from .plan import Plan, check_one_kind
from .table import FORMAT, TABLE_SCHEMA, TABLES_DIR

log = logging.getLogger(__name__)

HISTS = "hists.json"
CUTFLOW_JSON, CUTFLOW_TXT = "cutflow.json", "cutflow.txt"


class MissingChunksError(EventLensError):
    """Some chunks of the plan have no result (jobs missing, failed or still running)."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass
class RunOutput:
    """A finished run: where it is, its manifest, and the added-up processor output."""

    output_dir: Path
    manifest: dict[str, Any]
    hists: dict[str, Any]
    cutflow: dict[str, dict[str, Any]]
    accumulator: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # the event loop's wall time


def collect(
    staging: Staging,
    items: Sequence[Any],
    reduce: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Add the chunk results of ``items`` in order; MissingChunksError names the missing ones.

    One result is read at a time and added in place to the sum (:func:`add_into`:
    coffea's ``accumulate`` over the same list, bit for bit); ``reduce`` is
    applied to the sum after each addition (e.g. :func:`keep_first`).
    """
    paths = [staging.chunks / f"{chunklib.name_of(i)}.json.gz" for i in items]
    missing = [p.name.removesuffix(".json.gz") for p in paths if not p.exists()]
    if missing:
        raise MissingChunksError(
            f"{staging.path}: {len(missing)} of {len(items)} chunk(s) have no result, first "
            f"{missing[0]}; rerun with --resume to process them",
            missing,
        )
    total: dict[str, Any] | None = None
    for path in paths:
        out = results.read(path)  # read here, owned here: added to in place
        total = out if total is None else add_into(total, out)
        if reduce is not None:
            reduce(total)
    return total or {}


def add_into(total: Any, new: Any) -> Any:
    """``total + new`` in place, as coffea's ``accumulate`` adds (``+`` for numbers,
    histograms and lists, union for sets, key by key for dicts, keys kept in
    first-seen order), ``new`` being consumed.

    coffea's ``iadd`` copies the key set of the running sum at every addition,
    which is quadratic in the number of chunks for the per-chunk and per-file
    entries (``tables``, ``entries``): 15 s at 10,000 chunks, 150 s at 30,000
    here.  This walks only the new result's keys: linear.
    """
    if isinstance(total, dict) and isinstance(new, dict):
        for key, value in new.items():
            total[key] = add_into(total[key], value) if key in total else value
        return total
    if isinstance(total, set) and isinstance(new, set):
        total |= new
        return total
    total += new
    return total


def keep_first(key: str, n: int) -> Callable[[dict[str, Any]], None]:
    """A ``reduce`` for :func:`collect`: keep the first ``n`` items of each list in
    ``out[key]`` (a mapping of lists that every chunk extends)."""

    def cut(out: dict[str, Any]) -> None:
        for name, values in out.get(key, {}).items():
            if len(values) > n:
                out[key][name] = values[:n]

    return cut


def finish(
    staging: Staging,
    plan: Plan,
    items: Sequence[Any],
    task: Task,
    cfg: TaskConfig,
    run_info: Mapping[str, Any],
    *,
    skip_bad_files: bool,
    extra: Callable[[RunOutput, Path], None] | None = None,
    reduce: Callable[[dict[str, Any]], None] | None = None,
) -> RunOutput:
    """Check and write the run in ``staging``, then swap it into place (module docstring)."""
    out = collect(staging, items, reduce)
    skipped, lost, nanoaod = _checked_files(plan, out, skip_bad_files)
    failures = sorted(out.get("failures", set()))
    if failures and not skip_bad_files:
        first = failures[0][4]
        more = f" (and {len(failures) - 1} more chunk(s))" if len(failures) > 1 else ""
        raise InputFileError(f"{first}{more}; rerun with --skip-bad-files to leave them out")
    for ds, path, start, stop, reason in failures:
        log.warning("skipped %s entries %d-%d: %s", path, start, stop, reason)
        skipped.append(
            {
                "dataset": ds,
                "file": path,
                "entry_start": start,
                "entry_stop": stop,
                "reason": reason,
            }
        )
        lost[ds] = lost.get(ds, 0) + stop - start

    cutflow = {
        ds: out.get("cutflow", {}).get(ds, empty_cutflow(run_steps(task, cfg)))
        for ds in plan.datasets
    }
    entries = out.get("entries", {})
    datasets = {name: ds.report(nanoaod[name]) for name, ds in plan.datasets.items()}
    for ds, cf in cutflow.items():
        check_balance(cf)
        processed = sum(entries.get(ds, {}).values())
        expected = plan.expected_entries(ds)
        if processed != cf["read"] or processed + lost.get(ds, 0) != expected:
            raise RuntimeError(
                f"dataset {ds}: entries processed {processed} + failed {lost.get(ds, 0)} do not "
                f"match the files ({expected}) or the cutflow ({cf['read']})"
            )
        datasets[ds]["entries"] = processed
    booked = out.get("hists") or hists.book(cfg)
    notes = sorted(set(plan.notes) | set(out.get("notes", set())))
    for note in notes:
        log.info("note: %s", note)

    folder = staging.path
    results.write(
        folder / HISTS,
        {
            "task": task.name,
            "classes": list(cfg.classes),
            "config_sha256": cfg.digest(),
            "hists": booked,
            "cutflow": cutflow,
        },
    )
    write_json(folder / CUTFLOW_JSON, cutflow)
    text = format_cutflow(cutflow)
    with atomic_path(folder / CUTFLOW_TXT) as tmp:
        tmp.write_text(text + "\n")
    log.info("cutflow (%s):\n%s", task.name, text)
    files = table_files(out.get("tables", {}), list(plan.datasets))
    manifest = build_manifest(task, cfg, files, datasets, cutflow, skipped, notes, run_info)
    result = RunOutput(staging.final, manifest, booked, cutflow, out, run_info.get("seconds", 0.0))
    if extra is not None:
        extra(result, folder)
    write_json(folder / MANIFEST, manifest)
    shutil.rmtree(staging.chunks, ignore_errors=True)
    staging.commit()
    return result


def _checked_files(
    plan: Plan, out: Mapping[str, Any], skip_bad_files: bool
) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, dict[str, int]]]:
    """Act on what the plan and the workers learnt about each file (module docstring).

    Returns the manifest's ``skipped`` list so far (the plan's, then files
    lacking a branch), the entries lost per dataset, and files per NanoAOD
    flavour per dataset.
    """
    facts: dict[tuple[str, str], dict[str, Any]] = {}
    for ds in plan.datasets.values():
        for f in ds.files:
            if f.facts is not None:
                facts[(ds.name, f.path)] = f.facts
    for ds, path, simulation, flavour, summary in out.get("files", set()):
        facts[(ds, path)] = {"simulation": simulation, "flavour": flavour, "summary": summary}
    bad = {(ds, path): reason for ds, path, reason in out.get("bad_files", set())}
    skipped = list(plan.skipped)
    lost: dict[str, int] = {}
    nanoaod: dict[str, dict[str, int]] = {}
    for ds in plan.datasets.values():
        flavours: dict[str, int] = {}
        summaries: dict[str, int] = {}
        checked = []
        for f in ds.files:
            reason = bad.get((ds.name, f.path))
            if reason is not None:
                if not skip_bad_files:
                    raise MissingBranchError(reason)
                log.warning("skipping %s", reason)
                skipped.append({"dataset": ds.name, "file": f.path, "reason": reason})
                lost[ds.name] = lost.get(ds.name, 0) + f.entries
                continue
            fact = facts.get((ds.name, f.path))
            if fact is None:
                continue  # every chunk of it failed to read: reported below
            checked.append((f.path, fact))
            flavours[fact["flavour"]] = flavours.get(fact["flavour"], 0) + 1
            if fact["summary"] != f"NanoAOD {RUN2}":
                summaries[fact["summary"]] = summaries.get(fact["summary"], 0) + 1
        check_one_kind(ds.name, checked)  # the plan's files are among them
        for summary, n in summaries.items():
            log.info("dataset %s: %d file(s): %s", ds.name, n, summary)
        nanoaod[ds.name] = flavours
    return skipped, lost, nanoaod


def table_files(
    tables: Mapping[str, Mapping[str, Mapping[str, Any]]], order: list[str]
) -> list[dict[str, Any]]:
    """The manifest's file list: dataset order, then input file, then entry range."""
    rows = []
    for ds in order:
        for name, info in tables.get(ds, {}).items():
            rows.append({"path": f"{TABLES_DIR}/{name}", "dataset": ds, **info})
    return sorted(rows, key=lambda r: (order.index(r["dataset"]), r["source"], r["entry_start"]))


def build_manifest(
    task: Task,
    cfg: TaskConfig,
    files: list[dict[str, Any]],
    datasets: dict[str, dict[str, Any]],
    cutflow: dict[str, Any],
    skipped: list[dict[str, Any]],
    notes: list[str],
    run_info: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest (keys documented in :mod:`.table`)."""
    import coffea

    return {
        "format": FORMAT,
        "task": task.name,
        "classes": list(cfg.classes),
        "mass_definition": task.mass_definition,
        "columns": {f.name: str(f.type) for f in TABLE_SCHEMA},
        "object_types": {t.name: int(t) for t in ObjectType},
        "selection_config": cfg.to_dict(),
        "selection_config_path": cfg.source,
        "selection_config_sha256": cfg.digest(),
        "luminosity_pb": cfg.luminosity_pb,
        "files": files,
        "rows": sum(f["rows"] for f in files),
        "datasets": datasets,
        "cutflow": cutflow,
        "skipped": skipped,
        "notes": notes,
        **{k: run_info[k] for k in ("executor", "workers", "chunksize")},
        "eventlens_version": __version__,
        "coffea_version": coffea.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def read_hists(directory: str | Path) -> dict[str, Any]:
    """The ``hists.json`` of a finished run (data-only; never unpickled)."""
    return results.read(Path(directory) / HISTS)
