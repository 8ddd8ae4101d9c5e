"""``eventlens select``: run a task's processor over a fileset and write its outputs.

The driver, in order:

1. load the task config (:mod:`.tasks`) and the fileset (:mod:`.fileset`);
2. pre-check every file (entries, branches, MET fallback, Runs Σ genWeight) --
   a broken file stops the run here with one line naming it, or is skipped and
   reported with ``skip_bad_files``;
3. fill each simulated dataset's ``sumw`` when the metadata lacks it, and
   resolve its class (an unlabelled simulated dataset is a config error);
4. run :class:`~.base.TaskProcessor` with coffea's ``Runner`` and the chosen
   executor (the pre-check's entries and UUIDs seed coffea's metadata cache,
   so files are not opened a second time for chunking);
5. check that every event is accounted for, then write ``results.coffea``
   (histograms + cutflow, ``coffea.util.save``), ``cutflow.json``/``.txt``
   and finally ``manifest.json``, all atomically (:mod:`.output`).  The
   table chunks were written by the workers as they ran (layout: :mod:`.table`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventlens.config.selection import TaskConfig
from eventlens.errors import ConfigError, InputFileError

from . import hists
from .cutflow import check_balance, empty_cutflow
from .fileset import (
    Dataset,
    FileInfo,
    check_branches,
    events_sumw,
    inspect_file,
    is_remote,
    load_fileset,
)
from .inputs import Needs, needs_of
from .labels import NO_LABEL, dataset_class
from .output import OUTPUT_FILES, write_outputs
from .registry import get_task, load_config
from .table import TABLES_DIR
from .task import Task
from .weights import GENWEIGHT_ONLY, weight_mode

log = logging.getLogger(__name__)

_RESERVED = {
    "dataset",
    "filename",
    "treename",
    "metadata",
    "entrystart",
    "entrystop",
    "fileuuid",
    "numentries",
    "uuid",
    "clusters",
    "preload",
}


@dataclass
class Plan:
    """The checked inputs: what coffea will run and what the manifest reports."""

    fileset: dict[str, Any] = field(default_factory=dict)
    metadata_cache: dict[Any, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    expected_entries: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)


@dataclass
class SelectionOutput:
    output_dir: Path
    manifest: dict[str, Any]
    hists: dict[str, Any]
    cutflow: dict[str, dict[str, Any]]
    accumulator: dict[str, Any] = field(default_factory=dict)  # the processor's merged output
    seconds: float = 0.0  # the event loop's wall time


def run_selection(
    task: str,
    fileset: str | Path | Mapping[str, Any],
    output_dir: str | Path,
    *,
    config: str | Path | None = None,
    executor: str | Any = "iterative",
    workers: int = 2,
    chunksize: int = 100_000,
    skip_bad_files: bool = False,
    luminosity_pb: float | None = None,
    overwrite: bool = False,
    status: bool = True,
    timeout: int = 30,
    processor: Callable[[Task, TaskConfig, Path], Any] | None = None,
) -> SelectionOutput:
    """Select ``task`` events from ``fileset`` into ``output_dir`` (see module docstring).

    ``processor(task, config, output_dir)`` builds the coffea processor to run
    instead of the table-writing :class:`~.base.TaskProcessor` (``eventlens
    infer`` passes its :class:`~.infer_processor.InferenceProcessor`); its merged
    output is returned as ``accumulator``.

    ``executor`` is a name (``iterative``, ``futures``, ``dask``: created here
    with ``workers`` processes and closed afterwards) or a ready coffea
    executor, e.g. ``FuturesExecutor(pool=pool)`` or ``DaskExecutor(client=c)``
    to reuse warm workers across several runs.
    """
    spec = get_task(task)
    cfg = load_config(task, config, luminosity_pb)
    if chunksize < 1:
        raise ConfigError(f"--chunksize must be >= 1, got {chunksize}")
    needs = needs_of(cfg)
    datasets = load_fileset(fileset)
    _prepare_output(Path(output_dir), overwrite, clear=False)  # fail before the slow pre-check
    t0 = time.perf_counter()
    plan = plan_inputs(datasets, cfg, needs, skip_bad_files, timeout)
    log.info(
        "pre-check: %d file(s) in %d dataset(s), %.1f s",
        sum(len(d.files) for d in datasets.values()),
        len(datasets),
        time.perf_counter() - t0,
    )
    out_dir = _prepare_output(Path(output_dir), overwrite)
    t1 = time.perf_counter()
    proc = processor(spec, cfg, out_dir) if processor is not None else None
    out = _execute(
        plan, spec, cfg, needs, out_dir, executor, workers, chunksize, status, timeout, proc
    )
    elapsed = time.perf_counter() - t1
    result = _finish(
        out,
        plan,
        spec,
        cfg,
        out_dir,
        skip_bad_files,
        {
            "executor": executor if isinstance(executor, str) else type(executor).__name__,
            "workers": workers,
            "chunksize": chunksize,
            "seconds": elapsed,
        },
    )
    result.accumulator, result.seconds = out, elapsed
    return result


def plan_inputs(
    datasets: dict[str, Dataset], cfg: TaskConfig, needs: Needs, skip_bad_files: bool, timeout: int
) -> Plan:
    """Pre-check files, fill sumw, resolve classes; build coffea's fileset and cache."""
    from coffea.processor.executor import FileMeta

    plan = Plan()
    for ds in datasets.values():
        reserved = _RESERVED & set(ds.metadata)
        if reserved:
            raise ConfigError(
                f"dataset {ds.name!r}: metadata key(s) {sorted(reserved)} are reserved by coffea"
            )
        good = _check_files(ds, needs, skip_bad_files, timeout, plan)
        is_sim = any(info.is_simulation for info in good)
        meta = dict(ds.metadata)
        sumw_source = _fill_sumw(ds, meta, good, is_sim, plan)
        mode = weight_mode(is_sim, meta)
        if mode == GENWEIGHT_ONLY:
            plan.notes.add(
                f"dataset {ds.name}: no xsec in the metadata, weights are the bare genWeight"
            )
        index = _dataset_class(ds, meta, cfg, is_sim)
        plan.datasets[ds.name] = {
            "class": index,
            "weight_mode": mode,
            "xsec": meta.get("xsec"),
            "sumw": meta.get("sumw"),
            "sumw_source": sumw_source,
            "simulation": is_sim,
            "files": len(good),
            "metadata": ds.metadata,
        }
        plan.expected_entries[ds.name] = {info.path: info.entries for info in good}
        files = {info.path: info.treename for info in good if info.entries > 0}
        if files:
            # No coffea "preload" (bulk read, ~10 % faster): it reads in coffea's
            # own code, where a corrupt basket could not be reported per chunk.
            plan.fileset[ds.name] = {"files": files, "metadata": meta}
        for info in good:
            if info.entries > 0:
                key = FileMeta(ds.name, info.path, info.treename)
                plan.metadata_cache[key] = {**meta, "numentries": info.entries, "uuid": info.uuid}
    return plan


