"""Dask mode: coffea's DaskExecutor on a dask-jobqueue ``HTCondorCluster``.

:func:`condor_client` is a context manager that, in order,

1. finds the pool and checks, within ``pool.timeout`` s, that its collector
   and schedd answer (no pool / wrong schedd -> one clear line, no submission);
2. picks a python the job user can run (:mod:`.worker_env`) and checks every
   path the workers need (:mod:`.access`);
3. submits ``workers`` jobs and waits for them with its *own* loop, which
   inspects the jobs: a held job, or one that ended before its worker
   connected, fails at once with HTCondor's reason and the tail of the
   worker's stderr; ``worker.start_timeout`` bounds the whole wait (dask's
   ``wait_for_workers`` would sit out its timeout without a word);
4. while the caller runs, a watchdog re-submits the job of a worker that died
   (dask already re-runs its chunks on the others, up to ``dask.retries``),
   and fails the run, naming the jobs, when no worker is left for
   ``start_timeout`` s;
5. on exit, Ctrl-C or SIGTERM: closes the client, scales to zero, closes the
   cluster and removes any of its jobs still queued.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventlens.errors import EventLensError

from . import schedd as sd
from .access import Need, check, make_job_dir, owned_dir
from .settings import CondorSettings
from .worker_env import resolve

log = logging.getLogger(__name__)


class WorkerStartError(EventLensError):
    """The worker jobs did not come up, or all of them died during the run."""


@dataclass
class ClusterSession:
    """What a running condor dask session exposes to its caller and to tests."""

    client: Any
    cluster: Any
    target: sd.PoolTarget
    settings: CondorSettings
    n_workers: int
    log_dir: Path
    failure: str | None = None
    submitted: set[str] = field(default_factory=set)

    def job_ids(self) -> list[str]:
        """HTCondor ids of the worker jobs currently known to the cluster."""
        ids = [getattr(job, "job_id", None) for job in list(self.cluster.workers.values())]
        self.submitted.update(i for i in ids if i)
        return [i for i in ids if i]

    def connected(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def describe_jobs(self, ids: Sequence[str] | None = None) -> str:
        ids = list(ids if ids is not None else self.job_ids())
        try:
            states = sd.job_states(self.target, ids, self.settings.pool.timeout)
        except sd.PoolUnavailableError as exc:
            return str(exc)
        parts = []
        for jid, state in states.items():
            text = sd.format_state(jid, state)
            tail = _tail(self.log_dir / f"worker-{jid}.err")
            if tail and state["status"] not in ("running", "idle"):
                text += f" [stderr: {tail}]"
            parts.append(text)
        return "; ".join(parts) or "no jobs"


def _tail(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def build_cluster(
    settings: CondorSettings,
    target: sd.PoolTarget,
    python: str,
    environment: dict[str, str],
    log_dir: Path,
) -> Any:
    """The HTCondorCluster for these settings (no job is submitted until ``scale``)."""
    from dask_jobqueue import HTCondorCluster

    w = settings.worker
    env = {**environment, **w.environment}
    prologue = ['export HOME="$_CONDOR_SCRATCH_DIR"', 'export MPLCONFIGDIR="$_CONDOR_SCRATCH_DIR"']
    prologue += [f"export {k}='{v}'" for k, v in env.items()]
    directives = {"initialdir": str(log_dir), **w.job_extra_directives}
    from .batch import credential_directives

    directives.update(credential_directives(settings))
    host = settings.dask.scheduler_host or ("127.0.0.1" if target.local_pool else None)
    scheduler_options: dict[str, Any] = {"dashboard_address": None}
    if host:
        scheduler_options["host"] = host
    extra = ["-name", target.schedd] if target.schedd else []
    return HTCondorCluster(
        cores=w.cores,
        processes=w.processes,
        memory=w.memory,
        disk=w.disk,
        nanny=w.nanny,
        python=python,
        log_directory=str(log_dir),
        local_directory="$_CONDOR_SCRATCH_DIR",
        death_timeout=w.death_timeout,
        job_script_prologue=prologue,
        job_extra_directives=directives,
        submit_command_extra=extra,
        cancel_command_extra=extra,
        scheduler_options=scheduler_options,
        worker_extra_args=["--host", host] if host else [],
    )


def wait_for_workers(session: ClusterSession, timeout: float, poll: float = 1.0) -> None:
    """Wait for ``n_workers`` connections, failing early on held or ended jobs."""
    t0 = time.monotonic()
    next_check = t0 + 3.0
    while True:
        if session.connected() >= session.n_workers:
            log.info(
                "%d HTCondor worker(s) connected in %.1f s",
                session.n_workers,
                time.monotonic() - t0,
            )
            return
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 3.0
            ids = session.job_ids()
            states = sd.job_states(session.target, ids, session.settings.pool.timeout)
            bad = {
                j: s for j, s in states.items() if s["status"] in ("held", "removed", "completed")
            }
            if bad:
                raise WorkerStartError(
                    "dask worker job(s) failed before connecting: "
                    + session.describe_jobs(list(bad))
                    + f" (logs in {session.log_dir})"
                )
        if now - t0 > timeout:
            jobs = session.describe_jobs()
            capacity = ""
            if " idle" in jobs:  # waiting for a slot: say what the pool has free
                capacity = f"; {sd.slot_summary(session.target, session.settings.pool.timeout)}"
            raise WorkerStartError(
                f"{session.connected()} of {session.n_workers} dask worker(s) connected after "
                f"{timeout:.0f} s on {session.target.describe()}: {jobs}{capacity} "
                f"(logs in {session.log_dir})"
            )
        time.sleep(poll)


class Watchdog(threading.Thread):
    """Replaces dead worker jobs; fails the run when no worker is left for too long."""

    def __init__(self, session: ClusterSession, interval: float = 5.0) -> None:
        super().__init__(name="condor-watchdog", daemon=True)
        self.session = session
        self.interval = interval
        self.stop_event = threading.Event()
        self.resubmits = 0

    def run(self) -> None:
        s = self.session
        alone_since: float | None = None
        while not self.stop_event.wait(self.interval):
            try:
                n = s.connected()
                if n < s.n_workers:
                    s.job_ids()
                    s.cluster.scale(s.n_workers)  # re-opens jobs of workers the cluster lost
                if n == 0:
                    alone_since = alone_since or time.monotonic()
                    if time.monotonic() - alone_since > s.settings.worker.start_timeout:
                        s.failure = (
                            f"no dask worker for {s.settings.worker.start_timeout:.0f} s: "
                            f"{s.describe_jobs(sorted(s.submitted))} (logs in {s.log_dir})"
                        )
                        log.error("%s", s.failure)
                        s.client.close()
                        return
                else:
                    alone_since = None
            except Exception as exc:  # the watchdog must never kill the run by itself
                if self.stop_event.is_set():
                    return
                log.debug("watchdog: %s", exc)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (batch systems, ``kill``) cleans up like Ctrl-C; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def prepare_log_dir(settings: CondorSettings, target: sd.PoolTarget) -> Path:
    base = owned_dir(settings.runtime_path())
    run = base / "dask" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    return make_job_dir(run, target.job_user)


@contextlib.contextmanager
def condor_client(
    workers: int,
    settings: CondorSettings | None = None,
    needs: Sequence[Need] = (),
) -> Iterator[ClusterSession]:
    """A dask Client whose ``workers`` workers are HTCondor jobs (see module docstring).

    ``needs``: further paths the workers use (input files, output folders),
    checked for the job user before submitting.
    """
    from distributed import Client

    from .settings import load

    settings = settings or load()
    if workers < 1:
        raise EventLensError(f"--workers must be >= 1, got {workers}")
    target = sd.resolve_target(settings.pool)
    if not log.isEnabledFor(logging.DEBUG):  # dask logs every worker join/leave at INFO
        for name in ("distributed", "dask_jobqueue"):
            logging.getLogger(name).setLevel(logging.WARNING)
    with sd.activated(target), _sigterm_as_interrupt():
        sd.check_reachable(target, settings.pool.timeout)
        worker = resolve(settings.worker, target.job_user)
        log_dir = prepare_log_dir(settings, target)
        check([*worker.needs, Need(log_dir, "dask log directory", "w"), *needs], target.job_user)
        cluster = client = watchdog = None
        session: ClusterSession | None = None
        try:
            cluster = build_cluster(
                settings, target, str(worker.python), worker.environment, log_dir
            )
            client = Client(cluster)
            session = ClusterSession(client, cluster, target, settings, workers, log_dir)
            log.info(
                "submitting %d dask worker job(s) to %s (python %s, logs %s)",
                workers,
                target.describe(),
                worker.python,
                log_dir,
            )
            cluster.scale(workers)
            wait_for_workers(session, settings.worker.start_timeout)
            watchdog = Watchdog(session)
            watchdog.start()
            yield session
        finally:
            if watchdog is not None:
                watchdog.stop_event.set()
            _shutdown(session, cluster, client, target, settings)


def _shutdown(
    session: ClusterSession | None,
    cluster: Any,
    client: Any,
    target: sd.PoolTarget,
    settings: CondorSettings,
) -> None:
    """Close everything; remove any worker job still in the queue. Never raises."""
    ids: set[str] = set()
    if session is not None:
        with contextlib.suppress(Exception):
            session.job_ids()
        ids = set(session.submitted)
    for step, fn in (
        ("client", lambda: client and client.close(timeout=10)),
        ("scale", lambda: cluster and cluster.scale(0)),
        ("cluster", lambda: cluster and cluster.close(timeout=20)),
    ):
        try:
            fn()
        except Exception as exc:
            log.debug("closing %s: %s", step, exc)
    if ids:
        try:
            left = [
                j
                for j, s in sd.job_states(target, sorted(ids), settings.pool.timeout).items()
                if s["status"] in ("idle", "running", "held", "suspended")
            ]
        except sd.PoolUnavailableError as exc:
            log.warning("could not check that the worker jobs are gone: %s", exc)
            return
        if left:
            log.info("removing leftover worker job(s) %s", ", ".join(left))
            sd.remove_jobs(target, left, settings.pool.timeout)


@contextlib.contextmanager
def condor_executor(
    workers: int,
    status: bool = True,
    settings: CondorSettings | None = None,
    needs: Sequence[Need] = (),
) -> Iterator[Any]:
    """coffea's DaskExecutor on HTCondor workers: the ``condor`` entry of an executor factory.

    A run that fails because every worker died raises WorkerStartError with
    the jobs' state instead of dask's CancelledError.
    """
    from coffea import processor

    from .settings import load

    settings = settings or load()
    with condor_client(workers, settings, needs) as session:
        executor = processor.DaskExecutor(
            client=session.client,
            status=status,
            retries=settings.dask.retries,
            treereduction=settings.dask.treereduction,
            compression=settings.dask.compression,
        )
        try:
            yield executor
        except Exception as exc:
            if session.failure:
                raise WorkerStartError(session.failure) from exc
            raise


def run_folder_needs(
    writable: Sequence[str | Path],
    readable: Sequence[str | Path],
    settings: CondorSettings | None = None,
) -> list[Need]:
    """What worker jobs of a run write (handed to the job user now) and read.

    The workers write the run's chunk results, tables and scores themselves,
    so those folders are created for the job user before any job starts, and
    every input is checked readable by that user (``condor_client`` checks
    the returned needs before submitting).
    """
    from .settings import load

    target = sd.resolve_target((settings or load()).pool)
    needs = []
    for d in writable:
        make_job_dir(Path(d), target.job_user)
        needs.append(Need(Path(d), "run output folder", "w"))
    needs += [Need(Path(p), "input file") for p in sorted({str(p) for p in readable})]
    return needs
