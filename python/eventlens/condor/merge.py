"""``eventlens merge OUT``: finish a batch run once its HTCondor jobs are done.

The jobs (:mod:`.job`) wrote each chunk's result into ``OUT.incomplete/chunks``.
If any chunk of the plan has none, nothing is written and every job owning a
missing chunk is named with why (its ``error.json``, the tail of its
``job.err``, or "not run yet"); otherwise the pipeline's finish step
(:func:`eventlens.pipeline.run.finish_run`) adds the chunks in the plan's
order — bit-identical to the Iterative executor — and writes the same
``manifest.json``, ``cutflow.json``, ``hists.json`` and tables as every other
executor, so a batch selection can be trained on.

Every file read here is JSON written by the job user: nothing is unpickled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eventlens.pipeline import chunks as chunklib
from eventlens.pipeline.finish import MissingChunksError, RunOutput
from eventlens.pipeline.outdir import Staging

from .batch import BATCH_DIR, Batch, BatchError
from .job import ERROR

log = logging.getLogger(__name__)


class MergeError(BatchError):
    """Some jobs are missing, failed or incomplete; they are named."""


def job_problem(batch: Batch, job: Mapping[str, Any], missing: set[str]) -> str | None:
    """Why ``job`` has chunks without results (None when it has none missing)."""
    lacking = [c for c in job["chunks"] if chunklib.name_of(c) in missing]
    if not lacking:
        return None
    jobdir = batch.job_dir(job["name"])
    err = jobdir / ERROR
    if err.exists():
        try:
            why = json.loads(err.read_text()).get("error", "?")
        except (OSError, ValueError):
            why = "unreadable error.json"
        return f"failed: {why}"
    tail = _tail(jobdir / "job.err")
    what = f"{len(lacking)} of {len(job['chunks'])} chunk(s) without result"
    return what + (f" (job.err: {tail})" if tail else " (not run yet, or still running?)")


def _tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])[:300]


def merge(out: str | Path) -> RunOutput:
    """Check the jobs and finish the run whose staging folder is ``OUT.incomplete``."""
    from eventlens.pipeline.run import finish_run

    staging = Staging.of(out)
    if not staging.path.exists():
        if (staging.final / "manifest.json").exists():
            raise BatchError(f"{staging.final} is already merged (it holds a manifest)")
        raise BatchError(f"{staging.path}: no such run (submit one with eventlens condor-submit)")
    try:
        return finish_run(staging)
    except MissingChunksError as exc:
        batch_dir = staging.path / BATCH_DIR
        if not batch_dir.exists():
            raise
        batch = Batch.open(batch_dir)
        missing = set(exc.missing)
        problems = [
            f"{job['name']}: {why}"
            for job in batch.jobs
            if (why := job_problem(batch, job, missing)) is not None
        ]
        raise MergeError(
            f"{staging.path}: {len(problems)} of {len(batch.jobs)} job(s) cannot be merged: "
            + "; ".join(problems)
        ) from None
