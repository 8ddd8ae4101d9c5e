"""One batch job: ``python -m eventlens.condor.job JOBDIR`` (started by ``condor/job.sh``).

Reads ``JOBDIR/job.json`` (its chunks and the run's staging folder), rebuilds
the run's processor from the data-only ``run.json`` there
(:class:`~eventlens.pipeline.spec.RunSpec`), and runs its chunks with
coffea's Iterative executor through the pipeline's
:func:`~eventlens.pipeline.execute.run_chunks` — so each chunk's result lands
in ``OUT.incomplete/chunks`` exactly as with every other executor.  A chunk
already there (a re-run job) is skipped.  At the end it writes
``JOBDIR/done.json`` (host, time, chunks) atomically; on failure
``JOBDIR/error.json`` and exit status 1, so HTCondor's ``max_retries``
re-runs it and ``eventlens merge`` can name the job and the error.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("eventlens.condor.job")

JOB_SPEC, DONE, ERROR = "job.json", "done.json", "error.json"


def run(jobdir: Path) -> dict[str, Any]:
    """Process this job's chunks; return what goes into ``done.json``."""
    from coffea import processor

    from eventlens.pipeline import chunks as chunklib
    from eventlens.pipeline.execute import run_chunks
    from eventlens.pipeline.outdir import SUFFIX, Staging
    from eventlens.pipeline.spec import RunSpec

    spec = json.loads((jobdir / JOB_SPEC).read_text())
    staging_dir = Path(spec["run"])
    staging = Staging.of(staging_dir.with_name(staging_dir.name.removesuffix(SUFFIX)))
    info = staging.run_info()
    run_spec = RunSpec.from_json(info["spec"])
    items = [chunklib.from_json(d) for d in spec["chunks"]]
    todo = [i for i in items if not (staging.chunks / f"{chunklib.name_of(i)}.json.gz").exists()]
    t0 = time.monotonic()
    if todo:
        proc = run_spec.build(staging.path)
        run_chunks(
            todo,
            proc,
            staging.chunks,
            processor.IterativeExecutor(status=False),
            filter_names=run_spec.needs(run_spec.load_config()).filter_names(),
        )
    return {
        "job": spec["name"],
        "chunks": [chunklib.name_of(i) for i in items],
        "skipped_done": len(items) - len(todo),
        "host": socket.gethostname(),
        "uid": os.getuid(),
        "seconds": time.monotonic() - t0,
        "python": sys.executable,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if len(args) != 1:
        log.error("usage: python -m eventlens.condor.job JOBDIR")
        return 2
    jobdir = Path(args[0]).resolve()
    # caches of matplotlib/numba & co. need a writable HOME; the job user's may not exist
    scratch = os.environ.get("_CONDOR_SCRATCH_DIR") or str(jobdir)
    os.environ.setdefault("MPLCONFIGDIR", scratch)
    if not os.access(os.environ.get("HOME", "/nonexistent"), os.W_OK):
        os.environ["HOME"] = scratch
    from eventlens.io import write_json

    (jobdir / ERROR).unlink(missing_ok=True)
    log.info("job %s on %s as uid %d", jobdir.name, socket.gethostname(), os.getuid())
    try:
        result = run(jobdir)
        write_json(jobdir / DONE, result)
    except Exception as exc:
        log.exception("job %s failed", jobdir.name)
        write_json(
            jobdir / ERROR,
            {
                "job": jobdir.name,
                "error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:2000],
                "traceback": traceback.format_exc()[-8000:],
                "host": socket.gethostname(),
            },
        )
        return 1
    log.info(
        "job %s done: %d chunks in %.1f s", jobdir.name, len(result["chunks"]), result["seconds"]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
