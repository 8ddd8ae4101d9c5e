"""Which HTCondor pool we talk to, checked reachable in bounded time, and the state of our jobs.

Every query runs with a deadline (in a worker thread, or a subprocess with a
timeout): an unreachable collector or a misspelt schedd must give one clear
line within ``pool.timeout`` seconds, never a silent wait.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eventlens.errors import EventLensError

from .access import Identity
from .pool import START_HINT, PersonalPool
from .settings import PoolSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: HTCondor JobStatus codes.
JOB_STATUS = {
    1: "idle",
    2: "running",
    3: "removed",
    4: "completed",
    5: "held",
    6: "transferring output",
    7: "suspended",
}


class PoolUnavailableError(EventLensError):
    """No pool answered, or the requested schedd is not in it."""


@dataclass(frozen=True)
class PoolTarget:
    """The pool a run submits to: its client environment and the account jobs run as."""

    env: dict[str, str]
    collector: str
    schedd: str | None
    job_user: Identity
    local_pool: PersonalPool | None = None

    def describe(self) -> str:
        where = f"personal pool {self.collector}" if self.local_pool else f"pool {self.collector}"
        return where + (f", schedd {self.schedd}" if self.schedd else "")


def resolve_target(settings: PoolSettings) -> PoolTarget:
    """Pick the pool from ``pool.use``: a system installation, else the personal pool."""
    personal = PersonalPool.default()
    system = bool(os.environ.get("CONDOR_CONFIG") or shutil.which("condor_submit"))
    use_local = settings.use == "local" or (settings.use == "auto" and not system)
    if use_local:
        if not personal.is_running():
            raise PoolUnavailableError(
                f"no HTCondor pool: no condor_submit on PATH and the personal pool in "
                f"{personal.prefix} is not running (start it: {START_HINT})"
            )
        who = personal.job_user
        return PoolTarget(
            personal.env(),
            personal.collector,
            settings.schedd,
            Identity.of_user(who.name),
            personal,
        )
    if not system:
        raise PoolUnavailableError("pool.use is 'system' but no condor_submit is on PATH")
    collector = _config_val("COLLECTOR_HOST", {}) or "?"
    return PoolTarget({}, collector, settings.schedd, _system_job_user(), None)


def _config_val(name: str, env: dict[str, str], timeout: float = 10.0) -> str:
    exe = shutil.which("condor_config_val", path=env.get("PATH", os.environ.get("PATH")))
    if not exe:
        return ""
    try:
        proc = subprocess.run(
            [exe, name], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _system_job_user() -> Identity:
    """Jobs run as the submitter; root's jobs as CONDOR_IDS (HTCondor refuses root-owned jobs)."""
    if os.geteuid() != 0:
        return Identity.of_uid(os.geteuid(), os.getegid())
    ids = _config_val("CONDOR_IDS", {})
    if ids and "." in ids:
        uid, gid = (int(x) for x in ids.split(".", 1))
        return Identity.of_uid(uid, gid)
    try:
        return Identity.of_user("condor")
    except KeyError:
        return Identity.of_uid(pwd.getpwnam("nobody").pw_uid)


@contextlib.contextmanager
def activated(target: PoolTarget) -> Iterator[PoolTarget]:
    """Put the target's client environment into ``os.environ`` (dask-jobqueue calls the
    condor tools with our environment) and point the bindings at it; restored on exit."""
    saved = {k: os.environ.get(k) for k in target.env}
    os.environ.update(target.env)
    _reload_bindings()
    try:
        yield target
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if os.environ.get("CONDOR_CONFIG") or shutil.which("condor_config_val"):
            _reload_bindings()  # else the bindings would complain there is no config


def _reload_bindings() -> None:
    import htcondor2

    htcondor2.reload_config()


def with_deadline(fn: Callable[[], T], seconds: float, what: str) -> T:
    """Run ``fn`` in a thread; raise PoolUnavailableError if it has not returned in time.

    The bindings can block on an unreachable host for minutes; the thread is
    abandoned (daemon) rather than waited for.
    """
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="condor-query")
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise PoolUnavailableError(f"{what}: no answer within {seconds:.0f} s") from None
    except PoolUnavailableError:
        raise
    except Exception as exc:  # htcondor2.HTCondorException and OSError come in many forms
        msg = str(exc).strip().replace("\n", " ")
        raise PoolUnavailableError(f"{what}: {msg or type(exc).__name__}") from exc


def schedd(target: PoolTarget) -> Any:
    """The ``htcondor2.Schedd`` to submit to, located through the collector."""
    import htcondor2

    if target.schedd is None:
        return htcondor2.Schedd()
    coll = htcondor2.Collector()
    ads = coll.locateAll(htcondor2.DaemonType.Schedd)
    names = sorted(str(ad.get("Name")) for ad in ads)
    for ad in ads:
        if ad.get("Name") == target.schedd:
            return htcondor2.Schedd(ad)
    raise PoolUnavailableError(
        f"schedd {target.schedd!r} not found in {target.describe()} "
        f"(known: {', '.join(names) or 'none'})"
    )