def _check_files(ds: Dataset, needs: Needs, skip: bool, timeout: int, plan: Plan) -> list[FileInfo]:
    good = []
    for path, tree in ds.files.items():
        try:
            info = inspect_file(path, tree, timeout)
            plan.notes |= check_branches(info, needs)
        except InputFileError as exc:
            if not skip:
                raise
            log.warning("skipping %s", exc)
            plan.skipped.append({"dataset": ds.name, "file": path, "reason": str(exc)})
            continue
        good.append(info)
    return good


def _fill_sumw(
    ds: Dataset, meta: dict[str, Any], good: list[FileInfo], is_sim: bool, plan: Plan
) -> str | None:
    """Set ``meta["sumw"]`` from the files when simulation has xsec but no sumw."""
    if not is_sim or meta.get("xsec") is None:
        return None
    if meta.get("sumw"):
        if any(s["dataset"] == ds.name for s in plan.skipped):
            plan.notes.add(f"dataset {ds.name}: sumw from the metadata includes skipped files")
        return "metadata"
    total, sources = 0.0, set()
    for info in good:
        if info.entries == 0:
            continue  # nothing to normalise, nothing to read
        if info.runs_sumw is not None:
            total += info.runs_sumw
            sources.add("Runs.genEventSumw")
        else:
            total += events_sumw(info)
            sources.add("Events.genWeight")
    if "Events.genWeight" in sources:
        log.warning(
            "dataset %s: no Runs tree sum of weights in some files; using the sum of "
            "genWeight over Events (correct only for unskimmed files)",
            ds.name,
        )
    if not total > 0:
        raise ConfigError(
            f"dataset {ds.name!r}: sum of generator weights is {total}, cannot normalise"
        )
    meta["sumw"] = total
    return "+".join(sorted(sources))


def _dataset_class(ds: Dataset, meta: dict[str, Any], cfg: TaskConfig, is_sim: bool) -> int | None:
    if cfg.labels.source != "metadata":
        return None
    index = dataset_class(ds.name, meta, cfg)
    if index is None and is_sim:
        raise ConfigError(
            f"dataset {ds.name!r} (process {meta.get('process')!r}, label {meta.get('label')!r}) "
            f"is not a class of task {cfg.task} {list(cfg.classes)}; "
            f"map it under labels.processes in {cfg.source}"
        )
    return NO_LABEL if index is None else index


