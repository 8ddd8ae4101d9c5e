"""Batch mode: a run's chunks as N HTCondor jobs — the ``batch`` executor of the pipeline.

The run (:mod:`eventlens.pipeline.run`) has planned its chunks and written
its ``run.json`` (the plan and the data-only :class:`~eventlens.pipeline.spec.RunSpec`)
into its staging folder ``OUT.incomplete``.  This module cuts the chunks into
jobs along coffea's chunk boundaries and submits them; each job
(:mod:`.job`) rebuilds the processor from ``run.json`` and writes each chunk's
result into ``OUT.incomplete/chunks`` exactly as the other executors do, and
``eventlens merge OUT`` (:mod:`.merge`) runs the pipeline's finish step.
Nothing is pickled: the jobs read JSON and write JSON.

``OUT.incomplete/batch/`` (everything a person needs to see what ran)::

    batch.json          jobs, their chunks and entries, cluster id, pool, python
    submit.sub          the rendered submit description (condor/eventlens.sub.in)
    jobs.txt            one job name per line (the submit file's queue list)
    jobs/jobs.log       HTCondor's user log of all jobs
    jobs/job-000/       job.json (its chunks), job.out/job.err, then done.json or error.json

The jobs run as an unprivileged user (see :mod:`.access`): every path they
need is checked before anything is submitted, and the folders they write are
handed to that user when root submits.
"""

from __future__ import annotations

import json
import logging
import os
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eventlens.errors import EventLensError
from eventlens.io import write_json
from eventlens.pipeline import chunks as chunklib
from eventlens.resources import condor_dir

from . import schedd as sd
from .access import Identity, Need, check, make_job_dir
from .job import DONE, ERROR, JOB_SPEC
from .settings import CondorSettings
from .worker_env import resolve

log = logging.getLogger(__name__)

CONDOR_DIR = condor_dir()
TEMPLATE = CONDOR_DIR / "eventlens.sub.in"
WRAPPER = CONDOR_DIR / "job.sh"
BATCH_DIR = "batch"
BATCH_JSON, SUBMIT, JOBS_TXT, USER_LOG = ("batch.json", "submit.sub", "jobs.txt", "jobs/jobs.log")


class BatchError(EventLensError):
    """A batch could not be submitted, or some of its jobs did not finish."""


class _Template(string.Template):
    delimiter = "@"


@dataclass(frozen=True)
class Batch:
    """A prepared (and possibly submitted) batch in ``outdir``."""

    outdir: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, outdir: str | Path) -> Batch:
        outdir = Path(outdir)
        path = outdir / BATCH_JSON
        if not path.exists():
            raise BatchError(f"{outdir} is not a batch folder (no {BATCH_JSON})")
        return cls(outdir, json.loads(path.read_text()))

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return self.manifest["jobs"]

    def job_dir(self, name: str) -> Path:
        return self.outdir / "jobs" / name

    def job_ids(self) -> dict[str, str]:
        """job name -> HTCondor job id (ProcId follows the order of jobs.txt)."""
        cluster = self.manifest.get("cluster")
        if cluster is None:
            return {}
        return {job["name"]: f"{cluster}.{i}" for i, job in enumerate(self.jobs)}


