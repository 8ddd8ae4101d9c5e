"""Generator speed: events/s per process with MPI on and off, and the speed-up of --jobs 2.

Every number comes from one run of the real chain (Pythia 8 + FastJet + the
detector + the uproot writer) through ``eventlens.generate.generate``:

- per process, ``--events`` events with MPI on and ``--events-no-mpi`` with
  MPI off, in this process: events per CPU-second (one core; Pythia's
  initialisation included, one chunk) and per wall-second;
- pileup: ``--pileup-events`` events of each ``--pileup-processes`` with
  ``--pileup MU`` and without, MPI on, one after the other in this process:
  events per CPU-second and their ratio (the cost of the overlay), and the
  one-time CPU cost of building the minimum-bias library (measured separately;
  the library is cached, so later runs only read it);
- ``--jobs-events`` events of ``--jobs-process`` with ``--jobs 1`` and
  ``--jobs 2`` (two chunks in two spawned processes, then merged): the
  wall-time speed-up, for each sample size given (comma-separated).  Each
  worker initialises its own Pythia (~1 s of CPU), a fixed cost that weighs on
  small samples only, so the speed-up is reported per size.

The machine may be shared: the load average is recorded before and after each
measurement, and CPU-second rates are the ones to compare with the target
(wall rates and the speed-up depend on what else runs).

    .venv/bin/python benchmarks/generate.py [--events 500] [--jobs-events 2000,10000]

Prints a table and writes benchmarks/results/generate.json (atomically).
"""

from __future__ import annotations

import sys

# Running a script puts its folder first on sys.path, where a sibling script named
# like a standard-library module (there was a benchmarks/select.py, which shadowed
# ``select`` for asyncio/subprocess, hence for awkward) would break the imports.
if sys.path and sys.path[0].rstrip("/").endswith("benchmarks"):
    del sys.path[0]

import argparse
import logging
import os
import platform
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from eventlens.generate import GenerationRequest, generate, load_registry
from eventlens.io import write_json

HERE = Path(__file__).resolve().parent
log = logging.getLogger("benchmarks.generate")

#: Targets from the issue.
TARGET_EV_PER_CORE_MPI = 80.0
TARGET_JOBS2_SPEEDUP = 1.8


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(process: str, events: int, mpi: bool, folder: Path, jobs: int = 1,
            pileup: float = 0.0) -> dict[str, Any]:
    """Generate once; wall and CPU time (workers included), rates, file size."""
    path = folder / f"{process}_{'mpi' if mpi else 'nompi'}_j{jobs}_pu{pileup:g}.root"
    before = load()
    result = generate(GenerationRequest(process, events, seed=1, output=path, mpi=mpi, jobs=jobs,
                                        overwrite=True, progress=False, pileup=pileup))
    size = path.stat().st_size
    path.unlink()
    return {
        "events": events,
        "jobs": jobs,
        "chunks": result.n_chunks,
        "wall_s": round(result.wall_seconds, 3),
        "cpu_s": round(result.cpu_seconds, 3),
        "events_per_cpu_second": round(events / result.cpu_seconds, 1),
        "events_per_wall_second": round(events / result.wall_seconds, 1),
        "kB_per_1000_events": round(size / events, 1),
        "xsec_pb": result.cross_section.sigma_pb,
        "worker_cpu_s": [round(c, 3) for c in result.worker_cpu_seconds],
        "parent_cpu_s": round(result.cpu_seconds - sum(result.worker_cpu_seconds), 3),
        "load_before": before,
        "load_after": load(),
    }


def jobs_speedup(process: str, events: int, folder: Path) -> dict[str, Any]:
    """``--jobs 1`` then ``--jobs 2`` on the same events: wall speed-up and CPU overhead."""
    one = measure(process, events, True, folder, jobs=1)
    two = measure(process, events, True, folder, jobs=2)
    speedup = one["wall_s"] / two["wall_s"]
    # What two idle cores would give: the busiest worker and the parent's serial part
    # (start-up, merge, writing) run one after the other; one job's CPU time is its wall
    # time on an idle core.  An estimate from CPU times, not a measurement.
    idle_estimate = one["cpu_s"] / (max(two["worker_cpu_s"]) + two["parent_cpu_s"])
    log.info("--jobs 2 on %d %s events: %.1f s -> %.1f s wall, speed-up %.2fx (load %s -> %s); "
             "from CPU times, two idle cores would give %.2fx", events, process,
             one["wall_s"], two["wall_s"], speedup, one["load_before"], two["load_after"],
             idle_estimate)
    return {"events": events, "jobs_1": one, "jobs_2": two, "speedup_wall": round(speedup, 3),
            "speedup_estimate_two_idle_cores_from_cpu_times": round(idle_estimate, 3),
            "cpu_overhead_jobs_2": round(two["cpu_s"] / one["cpu_s"], 3)}


