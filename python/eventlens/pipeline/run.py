"""The one pipeline behind ``eventlens select`` and ``eventlens infer``: plan → execute → finish.

:func:`run` is the only driver.  In order:

1. **plan** (:mod:`.plan`): load the fileset, check every file (on the run's
   executor, in parallel), fill Σ genWeight, resolve classes; stored with the
   :class:`~.spec.RunSpec` in ``OUT.incomplete/run.json`` (:mod:`.outdir`);
2. **execute** (:mod:`.execute`): the chunks not done yet through the processor
   on the chosen executor — iterative, futures, dask (local or ``scheduler``),
   condor (Dask workers as HTCondor jobs) or batch (HTCondor jobs; without
   ``wait`` the run stops here and ``eventlens merge OUT`` finishes it); the
   driver logs files done / total, events/s and ETA meanwhile (:mod:`.progress`);
3. **finish** (:mod:`.finish`): add up the chunks in plan order, check the
   cutflow, write the outputs, swap ``OUT.incomplete`` into ``OUT``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlens.errors import ConfigError, EventLensError
from eventlens.processors.registry import get_task

from . import chunks as chunklib
from . import progress, results
from .execute import make_executor, run_chunks
from .fileset import Dataset, is_remote, load_fileset
from .finish import RunOutput, finish, keep_first
from .outdir import Staging
from .plan import Plan, plan_inputs
from .spec import INFER, SCORES_DIR, RunSpec
from .table import TABLES_DIR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How to run (never what: that is the :class:`RunSpec`)."""

    executor: str | Any = "iterative"
    workers: int = 2  # processes (futures, dask), HTCondor workers (condor) or jobs (batch)
    chunksize: int = 100_000
    skip_bad_files: bool = False
    overwrite: bool = False
    resume: bool = False
    status: bool = True
    timeout: int = 30
    scheduler: str | None = None
    wait: bool = True  # batch: wait for the jobs and finish (else: eventlens merge OUT)
    condor_settings: Any = None  # CondorSettings for condor/batch (default configs/condor.yaml)

    @property
    def executor_name(self) -> str:
        return self.executor if isinstance(self.executor, str) else type(self.executor).__name__


@dataclass(frozen=True)
class PendingRun:
    """A batch run whose jobs are submitted but not finished: ``eventlens merge OUT`` ends it."""

    staging: Path
    cluster: str


def _fileset_digest(datasets: Mapping[str, Dataset]) -> str:
    data = {n: {"files": d.files, "metadata": d.metadata} for n, d in datasets.items()}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class PreparedRun:
    """A planned run in its staging folder: what is left to execute."""

    spec: RunSpec
    staging: Staging
    plan: Plan
    items: list[Any]  # every chunk, in plan order
    todo: list[Any]  # the chunks without a result yet
    filter_names: list[str]  # the branches the processor reads


@dataclass(frozen=True)
class _Inputs:
    """What a run is given, checked before anything is written."""

    spec: RunSpec
    cfg: Any
    datasets: dict[str, Dataset]
    digest: str


def _check_inputs(
    spec: RunSpec, fileset: str | Path | Mapping[str, Any], options: RunOptions
) -> _Inputs:
    get_task(spec.task)  # an unknown task is a one-line error before anything else
    cfg = spec.load_config()
    if options.chunksize < 1:
        raise ConfigError(f"--chunksize must be >= 1, got {options.chunksize}")
    datasets = load_fileset(fileset)
    _warn_eras(spec, cfg, datasets)
    return _Inputs(spec, cfg, datasets, _fileset_digest(datasets))


def _warn_eras(spec: RunSpec, cfg: Any, datasets: Mapping[str, Dataset]) -> None:
    """A warning per dataset whose ``metadata.era`` is not the selection config's or,
    for ``infer``, the model's (both eras named; :mod:`eventlens.config.eras`)."""
    from eventlens.config.eras import warn_era_mismatches

    model_era = model_name = None
    if spec.kind == INFER and spec.model:
        from eventlens.modelcard import load_model_card

        card = load_model_card(spec.model)
        model_era, model_name = card.era, card.name
    warn_era_mismatches(
        {name: d.metadata for name, d in datasets.items()}, cfg.era, cfg.source,
        model_era, model_name,
    )