def _prepare_output(out_dir: Path, overwrite: bool, clear: bool = True) -> Path:
    """Create ``out_dir``; refuse (or with ``overwrite`` clear) an earlier run's output."""
    tables = out_dir / TABLES_DIR
    old = [out_dir / name for name in OUTPUT_FILES]
    old_tables = sorted(tables.glob("*.parquet")) if tables.is_dir() else []
    if any(p.exists() for p in old) or old_tables:
        if not overwrite:
            raise FileExistsError(
                f"{out_dir} already holds selection output; pass --overwrite to replace it"
            )
        if not clear:
            return out_dir
        for p in [*old, *old_tables]:  # the manifest first: no run is ever half-described
            p.unlink(missing_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    return out_dir


def _execute(
    plan: Plan,
    spec: Task,
    cfg: TaskConfig,
    needs: Needs,
    out_dir: Path,
    executor: str | Any,
    workers: int,
    chunksize: int,
    status: bool,
    timeout: int,
    proc: Any = None,
) -> dict[str, Any]:
    """Run ``proc`` (default: the task's :class:`~.base.TaskProcessor` writing tables
    to ``out_dir``) over the checked fileset with coffea's Runner."""
    from coffea import processor
    from coffea.nanoevents import NanoAODSchema

    from .base import TaskProcessor
    from .executors import make_executor

    if not plan.fileset:
        log.warning("no events to process (all files empty or skipped)")
        return {}
    ready = contextlib.nullcontext(executor) if not isinstance(executor, str) else None
    with ready or make_executor(executor, workers, status) as ex:
        runner = processor.Runner(
            executor=ex,
            schema=NanoAODSchema,
            chunksize=chunksize,
            metadata_cache=plan.metadata_cache,
            xrootdtimeout=timeout,
        )
        return runner(
            plan.fileset,
            proc if proc is not None else TaskProcessor(spec, cfg, out_dir),
            treename="Events",
            uproot_options=_uproot_options(plan),
            iteritems_options={"filter_name": needs.filter_names()},
        )


def _uproot_options(plan: Plan) -> dict[str, Any]:
    """Memory-map local files instead of reading them through fsspec's event loop.

    NanoEvents reads branch by branch, and every fsspec request is a thread
    hand-off: memory-mapping saves ~20 % of the reading CPU.  Remote files
    keep uproot's default (fsspec, XRootD).
    """
    import uproot

    paths = [p for ds in plan.fileset.values() for p in ds["files"]]
    if any(is_remote(p) for p in paths):
        return {}
    return {"handler": uproot.source.file.MemmapSource}


def _finish(
    out: dict[str, Any],
    plan: Plan,
    spec: Task,
    cfg: TaskConfig,
    out_dir: Path,
    skip_bad_files: bool,
    run_info: dict[str, Any],
) -> SelectionOutput:
    failures = sorted(out.get("failures", set()))
    if failures and not skip_bad_files:
        first = failures[0][4]
        more = f" (and {len(failures) - 1} more chunk(s))" if len(failures) > 1 else ""
        raise InputFileError(f"{first}{more}; rerun with --skip-bad-files to leave them out")
    skipped = list(plan.skipped)
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

    cutflow = {
        ds: out.get("cutflow", {}).get(ds, empty_cutflow(spec.all_steps)) for ds in plan.datasets
    }
    entries = out.get("entries", {})
    for ds, cf in cutflow.items():
        check_balance(cf)
        processed = sum(entries.get(ds, {}).values())
        lost = sum(stop - start for d, _, start, stop, _ in failures if d == ds)
        if processed != cf["read"] or processed + lost != sum(plan.expected_entries[ds].values()):
            raise RuntimeError(
                f"dataset {ds}: entries processed {processed} + failed {lost} do not match "
                f"the files ({plan.expected_entries[ds]}) or the cutflow ({cf['read']})"
            )
        plan.datasets[ds]["entries"] = processed
    booked = out.get("hists") or hists.book(cfg)
    notes = sorted(plan.notes | out.get("notes", set()))
    for note in notes:
        log.info("note: %s", note)

    manifest = write_outputs(
        out_dir,
        spec,
        cfg,
        booked,
        cutflow,
        out.get("tables", {}),
        plan.datasets,
        skipped,
        notes,
        run_info,
    )
    return SelectionOutput(out_dir, manifest, booked, cutflow)
