"""Step 1 of every run: the checked inputs (:class:`Plan`) and their chunks.

:func:`plan_inputs` turns a loaded fileset into what coffea will run:

* every file is checked (:func:`check_files`: in this process for local
  files, on threads for remote ones, on the workers of a Dask cluster): it must open
  (a broken one stops the run with one line naming it, or with
  ``skip_bad_files`` is left out and reported), and its entry count, UUID
  and, when needed, ``Runs`` Σ genWeight are read — from the tree's header,
  not its ~650-2700 branch descriptions (:mod:`.fileset`).  The first file of
  each dataset (and any file the plan needs more from: empty ones, the Events
  Σ genWeight fallback) is checked in full: branches, NanoAOD flavour,
  simulation or data, so a task/dataset mismatch stops the run before any
  chunk.  Every other file's branch check runs in the worker that reads it
  (:class:`~.execute.ChunkRecorder`) and the finish step acts on it;
* each simulated dataset without ``sumw`` gets it from its files;
* each dataset's class is resolved (a simulated process outside the task's
  classes is kept with class -1, "other": a full analysis fileset runs in one go);
* the chunks (coffea ``WorkItem``\\ s) are cut from the entries already read,
  so no file is opened again to plan them.

A plan is plain data (:meth:`Plan.to_json`): it is stored in the run's
staging folder, where a resumed run and the merge of HTCondor batch jobs find
it, and it never has to be re-derived from the files.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from eventlens.config.selection import TaskConfig
from eventlens.errors import ConfigError, InputFileError
from eventlens.processors.flavour import FLAVOUR_KEY
from eventlens.processors.inputs import MissingBranchError, Needs
from eventlens.processors.labels import NO_LABEL, dataset_class
from eventlens.processors.weights import GENWEIGHT_ONLY, weight_mode

from . import chunks as chunklib
from .execute import progress_bars
from .fileset import Dataset, check_file, is_remote

log = logging.getLogger(__name__)

#: Metadata keys coffea sets itself on every chunk.
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
    FLAVOUR_KEY,
}


@dataclass
class FilePlan:
    """One input file as the plan knows it."""

    path: str
    treename: str
    entries: int
    uuid: str  # hex
    #: :func:`.fileset.file_facts` when the plan read the branches (else the workers do)
    facts: dict[str, Any] | None = None


@dataclass
class DatasetPlan:
    """One dataset: its files, metadata (``sumw`` filled in) and what the manifest reports."""

    name: str
    metadata: dict[str, Any]
    files: list[FilePlan]
    simulation: bool
    label: int | None  # class index, -1 for data/other, None when labels come per event
    weight_mode: str
    sumw_source: str | None
    given_metadata: dict[str, Any]

    def report(self, nanoaod: Mapping[str, int]) -> dict[str, Any]:
        """The dataset's entry in the manifest; ``nanoaod``: files per NanoAOD flavour."""
        return {
            "class": self.label,
            "weight_mode": self.weight_mode,
            "xsec": self.metadata.get("xsec"),
            "sumw": self.metadata.get("sumw"),
            "sumw_source": self.sumw_source,
            "simulation": self.simulation,
            "files": len(self.files),
            "metadata": self.given_metadata,
            "nanoaod": dict(nanoaod),
        }


