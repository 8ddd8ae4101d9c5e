"""coffea executors by name: iterative, futures (local processes) and dask (local cluster)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from coffea import processor

from eventlens.errors import ConfigError

log = logging.getLogger(__name__)

EXECUTORS = ("iterative", "futures", "dask")


@contextlib.contextmanager
def make_executor(
    kind: str, workers: int = 2, status: bool = True
) -> Iterator[processor.executor.ExecutorBase]:
    """Yield a ready coffea executor; a dask cluster is created and closed here.

    ``retries=0``: a chunk that fails is a bug or a broken file, and the
    processor already reports broken files itself, so retrying only wastes time.
    ``dask`` starts a ``LocalCluster`` of ``workers`` single-threaded worker
    processes without a dashboard (no port clash with other users' clusters).
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if kind == "iterative":
        yield processor.IterativeExecutor(status=status)
    elif kind == "futures":
        yield processor.FuturesExecutor(workers=workers, status=status, retries=0)
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
    else:
        raise ConfigError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")