def pileup_cost(processes: list[str], events: int, mu: float, folder: Path) -> dict[str, Any]:
    """The library's one-time cost, then each process with and without pileup (MPI on)."""
    from eventlens.generate.pileup import _LOADED, get_library, library_path, pileup_settings

    registry = load_registry()
    settings = pileup_settings(registry, None, mu)
    path = library_path(registry, settings, None)
    cached = path.exists()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    get_library(registry, settings, None)
    library = {
        "path": str(path),
        "interactions": settings.library_events,
        "was_cached": cached,
        "cpu_s": round(time.process_time() - cpu0, 2),
        "wall_s": round(time.perf_counter() - wall0, 2),
        "MB": round(path.stat().st_size / 1e6, 2),
    }
    _LOADED.clear()  # every measurement below reads the file, as a new run does
    per_process = {}
    for name in processes:
        without = measure(name, events, True, folder)
        with_pu = measure(name, events, True, folder, pileup=mu)
        ratio = without["events_per_cpu_second"] / with_pu["events_per_cpu_second"]
        per_process[name] = {"pileup_0": without, f"pileup_{mu:g}": with_pu,
                             "cpu_cost_ratio": round(ratio, 3)}
        log.info("%-10s %6.1f ev/CPU-s without pileup, %6.1f with mu = %g: %.2fx the CPU time "
                 "(%5.0f -> %5.0f kB/1000 ev)", name, without["events_per_cpu_second"],
                 with_pu["events_per_cpu_second"], mu, ratio, without["kB_per_1000_events"],
                 with_pu["kB_per_1000_events"])
    return {"mu": mu, "library": library, "processes": per_process}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500, help="events per process, MPI on")
    parser.add_argument("--events-no-mpi", type=int, default=1000,
                        help="events per process, MPI off")
    parser.add_argument("--processes", default=None,
                        help="comma-separated processes (default: every process in the registry; "
                             "'none' measures only the --jobs speed-up)")
    parser.add_argument("--jobs-process", default="ttbar")
    parser.add_argument("--jobs-events", default="2000,10000",
                        help="comma-separated sample sizes for the --jobs 2 speed-up")
    parser.add_argument("--pileup", type=float, default=30.0,
                        help="mean pileup of the with/without-pileup comparison (0: skip it)")
    parser.add_argument("--pileup-processes", default="dy,ttbar")
    parser.add_argument("--pileup-events", type=int, default=500)
    parser.add_argument("-o", "--output", type=Path, default=HERE / "results" / "generate.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("eventlens").setLevel(logging.WARNING)

    registry = load_registry()
    names = args.processes.split(",") if args.processes else list(registry.processes)
    names = [] if names == ["none"] else names
    started = load()
    t0 = time.perf_counter()
    per_process: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="eventlens-bench-") as tmp:
        folder = Path(tmp)
        for name in names:
            per_process[name] = {
                "mpi_on": measure(name, args.events, True, folder),
                "mpi_off": measure(name, args.events_no_mpi, False, folder),
            }
            on, off = per_process[name]["mpi_on"], per_process[name]["mpi_off"]
            log.info("%-10s MPI on %6.1f ev/CPU-s (%6.1f ev/s wall)   MPI off %7.1f ev/CPU-s "
                     "(%7.1f wall)   %5.0f kB/1000 ev   load %s", name,
                     on["events_per_cpu_second"], on["events_per_wall_second"],
                     off["events_per_cpu_second"], off["events_per_wall_second"],
                     on["kB_per_1000_events"], on["load_after"])
        pileup = (pileup_cost(args.pileup_processes.split(","), args.pileup_events, args.pileup,
                              folder) if args.pileup > 0 else None)
        by_size = {n: jobs_speedup(args.jobs_process, n, folder)
                   for n in (int(x) for x in args.jobs_events.split(",") if x)}
    largest = by_size[max(by_size)] if by_size else {}

    slowest = min(per_process, default=None,
                  key=lambda n: per_process[n]["mpi_on"]["events_per_cpu_second"])
    result = {
        "processes": per_process,
        "pileup": pileup,
        "jobs": {"process": args.jobs_process, **largest},
        "jobs_by_events": {str(n): r for n, r in by_size.items()},
        "targets": {"events_per_cpu_second_mpi_on_min": TARGET_EV_PER_CORE_MPI,
                    "jobs_2_speedup_min_on_2_idle_cores": TARGET_JOBS2_SPEEDUP},
        "targets_met": {
            "events_per_cpu_second_mpi_on": {
                n: p["mpi_on"]["events_per_cpu_second"] >= TARGET_EV_PER_CORE_MPI
                for n, p in per_process.items()},
            "slowest_process": slowest,
            "jobs_2_speedup": {str(n): r["speedup_wall"] >= TARGET_JOBS2_SPEEDUP
                               for n, r in by_size.items()},
        },
        "setup": {
            "cores": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "pythia8mc": version("pythia8mc"),
            "fastjet": version("fastjet"),
            "load_average_start": started,
            "load_average_end": load(),
            "total_wall_s": round(time.perf_counter() - t0, 1),
            "note": ("events/CPU-s include Pythia init (one chunk) and writing; the machine "
                     "was shared unless the load averages say otherwise"),
        },
    }
    write_json(args.output, result)
    log.info("wrote %s", args.output)


if __name__ == "__main__":
    main()