def _plan(
    given: _Inputs, staging: Staging, resumed: bool, options: RunOptions, executor: Any
) -> PreparedRun:
    """Step 1: the plan (stored in ``run.json``), or the stored one of a resumed run."""
    needs = given.spec.needs(given.cfg)
    if resumed:
        info = staging.run_info()
        _check_resumable(info, given.spec, given.digest, options.chunksize, staging)
        plan = Plan.from_json(info["plan"])
    else:
        t0 = time.perf_counter()
        plan = plan_inputs(
            given.datasets, given.cfg, needs, options.skip_bad_files, options.timeout, executor
        )
        log.info(
            "checked %d file(s) in %d dataset(s) in %.1f s",
            sum(len(d.files) for d in given.datasets.values()),
            len(given.datasets),
            time.perf_counter() - t0,
        )
        staging.write_run(
            {
                "spec": given.spec.to_json(),
                "plan": plan.to_json(),
                "fileset_sha256": given.digest,
                "chunksize": options.chunksize,
                "skip_bad_files": options.skip_bad_files,
                "executor": options.executor_name,
                "workers": options.workers,
            }
        )
    items = plan.work_items(options.chunksize)
    todo = [i for i in items if not _done(staging, i)]
    if resumed:
        log.info("%d of %d chunk(s) already done", len(items) - len(todo), len(items))
    if not items:
        log.warning("no events to process (all files empty or skipped)")
    return PreparedRun(given.spec, staging, plan, items, todo, needs.filter_names())


def prepare(
    spec: RunSpec,
    fileset: str | Path | Mapping[str, Any],
    output_dir: str | Path,
    options: RunOptions,
) -> PreparedRun:
    """Step 1 on its own, files checked in this process: the run planned in ``OUT.incomplete``
    (batch submission, tests)."""
    given = _check_inputs(spec, fileset, options)
    staging = Staging.of(output_dir)
    resumed = staging.open(options.overwrite, options.resume)
    try:
        return _plan(given, staging, resumed, options, None)
    except Exception as exc:
        staging.failed(exc)
        raise


def run(
    spec: RunSpec,
    fileset: str | Path | Mapping[str, Any],
    output_dir: str | Path,
    options: RunOptions,
) -> RunOutput | PendingRun:
    """Run ``spec`` over ``fileset`` into ``output_dir`` (module docstring).

    The executor is started once and serves both the file checks of the plan
    and the chunks (batch mode checks the files here and submits the chunks).
    """
    if options.executor == "batch":
        prepared = prepare(spec, fileset, output_dir, options)
        try:
            pending = _submit_batch(prepared, options)
            if pending is not None:
                return pending
            from eventlens.condor.merge import merge

            return merge(prepared.staging.final)
        except Exception as exc:
            prepared.staging.failed(exc)
            raise
    given = _check_inputs(spec, fileset, options)
    staging = Staging.of(output_dir)
    resumed = staging.open(options.overwrite, options.resume)
    try:
        with _executor(given, staging, options) as ex:
            prepared = _plan(given, staging, resumed, options, ex)
            t1 = time.perf_counter()
            if prepared.todo:
                log.info(
                    "running %d chunk(s) of %d file(s) on %s",
                    len(prepared.todo),
                    len({(i.dataset, i.filename) for i in prepared.todo}),
                    options.executor_name,
                )
                with progress.watch(staging.chunks, prepared.items, enabled=options.status):
                    run_chunks(
                        prepared.todo,
                        spec.build(staging.path),
                        staging.chunks,
                        ex,
                        filter_names=prepared.filter_names,
                        timeout=options.timeout,
                    )
            elapsed = time.perf_counter() - t1
        return finish_run(staging, options.skip_bad_files, seconds=elapsed)
    except Exception as exc:
        staging.failed(exc)
        raise