def check_reachable(target: PoolTarget, timeout: float) -> None:
    """The collector answers and the schedd accepts a queue query, within ``timeout`` seconds."""

    def probe() -> None:
        import htcondor2

        coll = htcondor2.Collector()
        coll.locateAll(htcondor2.DaemonType.Schedd)
        schedd(target).query(constraint="false", projection=["ClusterId"])

    with_deadline(probe, timeout, f"HTCondor {target.describe()} is not reachable")
    log.debug("HTCondor %s answers", target.describe())


def job_states(
    target: PoolTarget, job_ids: Sequence[str], timeout: float
) -> dict[str, dict[str, Any]]:
    """State of each job id ("cluster.proc"): from the queue, else from the history.

    Returns ``{job_id: {"status": "held", "reason": ..., "exit_code": ...}}``;
    a job in neither is reported as ``{"status": "unknown"}``.
    """
    if not job_ids:
        return {}
    projection = [
        "ClusterId",
        "ProcId",
        "JobStatus",
        "HoldReason",
        "ExitCode",
        "ExitBySignal",
        "ExitSignal",
        "RemoveReason",
        "LastHoldReason",
        "NumJobStarts",
    ]
    clusters = sorted({j.split(".")[0] for j in job_ids})
    constraint = " || ".join(f"ClusterId == {c}" for c in clusters)

    def query() -> dict[str, dict[str, Any]]:
        sd = schedd(target)
        found: dict[str, dict[str, Any]] = {}
        for ad in sd.query(constraint=constraint, projection=projection):
            found[f"{ad['ClusterId']}.{ad['ProcId']}"] = _state(ad)
        missing = [j for j in job_ids if j not in found]
        if missing:
            for ad in sd.history(
                constraint=constraint, projection=projection, match=len(job_ids) * 4
            ):
                jid = f"{ad['ClusterId']}.{ad['ProcId']}"
                if jid in missing and jid not in found:
                    found[jid] = _state(ad)
        return {j: found.get(j, {"status": "unknown"}) for j in job_ids}

    return with_deadline(query, timeout, f"job query on {target.describe()}")


def _state(ad: Any) -> dict[str, Any]:
    status = JOB_STATUS.get(int(ad.get("JobStatus", 0)), "unknown")
    out: dict[str, Any] = {"status": status, "starts": int(ad.get("NumJobStarts", 0) or 0)}
    reason = ad.get("HoldReason") or ad.get("RemoveReason") or ad.get("LastHoldReason")
    if reason:
        out["reason"] = str(reason)
    if ad.get("ExitBySignal"):
        out["exit_signal"] = int(ad.get("ExitSignal", 0))
    elif "ExitCode" in ad:
        out["exit_code"] = int(ad["ExitCode"])
    return out


def format_state(job_id: str, state: dict[str, Any]) -> str:
    text = f"job {job_id} {state['status']}"
    if "exit_code" in state:
        text += f" (exit code {state['exit_code']})"
    if "exit_signal" in state:
        text += f" (killed by signal {state['exit_signal']})"
    if state.get("reason"):
        text += f": {state['reason']}"
    return text


def slot_summary(target: PoolTarget, timeout: float) -> str:
    """The pool's execute capacity in one phrase, for the message about jobs that stay idle.

    An idle worker usually waits for a free slot; saying how many CPUs and how
    much memory are unclaimed tells the user whether to free slots or ask for less.
    """
    import htcondor2

    def query() -> str:
        ads = htcondor2.Collector().query(
            htcondor2.AdType.Startd, projection=["Name", "State", "Cpus", "Memory"]
        )
        total = sum(float(ad.get("Cpus", 0) or 0) for ad in ads)
        free = [ad for ad in ads if str(ad.get("State")) == "Unclaimed"]
        free_cpus = sum(float(ad.get("Cpus", 0) or 0) for ad in free)
        free_mem = max((int(ad.get("Memory", 0) or 0) for ad in free), default=0)
        return (
            f"the pool advertises {len(ads)} slot(s) with {total:g} CPU(s); "
            f"unclaimed: {free_cpus:g} CPU(s), largest {free_mem} MB"
        )

    try:
        return with_deadline(query, timeout, f"slot query on {target.describe()}")
    except PoolUnavailableError as exc:
        return str(exc)


def remove_jobs(target: PoolTarget, job_ids: Sequence[str], timeout: float) -> None:
    """Remove jobs still in the queue (cleanup after an interrupted run)."""
    if not job_ids:
        return
    import htcondor2

    def rm() -> None:
        sd = schedd(target)
        sd.act(htcondor2.JobAction.Remove, list(job_ids), reason="eventlens run ended")

    with contextlib.suppress(PoolUnavailableError):
        with_deadline(rm, timeout, "condor_rm")
