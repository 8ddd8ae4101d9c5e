"""One batch job: ``python -m eventlens.condor.job JOBDIR`` (started by ``condor/job.sh``).

Reads ``JOBDIR/job.json`` (its chunks of the fileset) and the batch's pickled
processor, runs the chunks with coffea's Iterative executor, and saves
``JOBDIR/output.coffea`` atomically: a merge never sees half a file.  On
failure it writes ``JOBDIR/error.json`` (also atomically) and exits 1, so
HTCondor's ``max_retries`` re-runs it and ``eventlens merge`` can name the job
and the error.

``postprocess`` is *not* applied here: it belongs after the merge, exactly as
the Iterative executor applies it once to the whole output.
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

JOB_SPEC, OUTPUT, ERROR = "job.json", "output.coffea", "error.json"


class ProcessOnly:
    """The processor's ``process`` without its ``postprocess`` (applied after the merge)."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def __call__(self, events: Any) -> Any:
        return self.processor.process(events)


def run(jobdir: Path) -> dict[str, Any]:
    """Process this job's chunks; return what goes into ``output.coffea``.

    With ``per_chunk`` (the default) each chunk's output is kept separately,
    so that ``eventlens merge`` can add all chunks of all jobs in the order the
    Iterative executor adds them: floating-point sums then agree bit for bit
    (adding job subtotals instead differs in the last digits).
    """
    from coffea import processor
    from coffea.util import load

    from .chunks import from_json, key

    spec = json.loads((jobdir / JOB_SPEC).read_text())
    batch = load(spec["processor"])
    items = [from_json(d) for d in spec["chunks"]]
    t0 = time.monotonic()
    runner = processor.Runner(
        executor=processor.IterativeExecutor(status=False),
        schema=batch["schema"],
        chunksize=spec["chunksize"],
        **batch.get("runner_options", {}),
    )
    proc = ProcessOnly(batch["processor"])
    options = batch.get("run_options", {})
    result: dict[str, Any] = {"job": spec["name"]}
    if spec.get("per_chunk", True):
        outputs = []
        for item in items:
            wrapped = runner.run([item], proc, **options)
            done = [key(_item_dict(i)) for i in wrapped.get("processed", ())]
            outputs.append((done[0] if len(done) == 1 else None, wrapped["out"]))
        result["chunks"] = [[k, out] for k, out in outputs]
        result["processed"] = sorted(k for k, _ in outputs if k is not None)
    else:
        wrapped = runner.run(items, proc, **options)
        result["output"] = wrapped["out"]
        result["processed"] = sorted(key(_item_dict(i)) for i in wrapped.get("processed", ()))
    result.update(
        host=socket.gethostname(),
        uid=os.getuid(),
        seconds=time.monotonic() - t0,
        python=sys.executable,
    )
    return result


def _item_dict(item: Any) -> dict[str, Any]:
    return {
        "dataset": item.dataset,
        "filename": item.filename,
        "entrystart": item.entrystart,
        "entrystop": item.entrystop,
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
    from coffea.util import save

    from eventlens.io import atomic_path, write_json

    (jobdir / ERROR).unlink(missing_ok=True)
    log.info("job %s on %s as uid %d", jobdir.name, socket.gethostname(), os.getuid())
    try:
        result = run(jobdir)
        with atomic_path(jobdir / OUTPUT) as tmp:
            save(result, tmp)
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
        "job %s done: %d chunks in %.1f s", jobdir.name, len(result["processed"]), result["seconds"]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