def prepare(
    staging: Any,
    items: Sequence[Any],
    jobs: int,
    spec: Any,
) -> Batch:
    """Cut ``items`` (the run's chunks still to do) into ``jobs`` jobs; nothing is submitted.

    ``staging`` is the run's :class:`~eventlens.pipeline.outdir.Staging`;
    ``spec`` its RunSpec (which folders the jobs write).
    """
    from eventlens.pipeline.spec import INFER, SCORES_DIR
    from eventlens.pipeline.table import TABLES_DIR

    outdir = staging.path / BATCH_DIR
    groups = chunklib.split([chunklib.to_json(i) for i in items], jobs) if items else []
    if len(groups) < jobs and items:
        log.warning(
            "only %d chunk(s): %d job(s) instead of %d (a smaller --chunksize gives more)",
            len(items),
            len(groups),
            jobs,
        )
    outdir.mkdir(parents=True, exist_ok=True)
    writable = [staging.chunks, staging.path / TABLES_DIR]
    if spec.kind == INFER and spec.scores:
        writable.append(staging.path / SCORES_DIR)
    reads = [str(staging.path / "run.json")]
    if spec.model:
        from eventlens.modelcard import card_path

        reads += [spec.model, str(card_path(Path(spec.model)))]
    width = max(3, len(str(len(groups) - 1)))
    job_list = [
        {
            "name": f"job-{n:0{width}d}",
            "chunks": group,
            "entries": chunklib.entries_by_dataset(group),
        }
        for n, group in enumerate(groups)
    ]
    manifest = {
        "format": "eventlens-condor-batch/2",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": str(staging.path),
        "datasets": chunklib.entries_by_dataset([c for j in job_list for c in j["chunks"]]),
        "n_chunks": len(items),
        "writable_dirs": [str(d) for d in writable],
        "reads": reads,
        "jobs": job_list,
    }
    write_json(outdir / BATCH_JSON, manifest)
    for job in job_list:
        jobdir = outdir / "jobs" / job["name"]
        jobdir.mkdir(parents=True, exist_ok=True)
        for stale in (DONE, ERROR, "job.out", "job.err"):
            (jobdir / stale).unlink(missing_ok=True)
        write_json(
            jobdir / JOB_SPEC,
            {"name": job["name"], "chunks": job["chunks"], "run": str(staging.path)},
        )
    (outdir / JOBS_TXT).write_text("".join(f"{j['name']}\n" for j in job_list))
    (outdir / USER_LOG).unlink(missing_ok=True)
    log.info("batch %s: %d chunk(s) in %d job(s)", outdir, len(items), len(job_list))
    return Batch(outdir, manifest)


def submit(batch: Batch, settings: CondorSettings | None = None) -> str:
    """Check the pool and every path, render submit.sub, submit; returns the cluster id."""
    from .settings import load

    settings = settings or load()
    target = sd.resolve_target(settings.pool)
    with sd.activated(target):
        sd.check_reachable(target, settings.pool.timeout)
        who = target.job_user
        worker = resolve(settings.worker, who)
        _check_paths(batch, worker.needs, who)
        text = render(batch, settings, str(worker.python), worker.environment)
        (batch.outdir / SUBMIT).write_text(text)

        def do_submit() -> int:
            import htcondor2

            return int(sd.schedd(target).submit(htcondor2.Submit(text)).cluster())

        t0 = time.monotonic()
        cluster = sd.with_deadline(
            do_submit, settings.pool.timeout, f"submitting {batch.outdir / SUBMIT}"
        )
    batch.manifest.update(
        cluster=cluster,
        submitted=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        pool=target.describe(),
        job_user=who.name,
        python=str(worker.python),
    )
    write_json(batch.outdir / BATCH_JSON, batch.manifest)
    log.info(
        "submitted %d job(s) as cluster %d to %s in %.1f s",
        len(batch.jobs),
        cluster,
        target.describe(),
        time.monotonic() - t0,
    )
    return str(cluster)


def _check_paths(batch: Batch, python_needs: tuple[Need, ...], who: Identity) -> None:
    """Hand the job folders to the job user, then check everything a job touches."""
    make_job_dir(batch.outdir / "jobs", who)  # HTCondor writes the user log there as the job owner
    for job in batch.jobs:
        make_job_dir(batch.job_dir(job["name"]), who)
    for d in batch.manifest.get("writable_dirs", []):
        make_job_dir(Path(d), who)
    inputs = sorted({c["filename"] for job in batch.jobs for c in job["chunks"]})
    needs = [
        *(
            Need(Path(d), "processor output folder", "w")
            for d in batch.manifest.get("writable_dirs", [])
        ),
        *python_needs,
        Need(WRAPPER, "job wrapper", "rx"),
        *(Need(Path(p), "run description / model") for p in batch.manifest.get("reads", [])),
        Need(batch.outdir / "jobs", "jobs folder (user log)", "w"),
        *(Need(Path(f), "input file") for f in inputs if "://" not in f),
        *(Need(batch.job_dir(j["name"]), f"job folder {j['name']}", "w") for j in batch.jobs),
    ]
    check(needs, who)


