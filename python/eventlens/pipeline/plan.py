"""Step 1 of every run: the checked inputs (:class:`Plan`) and their chunks.

:func:`plan_inputs` turns a loaded fileset into what coffea will run:

* every file is inspected (entries, branches, MET fallback, ``Runs`` Σ genWeight);
  a broken one stops the run with one line naming it, or with
  ``skip_bad_files`` is left out and reported;
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
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from eventlens.config.selection import TaskConfig
from eventlens.errors import ConfigError, InputFileError
from eventlens.processors.flavour import FLAVOUR_KEY, RUN2
from eventlens.processors.inputs import MissingBranchError, Needs
from eventlens.processors.labels import NO_LABEL, dataset_class
from eventlens.processors.weights import GENWEIGHT_ONLY, weight_mode

from . import chunks as chunklib
from .fileset import Dataset, check_file

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
    flavour: str = ""  # NanoAOD flavour (processors.flavour), handed to the workers


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
    nanoaod: dict[str, int] = field(default_factory=dict)  # flavour -> files

    def report(self) -> dict[str, Any]:
        """The dataset's entry in the manifest."""
        return {
            "class": self.label,
            "weight_mode": self.weight_mode,
            "xsec": self.metadata.get("xsec"),
            "sumw": self.metadata.get("sumw"),
            "sumw_source": self.sumw_source,
            "simulation": self.simulation,
            "files": len(self.files),
            "metadata": self.given_metadata,
            "nanoaod": self.nanoaod,
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
                        FLAVOUR_KEY: f.flavour,
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
    """Inspect the files, fill sumw, resolve classes (module docstring).

    The files are inspected by :func:`.fileset.check_file` on ``executor``
    (a coffea executor; default: in this process), so the driver does no
    per-file work of its own: with futures or Dask workers a fileset of
    thousands of files is opened in parallel, each file once.  Problems are
    then raised (or skipped) in fileset order, whatever order the workers
    finished in.
    """
    items = []
    for ds in datasets.values():
        reserved = _RESERVED & set(ds.metadata)
        if reserved:
            raise ConfigError(
                f"dataset {ds.name!r}: metadata key(s) {sorted(reserved)} are reserved by coffea"
            )
        want_sumw = ds.metadata.get("xsec") is not None and not ds.metadata.get("sumw")
        items += [(path, tree, want_sumw) for path, tree in ds.files.items()]
    facts = check_files(items, needs, timeout, executor)
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
            notes |= set(fact["notes"])
            if fact["notes"] or fact["flavour"] != RUN2:
                log.info("%s: %s", path, fact["summary"])
            good.append((path, fact))
        simulation = {fact["simulation"] for _, fact in good}
        if len(simulation) > 1:
            sim = next(p for p, f in good if f["simulation"])
            data = next(p for p, f in good if not f["simulation"])
            raise ConfigError(
                f"dataset {ds.name!r} mixes simulation ({sim}, has genWeight) and data ({data}, "
                "no genWeight); put them in separate datasets"
            )
        is_sim = simulation == {True}
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
        flavours: dict[str, int] = {}
        for _, fact in good:
            flavours[fact["flavour"]] = flavours.get(fact["flavour"], 0) + 1
        plan.datasets[ds.name] = DatasetPlan(
            name=ds.name,
            metadata=meta,
            files=[
                FilePlan(p, f["treename"], f["entries"], f["uuid"], f["flavour"]) for p, f in good
            ],
            simulation=is_sim,
            label=_dataset_class(ds, meta, cfg, is_sim, notes),
            weight_mode=mode,
            sumw_source=sumw_source,
            given_metadata=dict(ds.metadata),
            nanoaod=flavours,
        )
    plan.notes = sorted(notes)
    return plan


def check_files(
    items: list[tuple[str, str, bool]], needs: Needs, timeout: int, executor: Any = None
) -> dict[str, dict[str, Any]]:
    """:func:`.fileset.check_file` of every ``(path, tree, want_sumw)``, run on ``executor``."""
    from functools import partial

    from coffea.processor import DaskExecutor, IterativeExecutor

    unique = list({path: (path, tree, want) for path, tree, want in items}.values())
    if not unique:
        return {}
    if executor is None:
        executor = IterativeExecutor(status=False)
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
    out, _ = run(unique, partial(check_file, needs=needs, timeout=timeout), {})
    return out


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
        if fact["entries"] == 0:
            continue  # nothing to normalise, nothing to read
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
