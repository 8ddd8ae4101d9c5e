"""Step 2 of every run: the chunks through the processor, on one of the executors.

Every executor runs the same thing: coffea's ``Runner`` over the plan's
chunks with the processor wrapped in :class:`ChunkRecorder`, which checks the
chunk's file on the tree coffea has just read (branches, NanoAOD flavour,
simulation or data: :func:`.fileset.file_facts`, the check the plan does not
do in advance), stores the chunk's output with those facts as data-only JSON
in ``OUT.incomplete/chunks/`` and hands coffea back only the chunk's name.  So

* ``iterative`` (one process), ``futures`` (local processes), ``dask`` (a
  local cluster, or an existing one given by ``scheduler="tcp://host:port"``),
  ``condor`` (Dask workers as HTCondor jobs) and ``batch`` (HTCondor jobs that
  run the Iterative executor on their share of the chunks, :mod:`eventlens.condor.batch`)
  all leave the same files behind, and the finish step adds them up in the
  plan's order — bit-identical results whatever ran them;
* a resumed run skips the chunks whose results are already there;
* little travels back from the workers (a name per chunk), and the driver
  holds no chunk's output: its memory does not grow with the run.

A ready coffea executor may also be passed (e.g. ``FuturesExecutor(pool=...)``
to reuse warm workers across runs).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from coffea import processor

from eventlens.errors import ConfigError
from eventlens.processors.flavour import FLAVOUR_KEY
from eventlens.processors.inputs import MissingBranchError, Needs

from . import chunks as chunklib
from . import results
from .fileset import chunk_branches, file_facts

log = logging.getLogger(__name__)

EXECUTORS = ("iterative", "futures", "dask", "condor", "batch")


class ChunkRecorder(processor.ProcessorABC):
    """Check the chunk's file, run ``inner`` on the chunk, store its output in ``chunks_dir``,
    return the chunk's name.

    The check (:func:`.fileset.file_facts` on every branch of the file) is the
    one the plan did for the files it read in full; its verdict goes into the
    stored output, for the finish step: ``files`` — a set of ``(dataset, file,
    simulation, flavour, summary)`` — or, when a branch the task needs is
    missing, ``bad_files`` — a set of ``(dataset, file, message)`` — instead of
    the processor's output.  The file's NanoAOD flavour, detected from all its
    branches, is handed to ``inner`` in the chunk metadata (NanoEvents holds
    only the branches the task reads, too few to tell the flavour).
    """

    def __init__(
        self, inner: processor.ProcessorABC, chunks_dir: str | Path, needs: Needs | None = None
    ) -> None:
        self.inner = inner
        self.chunks_dir = str(chunks_dir)
        self.needs = needs if needs is not None else inner.needs

    def process(self, events: Any) -> dict[str, Any]:
        meta = events.metadata
        dataset, path = meta["dataset"], meta["filename"]
        name = chunklib.chunk_name(dataset, path, int(meta["entrystart"]), int(meta["entrystop"]))
        try:
            facts = file_facts(chunk_branches(events), self.needs, path)
        except MissingBranchError as exc:
            out: dict[str, Any] = {"bad_files": {(dataset, path, str(exc))}}
        else:
            meta[FLAVOUR_KEY] = facts["flavour"]
            out = self.inner.process(events)
            out["files"] = {
                (dataset, path, facts["simulation"], facts["flavour"], facts["summary"])
            }
        results.write(Path(self.chunks_dir) / f"{name}.json.gz", out)
        return {"chunks": {name}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


@contextlib.contextmanager
def make_executor(
    kind: str,
    workers: int = 2,
    status: bool = True,
    scheduler: str | None = None,
    condor_needs: Sequence[Any] = (),
    condor_settings: Any = None,
) -> Iterator[Any]:
    """Yield a ready coffea executor; clusters and clients made here are closed here.

    ``retries=0``: a chunk that fails is a bug or a broken file, and the
    processor reports broken files itself, so retrying only wastes time.
    ``dask`` starts a ``LocalCluster`` of ``workers`` single-threaded worker
    processes without a dashboard (no port clash with other users' clusters),
    or connects to ``scheduler``.  ``condor`` submits ``workers`` Dask worker
    jobs (:func:`eventlens.condor.cluster.condor_executor`).
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if scheduler is not None and kind != "dask":
        raise ConfigError(f"--scheduler {scheduler} needs --executor dask, not {kind}")
    if kind == "iterative":
        yield processor.IterativeExecutor(status=status, retries=0)
    elif kind == "futures":
        import loky

        # A pool per executor call (file checks, chunks): loky takes a worker's
        # reference size after its first task and recycles workers that grow 300 MB
        # past it, which a worker that checked files and then loads a model would do.
        # Each worker watches that this process still lives (no orphans after a kill).
        pool = functools.partial(
            loky.ProcessPoolExecutor, initializer=exit_with_parent, initargs=(os.getpid(),)
        )
        yield processor.FuturesExecutor(pool=pool, workers=workers, status=status, retries=0)
    elif kind == "dask" and scheduler is not None:
        from distributed import Client

        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            log.info("dask: %d worker(s) at %s", len(client.scheduler_info()["workers"]), scheduler)
            yield processor.DaskExecutor(client=client, status=status, retries=0)
    elif kind == "dask":
        from distributed import Client, LocalCluster

        log.info("starting a local dask cluster: %d worker processes", workers)
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            yield processor.DaskExecutor(client=client, status=status, retries=0)
    elif kind == "condor":
        from eventlens.condor.cluster import condor_executor

        with condor_executor(workers, status, condor_settings, condor_needs) as ex:
            yield ex
    else:
        raise ConfigError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")


def exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """In a worker process: end it when ``parent`` (the driver) is gone.

    A driver killed with SIGKILL cannot stop its pool, and loky's workers
    would go on computing chunks nobody collects.  A daemon thread notices the
    re-parenting within ``interval`` seconds and exits the worker.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="eventlens-parent-watch", daemon=True).start()


def run_chunks(
    items: Sequence[Any],
    proc: processor.ProcessorABC,
    chunks_dir: Path,
    executor: Any,
    *,
    filter_names: Sequence[str],
    timeout: int = 30,
    needs: Needs | None = None,
) -> None:
    """Run ``proc`` over ``items`` on the ready coffea ``executor``, recording every chunk
    (``needs``: what the task reads, default ``proc.needs``)."""
    from coffea.nanoevents import NanoAODSchema

    if not items:
        return
    runner = processor.Runner(executor=executor, schema=NanoAODSchema, xrootdtimeout=timeout)
    with progress_bars(getattr(executor, "status", True)):
        runner.run(
            list(items),
            ChunkRecorder(proc, chunks_dir, needs),
            uproot_options=uproot_options([i.filename for i in items]),
            iteritems_options={"filter_name": list(filter_names)},
        )


@contextlib.contextmanager
def progress_bars(status: bool) -> Iterator[None]:
    """coffea's progress bars, silenced when ``status`` is False.

    coffea draws its "Merging" bars (and, for futures, every bar) on its own
    rich console whatever an executor's ``status`` says; ``--quiet`` means
    quiet, so that console is muted for the duration.
    """
    from coffea.util import coffea_console

    if status:
        yield
        return
    before = coffea_console.quiet
    coffea_console.quiet = True
    try:
        yield
    finally:
        coffea_console.quiet = before


def uproot_options(paths: Sequence[str]) -> dict[str, Any]:
    """Memory-map local files instead of reading them through fsspec's event loop.

    NanoEvents reads branch by branch, and every fsspec request is a thread
    hand-off: memory-mapping saves ~20 % of the reading CPU.  Remote files
    keep uproot's default (fsspec, XRootD).
    """
    import uproot

    from .fileset import is_remote

    if any(is_remote(p) for p in paths):
        return {}
    return {"handler": uproot.source.file.MemmapSource}
