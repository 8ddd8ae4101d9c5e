"""Generate one process into one NanoAOD file: chunks, worker processes, progress, merge.

The event stream is cut into *chunks*, each with its own Pythia seed derived
from ``(seed, process, chunk)``; chunks are independent, so ``--jobs K`` runs
them in K separate processes (Pythia is single-threaded) and the parent merges
the chunk files in chunk order.  The number of chunks depends on the number
of events (and ``--chunk-events``) only, never on ``--jobs`` (see
:func:`plan_chunks`), and it is part of the settings hash: the same seed and
events give identical arrays however many processes ran them.

All output goes through a temporary file that is renamed at the end, so an
interrupted run leaves nothing under the final name.  A run holds a lock
beside its output (``.NAME.lock``, a POSIX record lock the kernel releases
when the process dies, even by SIGKILL); the next run of the same output
takes it and removes what a killed run left (``.NAME.*.tmp``,
``.NAME.chunks-*``).  Worker processes die with their parent
(``PR_SET_PDEATHSIG`` on Linux, a watcher thread elsewhere), so killing the
parent never leaves Pythia workers running.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import math
import multiprocessing as mp
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import ConfigError, EventLensError
from ..io import atomic_path
from .config import DetectorConfig
from .nanoaod import DEFAULT_CLUSTER_SIZE, NanoAODWriter, iterate_columns
from .pileup import (
    PileupSettings,
    get_library,
    library_settings,
    load_library,
    pileup_settings,
)
from .pythia import CrossSection
from .randoms import derive_seed, stream_key
from .registry import Process, Registry, load_registry, settings_hash

log = logging.getLogger(__name__)

#: Largest chunk (events) one Pythia initialisation serves (init costs 0.3–0.6 s).
DEFAULT_CHUNK_EVENTS = 5000
#: Samples of at least 2 (4) x this many events are cut into at least 2 (4) chunks,
#: so ``--jobs 2`` (4) has work for every process without depending on ``--jobs``.
MIN_SPLIT_CHUNK_EVENTS = 1000
#: More chunks than this are rounded up to a multiple of it (even load for 1, 2, 4 jobs).
CHUNK_MULTIPLE = 4
#: Events per ``nextBatch`` call and detector pass.
DEFAULT_BATCH_SIZE = 250


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that decides what ``eventlens generate`` writes."""

    process: str
    events: int
    seed: int
    output: Path
    jobs: int = 1
    overwrite: bool = False
    mpi: bool = True
    chunk_events: int = DEFAULT_CHUNK_EVENTS
    batch_size: int = DEFAULT_BATCH_SIZE
    cluster_size: int = DEFAULT_CLUSTER_SIZE
    registry: Path | None = None
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    progress: bool = True
    tune: str | None = None  # a registry tune name; None: the registry's default tune
    pileup: float | None = None  # mean pileup; None: the process's or the registry's setting

    def validate(self) -> None:
        """ConfigError for values no run could succeed with (before any work starts)."""
        checks = [
            (self.events >= 1, f"--events must be a positive number of events, got {self.events}"),
            (0 <= self.seed < 2**63, f"--seed must be a non-negative integer, got {self.seed}"),
            (self.jobs >= 1, f"--jobs must be at least 1, got {self.jobs}"),
            (self.chunk_events >= 1, f"--chunk-events must be at least 1, got {self.chunk_events}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.cluster_size >= 1, f"cluster size must be at least 1, got {self.cluster_size}"),
            (self.pileup is None or 0 <= self.pileup < 1000,
             f"--pileup must be a mean number of interactions in [0, 1000), got {self.pileup}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


@dataclass(frozen=True)
class Chunk:
    """One independently seeded slice of the event stream."""

    index: int
    first_event: int  # 1-based event number of its first event
    n_events: int


@dataclass(frozen=True)
class ChunkJob:
    """What a worker process needs to generate one chunk (picklable)."""

    process: Process
    base_settings: tuple[str, ...]
    registry_path: str
    seed: int
    mpi: bool
    chunk: Chunk
    batch_size: int
    detector: DetectorConfig
    pileup: PileupSettings = field(default_factory=PileupSettings)
    pileup_library: str = ""  # the library file (loaded once per process)


@dataclass
class GenerationResult:
    """Summary of a finished run."""

    path: Path
    process: str
    n_events: int
    n_chunks: int
    cross_section: CrossSection
    settings_hash: str
    wall_seconds: float
    cpu_seconds: float  # this process + worker processes
    metadata: dict[str, Any]
    worker_cpu_seconds: list[float] = field(default_factory=list)  # per chunk, worker processes


def n_chunks_for(events: int, chunk_events: int) -> int:
    """How many chunks ``events`` are cut into: a function of the sample alone, not of ``--jobs``.

    ``ceil(events / chunk_events)``, but at least 2 (4) when every chunk keeps
    ≥ :data:`MIN_SPLIT_CHUNK_EVENTS` events, so small samples still run in
    parallel (Pythia's initialisation, 0.3–1 s per chunk, stays a few per cent);
    above 4, rounded up to a multiple of 4 so 1, 2 or 4 workers get equal shares.
    The chunk count decides the events (each chunk has its own Pythia seed), so
    it is stored in the file and hashed with the settings.
    """
    n = math.ceil(events / chunk_events)
    splittable = min(CHUNK_MULTIPLE, events // MIN_SPLIT_CHUNK_EVENTS)
    n = max(n, 1 << (splittable.bit_length() - 1) if splittable > 0 else 1)
    if n > CHUNK_MULTIPLE:
        n = CHUNK_MULTIPLE * math.ceil(n / CHUNK_MULTIPLE)
    return max(1, min(events, n))


def plan_chunks(events: int, chunk_events: int) -> list[Chunk]:
    """Split ``events`` into :func:`n_chunks_for` near-equal chunks (event numbers from 1)."""
    n = n_chunks_for(events, chunk_events)
    edges = [round(i * events / n) for i in range(n + 1)]
    return [Chunk(i, edges[i] + 1, edges[i + 1] - edges[i]) for i in range(n)]


def sample_pileup(
    registry: Registry, process: Process, request: GenerationRequest
) -> PileupSettings:
    """The pileup a request gets: ``--pileup``, else the process's, else the registry's."""
    return pileup_settings(registry, process.pileup, request.pileup)


def sample_settings(
    registry: Registry, process: Process, request: GenerationRequest
) -> dict[str, Any]:
    """The settings that identify a sample: physics, tune, pileup, detector, versions, seed, size.

    Pileup enters with its mean and, when on, the hash of the minimum-bias
    library's settings (process, tune, size, Pythia version), so a file made
    without pileup or with another library is never reused for this request.
    """
    pileup = sample_pileup(registry, process, request)
    pileup_entry = pileup.to_dict()
    if pileup.enabled:
        pileup_entry["library_hash"] = settings_hash(
            library_settings(registry, pileup, request.tune)
        )
    return {
        **registry.settings_for(process, request.tune),
        "pileup": pileup_entry,
        "detector": request.detector.to_dict(),
        "mpi": request.mpi,
        "seed": request.seed,
        "n_events": request.events,
        "n_chunks": n_chunks_for(request.events, request.chunk_events),
        "pythia8mc": version("pythia8mc"),
        "fastjet": version("fastjet"),
    }


# --------------------------------------------------------------------------- the work of one chunk


def _generate_chunk(
    job: ChunkJob, sink: Callable[[Any], None], progress: Callable[[int], None]
) -> CrossSection:
    """Generate a chunk batch by batch, handing each simulated batch to ``sink``."""
    from .detector import PileupInput, simulate
    from .pythia import PythiaSource

    stream = stream_key(job.process.name)
    seeds = [
        derive_seed(job.seed, stream, job.chunk.index, i) for i in range(len(job.process.instances))
    ]
    pileup = (
        PileupInput(load_library(Path(job.pileup_library)), job.pileup)
        if job.pileup.enabled
        else None
    )
    source = PythiaSource(
        job.process, job.base_settings, seeds, mpi=job.mpi, registry_path=job.registry_path
    )
    done = 0
    while done < job.chunk.n_events:
        n = min(job.batch_size, job.chunk.n_events - done)
        batch = source.next_batch(n)
        numbers = job.chunk.first_event + done + np.arange(n, dtype=np.int64)
        sink(
            simulate(
                batch, source.charges, job.seed, stream, numbers, job.chunk.index + 1,
                job.detector, pileup,
            )
        )
        done += n
        progress(n)
    for message in source.messages():
        log.debug("pythia[%s chunk %d]: %s", job.process.name, job.chunk.index, message)
    return source.cross_section()


_progress_queue: Any = None


#: Linux prctl option: the signal a process receives when its parent dies.
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """End this (worker) process when ``parent_pid`` dies, even by SIGKILL.

    Pool workers otherwise outlive a killed parent and keep generating for
    nobody (issue 13).  Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, then a
    check that the parent did not die before the call; elsewhere a daemon
    thread that watches ``getppid()``.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed (errno %d)", ctypes.get_errno())
    else:

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="watch-parent", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)


def _init_worker(progress_queue: Any, log_level: int, parent_pid: int) -> None:
    global _progress_queue
    die_with_parent(parent_pid)
    _progress_queue = progress_queue
    # Ctrl-C reaches the whole process group: let only the parent handle it
    # (it terminates the workers and removes the temporary files); the parent's
    # SIGTERM-as-interrupt handler (inherited by fork) must not apply here either.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")


def _worker(job: ChunkJob, path: str, cluster_size: int) -> tuple[int, CrossSection, float]:
    """Worker-process entry point: one chunk into its own file."""
    start = time.process_time()

    def report(n: int) -> None:
        if _progress_queue is not None:
            _progress_queue.put(n)

    with NanoAODWriter(path, cluster_size=cluster_size) as writer:
        xsec = _generate_chunk(job, writer.write, report)
        writer.finish({"chunk": job.chunk.index})
    return job.chunk.index, xsec, time.process_time() - start


# --------------------------------------------------------------------------- orchestration


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (e.g. a batch system evicting the job) into KeyboardInterrupt.

    Python dies on SIGTERM without unwinding, which would leave temporary files
    behind; as an exception it unwinds and cleans up like Ctrl-C.
    """

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _progress_bar(total: int, desc: str, enabled: bool) -> Iterator[Any]:
    from tqdm import tqdm

    class Bar(tqdm):  # type: ignore[type-arg]
        monitor_interval = 0  # no monitor thread: keeps the process safe to fork

    with Bar(
        total=total, desc=desc, unit="ev", disable=not enabled, dynamic_ncols=True, smoothing=0.1
    ) as bar:
        yield bar


def _mp_context() -> Any:
    """``fork`` where it is safe, else ``spawn``.

    A forked worker starts in milliseconds with every module already imported;
    a spawned one re-imports numpy/awkward/uproot/Pythia/FastJet (~1 s of CPU
    each), which costs 10-15 % of a 2000-event run.  Forking is only safe in a
    single-threaded process without ROOT (cling, implicit-MT pools), on Linux.
    """
    if (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and not {"ROOT", "cppyy", "torch"} & set(sys.modules)
    ):
        # import in the parent what every worker needs, so children inherit it
        from . import detector, pythia  # noqa: F401

        return mp.get_context("fork")
    return mp.get_context("spawn")


def _drain(progress_queue: Any, bar: Any) -> None:
    with contextlib.suppress(queue.Empty):
        while True:
            bar.update(progress_queue.get_nowait())


def _run_parallel(
    jobs: list[ChunkJob], n_workers: int, tmpdir: Path, cluster_size: int, bar: Any
) -> tuple[list[Path], list[CrossSection], list[float]]:
    """Run the chunks in ``n_workers`` worker processes, each chunk into its own file.

    On any exception (Ctrl-C included) the workers are terminated at once
    instead of finishing their chunks, and the exception propagates so the
    caller's temporary files are removed.
    """
    ctx = _mp_context()
    log.debug("worker processes: %s start method", ctx.get_start_method())
    progress_queue = ctx.Queue()
    paths = [tmpdir / f"chunk{j.chunk.index:05d}.root" for j in jobs]
    pool = ctx.Pool(n_workers, initializer=_init_worker,
                    initargs=(progress_queue, logging.getLogger().level, os.getpid()))
    try:
        pending = [pool.apply_async(_worker, (job, str(path), cluster_size))
                   for job, path in zip(jobs, paths, strict=True)]
        results: dict[int, tuple[CrossSection, float]] = {}
        while pending:
            pending[0].wait(0.2)
            _drain(progress_queue, bar)
            for res in [r for r in pending if r.ready()]:
                index, xsec, cpu = res.get()  # re-raises a worker's exception here
                results[index] = (xsec, cpu)
                pending.remove(res)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    _drain(progress_queue, bar)
    ordered = [results[j.chunk.index] for j in jobs]
    return paths, [x for x, _ in ordered], [c for _, c in ordered]


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``output`` for a whole run; EventLensError if another run does.

    A POSIX record lock (``lockf``): the kernel drops it when the process dies,
    however it dies, and forked workers do not inherit it — so "the lock is
    free" means "no live run writes this output", and what such a run left
    behind can be removed (:func:`remove_leftovers`).
    """
    path = output.parent / f".{output.name}.lock"
    output.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise EventLensError(
                f"{output}: another eventlens run is writing it (lock {path} is held); "
                "wait for it to finish or stop it"
            ) from None
        try:  # the lock file may have been removed (and recreated) before we locked it
            same = path.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def remove_leftovers(output: Path) -> list[Path]:
    """Remove what a killed run of ``output`` left behind; call under :func:`output_lock`."""
    removed = []
    folder = output.parent
    if not folder.is_dir():
        return removed
    prefix = f".{output.name}."
    for item in folder.iterdir():
        name = item.name
        stale_file = name.startswith(prefix) and name.endswith(".tmp") and item.is_file()
        stale_dir = name.startswith(f"{prefix}chunks-") and item.is_dir()
        if stale_file or stale_dir:
            if stale_dir:
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)
            removed.append(item)
    if removed:
        log.info("%s: removed %d leftover(s) of an interrupted run: %s", output, len(removed),
                 ", ".join(p.name for p in removed))
    return removed


def generate(request: GenerationRequest) -> GenerationResult:
    """Generate ``request.events`` events of ``request.process`` into ``request.output``."""
    request.validate()
    registry = load_registry(request.registry)
    process = registry.get(request.process)
    output = Path(request.output)
    if output.is_dir():
        raise ConfigError(f"{output} is a folder; -o needs a file name, e.g. {output / 'out.root'}")
    if output.exists() and not request.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    with output_lock(output):
        remove_leftovers(output)
        return _generate_locked(request, registry, process, output)


def _generate_locked(
    request: GenerationRequest, registry: Registry, process: Process, output: Path
) -> GenerationResult:
    if output.suffix != ".root":
        log.warning("%s: NanoAOD files usually end in .root", output)
    cores = os.cpu_count() or 1
    if request.jobs > cores:
        log.warning(
            "--jobs %d is more than the %d CPU cores here: the jobs will share them",
            request.jobs,
            cores,
        )

    settings = sample_settings(registry, process, request)
    digest = settings_hash(settings)
    chunks = plan_chunks(request.events, request.chunk_events)
    tune_name, tune = registry.tune_settings(request.tune)
    base = (*registry.common, *tune)
    pileup = sample_pileup(registry, process, request)
    library_file = ""
    if pileup.enabled:  # built (or read) here, before any worker starts: forks share it
        path, _ = get_library(registry, pileup, request.tune, progress=request.progress)
        library_file = str(path)
    jobs = [
        ChunkJob(
            process,
            base,
            str(registry.path),
            request.seed,
            request.mpi,
            c,
            request.batch_size,
            request.detector,
            pileup,
            library_file,
        )
        for c in chunks
    ]
    n_workers = min(request.jobs, len(chunks))
    log.info(
        "generating %d %s events (seed %d, %d chunk%s, %d process%s, MPI %s, tune %s, "
        "pileup %s) -> %s",
        request.events,
        process.name,
        request.seed,
        len(chunks),
        "s" * (len(chunks) > 1),
        n_workers,
        "es" * (n_workers > 1),
        "on" if request.mpi else "off",
        tune_name,
        f"mu = {pileup.mu:g}" if pileup.enabled else "off",
        output,
    )

    wall0, cpu0 = time.perf_counter(), time.process_time()
    with (
        atomic_path(output, overwrite=request.overwrite) as tmp,
        _progress_bar(request.events, process.name, request.progress) as bar,
        NanoAODWriter(tmp, cluster_size=request.cluster_size) as writer,
    ):
        if n_workers == 1:
            xsecs = [_generate_chunk(job, writer.write, bar.update) for job in jobs]
            worker_cpu: list[float] = []
        else:
            with tempfile.TemporaryDirectory(
                prefix=f".{output.name}.chunks-", dir=output.parent
            ) as tmpdir:
                paths, xsecs, worker_cpu = _run_parallel(
                    jobs, n_workers, Path(tmpdir), request.cluster_size, bar
                )
                for path in paths:
                    for columns in iterate_columns(path, step=request.cluster_size):
                        writer.write(columns)
        xsec = CrossSection.combine(xsecs)
        metadata = {
            "process": process.name,
            "label": process.label,
            "description": process.description,
            "eventlens_version": __version__,
            "seed": request.seed,
            "n_events": request.events,
            "n_chunks": len(chunks),
            "mpi": request.mpi,
            "tune": tune_name,
            "pileup_mu": pileup.mu,
            "pileup_library": Path(library_file).name,
            **xsec.to_dict(),
            "settings_hash": digest,
            "settings_json": settings,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        writer.finish(metadata)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0 + sum(worker_cpu)
    log.info(
        "%s: %d events in %.1f s (%.0f ev/s wall), sigma = %.4g ± %.2g pb, %d clusters",
        output,
        request.events,
        wall,
        request.events / wall,
        xsec.sigma_pb,
        xsec.error_pb,
        writer.n_clusters,
    )
    return GenerationResult(
        output, process.name, request.events, len(chunks), xsec, digest, wall, cpu, metadata,
        worker_cpu,
    )