def render(
    batch: Batch, settings: CondorSettings, python: str, environment: Mapping[str, str]
) -> str:
    """The submit description for this batch, from condor/eventlens.sub.in."""
    b = settings.batch
    extra = dict(b.job_extra_directives)
    extra.update(credential_directives(settings))
    env = {**environment, **settings.worker.environment}
    return _Template(TEMPLATE.read_text()).substitute(
        wrapper=WRAPPER,
        python=python,
        outdir=batch.outdir,
        environment=" ".join(f"{k}='{v}'" for k, v in env.items()),
        request_cpus=b.request_cpus,
        request_memory=b.request_memory,
        request_disk=b.request_disk,
        max_retries=b.max_retries,
        batch_name=f"eventlens-{batch.outdir.name}",
        extra="\n".join(f"{k:<21} = {v}" for k, v in extra.items()),
    )


def credential_directives(settings: CondorSettings) -> dict[str, str]:
    """Pass-through credentials: the proxy's *path* and the OAuth service names, never contents."""
    out = {}
    proxy = settings.credentials.x509userproxy
    if proxy == "auto":
        cand = os.environ.get("X509_USER_PROXY") or f"/tmp/x509up_u{os.getuid()}"
        proxy = cand if Path(cand).exists() else None
    if proxy:
        if not Path(proxy).exists():
            raise BatchError(
                f"credentials.x509userproxy {proxy} does not exist (voms-proxy-init first)"
            )
        out["x509userproxy"] = str(proxy)
    if settings.credentials.use_oauth_services:
        out["use_oauth_services"] = settings.credentials.use_oauth_services
    return out


def wait(
    batch: Batch,
    settings: CondorSettings | None = None,
    timeout: float = 3600.0,
    poll: float = 2.0,
) -> dict[str, dict[str, Any]]:
    """Wait until no job of the batch is idle or running; a held job ends the wait at once.

    Returns the final state per job name.  Raises BatchError naming held jobs
    (with HTCondor's hold reason) or the jobs still queued at ``timeout``.
    """
    from .settings import load

    settings = settings or load()
    ids = batch.job_ids()
    if not ids:
        raise BatchError(f"{batch.outdir}: batch was never submitted")
    target = sd.resolve_target(settings.pool)
    deadline = time.monotonic() + timeout
    with sd.activated(target):
        while True:
            states = sd.job_states(target, list(ids.values()), settings.pool.timeout)
            by_name = {name: states[jid] for name, jid in ids.items()}
            held = {n: s for n, s in by_name.items() if s["status"] == "held"}
            if held:
                raise BatchError(
                    "held: "
                    + "; ".join(f"{n} ({sd.format_state(ids[n], s)})" for n, s in held.items())
                )
            active = [
                n
                for n, s in by_name.items()
                if s["status"] in ("idle", "running", "transferring output")
            ]
            if not active:
                return by_name
            if time.monotonic() > deadline:
                raise BatchError(
                    f"{len(active)} job(s) still queued after {timeout:.0f} s: "
                    + ", ".join(active[:10])
                )
            time.sleep(poll)


def remove(batch: Batch, settings: CondorSettings) -> None:
    """Remove the batch's jobs that are still queued (cleanup)."""
    ids = list(batch.job_ids().values())
    target = sd.resolve_target(settings.pool)
    with sd.activated(target):
        sd.remove_jobs(target, ids, settings.pool.timeout)