def _executor(given: _Inputs, staging: Staging, options: RunOptions) -> Any:
    """The run's coffea executor as a context (a ready one is used as it is)."""
    if not isinstance(options.executor, str):
        return contextlib.nullcontext(options.executor)
    needs = ()
    if options.executor == "condor":
        needs = _condor_needs(given, staging, options.condor_settings)
    return make_executor(
        options.executor,
        options.workers,
        options.status,
        options.scheduler,
        needs,
        options.condor_settings,
    )


def finish_run(staging: Staging, skip_bad_files: bool | None = None, seconds: float = 0.0) -> Any:
    """Finish the run prepared in ``staging`` (also ``eventlens merge`` after batch jobs)."""
    info = staging.run_info()
    spec = RunSpec.from_json(info["spec"])
    task, cfg = get_task(spec.task), spec.load_config()
    plan = Plan.from_json(info["plan"])
    items = plan.work_items(info["chunksize"])
    run_info = {
        "executor": info["executor"],
        "workers": info["workers"],
        "chunksize": info["chunksize"],
        "seconds": seconds,
    }
    extra = reduce = None
    if spec.kind == INFER:
        from eventlens.processors.inference import EXAMPLES_PER_CLASS

        from .infer import inference_outputs

        extra = inference_outputs(spec)
        reduce = keep_first("examples", EXAMPLES_PER_CLASS)  # every chunk adds some
    skip = info["skip_bad_files"] if skip_bad_files is None else skip_bad_files
    return finish(
        staging, plan, items, task, cfg, run_info, skip_bad_files=skip, extra=extra, reduce=reduce
    )


def _check_resumable(
    info: Mapping[str, Any], spec: RunSpec, digest: str, chunksize: int, staging: Staging
) -> None:
    """A resumed run must be the interrupted one: same processor, fileset and chunks."""
    problems = []
    if info["spec"] != spec.to_json():
        problems.append("the task, config or model differ")
    if info["fileset_sha256"] != digest:
        problems.append("the fileset differs")
    if info["chunksize"] != chunksize:
        problems.append(f"--chunksize was {info['chunksize']}")
    if problems:
        raise EventLensError(
            f"{staging.path}: cannot resume: {'; '.join(problems)}; rerun with the interrupted "
            "run's arguments, or --overwrite to start again"
        )


def _done(staging: Staging, item: Any) -> bool:
    """A chunk is done when its result exists and it read its events (failures and files
    lacking a branch are tried again)."""
    path = staging.chunks / f"{chunklib.name_of(item)}.json.gz"
    if not path.exists():
        return False
    try:
        out = results.read(path)
        return not out.get("failures") and not out.get("bad_files")
    except EventLensError:
        path.unlink()  # a damaged result is redone
        return False


def _condor_needs(given: _Inputs, staging: Staging, settings: Any) -> list[Any]:
    """What HTCondor worker jobs read and write, handed to the job user and checked."""
    from eventlens.condor.cluster import run_folder_needs

    spec = given.spec
    writable = [staging.chunks, staging.path / TABLES_DIR]
    if spec.kind == INFER and spec.scores:
        writable.append(staging.path / SCORES_DIR)
    readable = [p for ds in given.datasets.values() for p in ds.files if not is_remote(p)]
    if spec.model:
        from eventlens.modelcard import card_path

        readable += [spec.model, str(card_path(Path(spec.model)))]
    return run_folder_needs(writable, readable, settings)


def _submit_batch(prepared: PreparedRun, options: RunOptions) -> PendingRun | None:
    """Batch mode: submit the chunks as HTCondor jobs; None once they are done (``wait``)."""
    from eventlens.condor import batch

    staging = prepared.staging
    b = batch.prepare(staging, prepared.todo, options.workers, prepared.spec)
    if not b.jobs:
        return None
    cluster = batch.submit(b, options.condor_settings)
    if not options.wait:
        log.info(
            "cluster %s: %d job(s); when they are done: eventlens merge %s",
            cluster,
            len(b.jobs),
            staging.final,
        )
        return PendingRun(staging.path, cluster)
    with progress.watch(staging.chunks, prepared.items, enabled=options.status):
        batch.wait(b, options.condor_settings)
    return None