@dataclass
class Plan:
    """The checked inputs of a run."""

    datasets: dict[str, DatasetPlan] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def expected_entries(self, dataset: str) -> int:
        return sum(f.entries for f in self.datasets[dataset].files)

    def work_items(self, chunksize: int) -> list[Any]:
        """coffea's chunks of every non-empty file, in the Iterative executor's order."""
        fileset, cache = {}, {}
        from coffea.processor.executor import FileMeta

        for ds in self.datasets.values():
            files = {f.path: f.treename for f in ds.files if f.entries > 0}
            if not files:
                continue
            fileset[ds.name] = {"files": files, "metadata": ds.metadata}
            for f in ds.files:
                if f.entries > 0:
                    cache[FileMeta(ds.name, f.path, f.treename)] = {
                        **ds.metadata,
                        "numentries": f.entries,
                        "uuid": bytes.fromhex(f.uuid),
                    }
        if not fileset:
            return []
        return chunklib.work_items(fileset, chunksize, metadata_cache=cache)

    def to_json(self) -> dict[str, Any]:
        """Plain data; datasets as a list, since their order is the chunks' order."""
        return {
            "datasets": [asdict(d) for d in self.datasets.values()],
            "skipped": self.skipped,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        datasets = {
            d["name"]: DatasetPlan(**{**d, "files": [FilePlan(**f) for f in d["files"]]})
            for d in data["datasets"]
        }
        return cls(datasets, list(data["skipped"]), list(data["notes"]))


def plan_inputs(
    datasets: Mapping[str, Dataset],
    cfg: TaskConfig,
    needs: Needs,
    skip_bad_files: bool,
    timeout: int,
    executor: Any = None,
) -> Plan:
    """Check the files, fill sumw, resolve classes (module docstring).

    The files are checked by :func:`.fileset.check_file` on ``executor``
    (a coffea executor; default: in this process), so the driver does no
    per-file work of its own.  Problems are then raised (or skipped) in
    fileset order, whatever order the workers finished in.
    """
    wanted: dict[str, tuple[str, str, bool, bool]] = {}
    for ds in datasets.values():
        reserved = _RESERVED & set(ds.metadata)
        if reserved:
            raise ConfigError(
                f"dataset {ds.name!r}: metadata key(s) {sorted(reserved)} are reserved by coffea"
            )
        want_sumw = ds.metadata.get("xsec") is not None and not ds.metadata.get("sumw")
        for i, (path, tree) in enumerate(ds.files.items()):
            _, _, want, full = wanted.get(path, (path, tree, False, False))
            wanted[path] = (path, tree, want or want_sumw, full or i == 0)
    facts = check_files(list(wanted.values()), needs, timeout, executor)
    _check_one_file_in_full(datasets, wanted, facts, needs, timeout, executor)
    plan = Plan()
    notes: set[str] = set()
    for ds in datasets.values():
        good = []
        for path in ds.files:
            fact = facts[path]
            if "error" in fact:
                if not skip_bad_files:
                    error = MissingBranchError if fact["missing_branch"] else InputFileError
                    raise error(fact["error"])
                log.warning("skipping %s", fact["error"])
                plan.skipped.append({"dataset": ds.name, "file": path, "reason": fact["error"]})
                continue
            notes |= set(fact.get("notes", ()))
            good.append((path, fact))
        known = [(p, f) for p, f in good if "simulation" in f]
        check_one_kind(ds.name, known)
        is_sim = any(f["simulation"] for _, f in known)
        meta = dict(ds.metadata)
        if not is_sim and good and meta.get("xsec") is not None:
            raise ConfigError(
                f"dataset {ds.name!r}: metadata gives xsec = {meta['xsec']}, but its files have "
                "no genWeight (data); remove xsec, or check that these are the simulated files"
            )
        sumw_source = _fill_sumw(ds, meta, good, is_sim, plan, notes)
        mode = weight_mode(is_sim, meta)
        if mode == GENWEIGHT_ONLY:
            notes.add(f"dataset {ds.name}: no xsec in the metadata, weights are the bare genWeight")
        plan.datasets[ds.name] = DatasetPlan(
            name=ds.name,
            metadata=meta,
            files=[
                FilePlan(
                    p,
                    f["treename"],
                    f["entries"],
                    f["uuid"],
                    {k: f[k] for k in FACT_KEYS} if "simulation" in f else None,
                )
                for p, f in good
            ],
            simulation=is_sim,
            label=_dataset_class(ds, meta, cfg, is_sim, notes),
            weight_mode=mode,
            sumw_source=sumw_source,
            given_metadata=dict(ds.metadata),
        )
    plan.notes = sorted(notes)
    return plan


#: Remote files checked at once when the run has no parallel executor (iterative, batch).
REMOTE_THREADS = 16

#: What :func:`.fileset.file_facts` says about a file, as the plan stores it.
FACT_KEYS = ("simulation", "flavour", "summary")


def check_one_kind(dataset: str, files: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """A dataset is all simulation or all data: ConfigError naming one file of each kind.

    ``files``: ``(path, facts)`` of the files whose branches were read, in
    fileset order (the plan's, and at the finish step every file's).
    """
    kinds = {f["simulation"] for _, f in files}
    if len(kinds) > 1:
        sim = next(p for p, f in files if f["simulation"])
        data = next(p for p, f in files if not f["simulation"])
        raise ConfigError(
            f"dataset {dataset!r} mixes simulation ({sim}, has genWeight) and data ({data}, "
            "no genWeight); put them in separate datasets"
        )


def _check_one_file_in_full(
    datasets: Mapping[str, Dataset],
    wanted: dict[str, tuple[str, str, bool, bool]],
    facts: dict[str, dict[str, Any]],
    needs: Needs,
    timeout: int,
    executor: Any,
) -> None:
    """Every dataset gets one good file checked in full (its first one unless that one is
    broken): simulation or data, the weights' mode and a task/dataset mismatch are then
    known before any chunk runs."""
    while True:
        todo = []
        for ds in datasets.values():
            good = [p for p in ds.files if "error" not in facts[p]]
            if good and not any("simulation" in facts[p] for p in good):
                path, tree, want, _ = wanted[good[0]]
                todo.append((path, tree, want, True))
        if not todo:
            return
        facts.update(check_files(todo, needs, timeout, executor))


def check_files(
    items: list[tuple[str, str, bool, bool]], needs: Needs, timeout: int, executor: Any = None
) -> dict[str, dict[str, Any]]:
    """:func:`.fileset.check_file` of every ``(path, tree, want_sumw, full)``.

    Where depends on what a check costs and who can read the files:

    * local processes (no executor, iterative, futures): in this process — a
      local file's check is a header read of ~1 ms, less than starting a
      process pool; remote files on ``REMOTE_THREADS`` threads, since opening
      them is waiting for the server, not computing.  Files that turn out to
      need Σ genWeight summed over Events (no ``Runs`` sum: a full parse and a
      branch read each) are then checked again on ``executor``, in parallel;
    * a Dask cluster (local, remote, HTCondor workers) or any other ready
      executor: on its workers, which read the files the chunks will read
      (and may see storage the driver does not).
    """
    from coffea.processor import FuturesExecutor, IterativeExecutor

    unique = list({item[0]: item for item in items}.values())
    if not unique:
        return {}
    status = getattr(executor, "status", False)
    if executor is not None and not isinstance(executor, (IterativeExecutor, FuturesExecutor)):
        return _run_checks(executor, unique, needs, timeout, fallback=True)
    if any(is_remote(item[0]) for item in unique):
        from concurrent.futures import ThreadPoolExecutor
        from functools import partial

        check = partial(check_file, needs=needs, timeout=timeout, fallback=False)
        with ThreadPoolExecutor(max_workers=min(REMOTE_THREADS, len(unique))) as pool:
            facts = {path: f for out in pool.map(check, unique) for path, f in out}
    else:
        here = IterativeExecutor(status=status)
        facts = _run_checks(here, unique, needs, timeout, fallback=False)
    again = [item for item in unique if facts[item[0]].get("needs_events_sumw")]
    if again:
        where = executor if executor is not None else IterativeExecutor(status=status)
        facts.update(_run_checks(where, again, needs, timeout, fallback=True))
    return facts


def _run_checks(
    executor: Any,
    items: list[tuple[str, str, bool, bool]],
    needs: Needs,
    timeout: int,
    fallback: bool,
) -> dict[str, dict[str, Any]]:
    """:func:`.fileset.check_file` of ``items`` through a coffea executor."""
    from functools import partial

    from coffea.processor import DaskExecutor

    options: dict[str, Any] = {
        "desc": "Checking files",
        "unit": "file",
        "compression": None,
        "function_name": "check_file",
    }
    if isinstance(executor, DaskExecutor):
        executor.heavy_input = None
        options["worker_affinity"] = False
    run = executor.copy(**options)
    check = partial(check_file, needs=needs, timeout=timeout, fallback=fallback)
    with progress_bars(getattr(executor, "status", False)):
        out, _ = run(items, check, [])
    return dict(out)


def _fill_sumw(
    ds: Dataset,
    meta: dict[str, Any],
    good: list[tuple[str, dict[str, Any]]],
    is_sim: bool,
    plan: Plan,
    notes: set[str],
) -> str | None:
    """Set ``meta["sumw"]`` from the files when simulation has xsec but no sumw."""
    if not is_sim or meta.get("xsec") is None:
        return None
    if meta.get("sumw"):
        if any(s["dataset"] == ds.name for s in plan.skipped):
            notes.add(f"dataset {ds.name}: sumw from the metadata includes skipped files")
        return "metadata"
    total, sources = 0.0, set()
    for _, fact in good:
        if fact["entries"] == 0 or fact.get("simulation") is False:
            continue  # nothing to normalise, nothing to read; data (the finish step refuses it)
        if fact["runs_sumw"] is not None:
            total += fact["runs_sumw"]
            sources.add("Runs.genEventSumw")
        else:
            total += fact["events_sumw"]
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


def _dataset_class(
    ds: Dataset, meta: dict[str, Any], cfg: TaskConfig, is_sim: bool, notes: set[str]
) -> int | None:
    """The dataset's class index; -1 for data and for simulation outside the task's classes."""
    if cfg.labels.source != "metadata":
        return None
    index = dataset_class(ds.name, meta, cfg)
    if index is None and is_sim:
        notes.add(
            f"dataset {ds.name}: process {meta.get('process', ds.name)!r} is not a class of "
            f"task {cfg.task} {list(cfg.classes)}: kept as 'other' (label {NO_LABEL})"
        )
    return NO_LABEL if index is None else index
