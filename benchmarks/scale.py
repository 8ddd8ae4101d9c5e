"""Scale: many files and one large file, eventlens against plain coffea (issue 19).

In one run, on filesets of ``N`` symlinks to the real CMS NanoAOD file
``nano_tt_v12.root`` (200 tt̄ events, 654 branches; ``--sizes``, default 100
and 1000), with coffea's IterativeExecutor and FuturesExecutor(2)
(``--executors``), this runs

* ``plain``  -- plain coffea: ``Runner(fileset, processor, treename="Events")``
                with coffea's defaults, the processor being eventlens' own
                :class:`~eventlens.processors.base.TaskProcessor` for dtw
                (the same cuts, weights, histograms and Parquet tables as
                ``eventlens select dtw``): the difference is the pipeline;
* ``plain_tuned`` -- the same, with the two reading options eventlens passes
                coffea (``filter_name``: the schema is built from the branches
                the task reads; memory-mapped local files), at the smallest N
                only (``--tuned``): how much of a difference is those options;
* ``select`` -- ``eventlens select dtw`` (the command line, in-process);
* ``infer``  -- ``eventlens infer`` with the shipped ``dtw_compact_cnn.onnx``;

and, once, ``eventlens infer`` (futures(2), ``--chunksize`` 100k) on one
large file (``--large-events``, default 1 M: nano_tt_v12 replicated with
uproot, the branches the tasks read; benchmarks/infer.py ``build_input``).

Each run is a child process (a fresh driver, as from the shell), sampled
every 0.2 s with psutil over its process tree: wall time, CPU seconds
(the process tree's, from ``wait4`` and the samples), peak RSS of the driver
and of each worker (for iterative the driver is the worker), and the
driver's time before the first chunk -- from the start of the process to
the moment the chunks are handed to the executor: imports, loading the
fileset, the plan's file checks (on the workers) and, for plain coffea,
its preprocessing.  The machine is shared: besides wall times and their
ratios (measured in the same run, one after the other), the CPU seconds and
the load average (``os.getloadavg``, ``uptime``) are saved.

The fileset's metadata gives ``xsec`` and ``sumw`` (= N × the file's Σ
genWeight): real NanoAOD has a ``Runs`` tree whose Σ genWeight the plan
reads at no cost, but this file, written by uproot, has none, and the
fallback (summing Events.genWeight, which needs the branches) is a
different measurement: one select run (futures, smallest N) gives xsec only.

Targets (issue 19): select ≤ 1.2 × plain wall time at N = 1000 with
futures(2); driver time before the first chunk ≤ 5 % of the total; infer
worker peak RSS < 2 GB on the large input.  Results:
``benchmarks/results/scale.json``.

    nice -n 10 .venv/bin/python benchmarks/scale.py [--sizes 100,1000] [--no-extras]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SOURCE = REPO.parent / "shared" / "data" / "nanoaod" / "nano_tt_v12.root"
DATA = HERE / "data" / "scale"
MODEL = REPO / "onnx_models" / "dtw_compact_cnn.onnx"
TT_XSEC = 833.9
KINDS = ("plain", "select", "infer")
CHILD_KINDS = (*KINDS, "plain_tuned")
#: The message run.py logs when it hands the chunks to the executor.
HANDOFF = "running %d chunk(s) of %d file(s) on %s"

log = logging.getLogger("benchmarks.scale")


# ---- inputs -------------------------------------------------------------------------
def file_sumw(path: Path) -> float:
    import uproot

    with uproot.open(path) as f:
        return float(f["Events"]["genWeight"].array(library="np").astype("f8").sum())


def fileset(n: int, folder: Path, sumw: bool = True) -> Path:
    """``n`` symlinks to the source file, and their fileset JSON (one ttbar dataset)."""
    files = folder / "files"
    files.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        link = files / f"tt_{i:05d}.root"
        if not link.is_symlink():
            link.symlink_to(SOURCE)
        paths.append(str(link))
    meta: dict[str, Any] = {"process": "ttbar", "xsec": TT_XSEC}
    if sumw:
        meta["sumw"] = n * file_sumw(SOURCE)
    out = folder / f"fileset_{n}{'' if sumw else '_fallback'}.json"
    out.write_text(json.dumps({"ttbar": {"files": {p: "Events" for p in paths}, "metadata": meta}}))
    return out


def large_input(events: int) -> Path:
    """nano_tt_v12 replicated to ``events`` events (benchmarks/infer.py ``build_input``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_infer", HERE / "infer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_input(SOURCE, events, DATA / f"tt_v12_{events}.root")


# ---- one run, in a child process -------------------------------------------------------
def child(args: argparse.Namespace) -> int:
    """Run one measurement; write the driver's hand-off time to ``args.timing``."""
    import psutil

    start = psutil.Process().create_time()
    marks: dict[str, float] = {}
    if args.kind.startswith("plain"):
        marks.update(_plain(args))
    else:
        marks.update(_eventlens(args))
    Path(args.timing).write_text(json.dumps({"start": start, **marks}))
    return 0


def _plain(args: argparse.Namespace) -> dict[str, float]:
    import warnings

    from coffea import processor
    from coffea.nanoevents import NanoAODSchema

    from eventlens.processors.base import TaskProcessor
    from eventlens.processors.registry import get_task, load_config

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    executor = (
        processor.IterativeExecutor(status=False)
        if args.executor == "iterative"
        else processor.FuturesExecutor(workers=args.workers, status=False)
    )
    runner = processor.Runner(executor=executor, schema=NanoAODSchema, chunksize=args.chunksize)
    fs = json.loads(Path(args.fileset).read_text())
    # Runner(fileset, ...) is preprocess + run; called apart to time the hand-off
    chunks = list(runner.preprocess(fs, treename="Events"))
    handoff = time.time()
    proc = TaskProcessor(get_task("dtw"), load_config("dtw"), output_dir=args.out)
    options: dict[str, Any] = {}
    if args.kind == "plain_tuned":
        from eventlens.pipeline.execute import uproot_options

        options = {
            "uproot_options": uproot_options([c.filename for c in chunks]),
            "iteritems_options": {"filter_name": proc.needs.filter_names()},
        }
    out = runner(chunks, proc, treename="Events", **options)
    read = sum(cf["read"] for cf in out["cutflow"].values())
    return {"handoff": handoff, "events": read}


def _eventlens(args: argparse.Namespace) -> dict[str, float]:
    from eventlens.cli import main

    handoff: list[float] = []

    class Mark(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == HANDOFF and not handoff:
                handoff.append(record.created)

    run_log = logging.getLogger("eventlens.pipeline.run")
    run_log.addHandler(Mark())
    run_log.setLevel(logging.INFO)
    run_log.propagate = False  # quiet, as -q, but the mark is seen
    argv = ["-q"]
    if args.kind == "select":
        argv += ["select", "dtw"]
    else:
        argv += ["infer", "--model", str(MODEL)]
    argv += [
        "--fileset",
        args.fileset,
        "-o",
        args.out,
        "--executor",
        args.executor,
        "--workers",
        str(args.workers),
        "--chunksize",
        str(args.chunksize),
    ]
    status = main(argv)
    if status:
        raise SystemExit(status)
    manifest = json.loads((Path(args.out) / "manifest.json").read_text())
    read = sum(cf["read"] for cf in manifest["cutflow"].values())
    return {"handoff": handoff[0] if handoff else float("nan"), "events": read}


# ---- the parent: run a child and sample its process tree ---------------------------------
def measure(
    kind: str, executor: str, fs: Path, workers: int, chunksize: int, work: Path
) -> dict[str, Any]:
    import psutil

    out = work / f"{kind}_{executor}_{fs.stem}"
    timing = work / f"{out.name}.timing.json"
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--executor",
        executor,
        "--fileset",
        str(fs),
        "--out",
        str(out),
        "--timing",
        str(timing),
        "--workers",
        str(workers),
        "--chunksize",
        str(chunksize),
    ]
    load0 = os.getloadavg()
    t0 = time.time()
    proc = subprocess.Popen(cmd)
    root = psutil.Process(proc.pid)
    rss: dict[int, int] = {}
    cpu: dict[int, float] = {}
    names: dict[int, str] = {}
    rusage = None
    while True:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        for p in tree:
            try:
                with p.oneshot():
                    mem, times = p.memory_info().rss, p.cpu_times()
                    names.setdefault(p.pid, " ".join(p.cmdline()[:3])[-60:])
            except psutil.Error:
                continue
            rss[p.pid] = max(rss.get(p.pid, 0), mem)
            cpu[p.pid] = times.user + times.system
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            rusage = usage
            break
        time.sleep(0.2)
    wall = time.time() - t0
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with status {status}")
    marks = json.loads(timing.read_text())
    # workers: the driver's descendants with a real footprint (not loky's tracker)
    workers_rss = {pid: r for pid, r in rss.items() if pid != proc.pid and r > 150e6}
    cpu_wait4 = rusage.ru_utime + rusage.ru_stime if rusage else 0.0
    result = {
        "kind": kind,
        "executor": executor,
        "workers": workers if executor != "iterative" else 1,
        "wall_s": round(wall, 2),
        "driver_before_first_chunk_s": round(marks["handoff"] - marks["start"], 2),
        "cpu_s": round(max(cpu_wait4, sum(cpu.values())), 2),
        "driver_peak_rss_mb": round(rss.get(proc.pid, 0) / 1e6),
        "worker_peak_rss_mb": round(max(workers_rss.values(), default=rss.get(proc.pid, 0)) / 1e6),
        "worker_processes": len(workers_rss),
        "events": int(marks["events"]),
        "loadavg_before": [round(x, 2) for x in load0],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    result["before_first_chunk_fraction"] = round(
        result["driver_before_first_chunk_s"] / result["wall_s"], 4
    )
    log.info(
        "%-6s %-9s %-22s wall %7.1f s, before first chunk %6.1f s (%4.1f %%), CPU %7.1f s, "
        "RSS driver %5d MB, worker %5d MB, load %.1f",
        kind,
        executor,
        fs.stem,
        result["wall_s"],
        result["driver_before_first_chunk_s"],
        100 * result["before_first_chunk_fraction"],
        result["cpu_s"],
        result["driver_peak_rss_mb"],
        result["worker_peak_rss_mb"],
        load0[0],
    )
    return result


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="100,1000", help="files per fileset, comma-separated")
    p.add_argument("--executors", default="iterative,futures")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chunksize", type=int, default=100_000)
    p.add_argument("--large-events", type=int, default=1_000_000, help="0: no large input")
    p.add_argument(
        "--no-extras",
        action="store_true",
        help="skip the smallest N's extra runs: plain_tuned, and select with the Events "
        "Σ genWeight fallback (futures)",
    )
    p.add_argument("--output", type=Path, default=HERE / "results" / "scale.json")
    # child mode (one measurement)
    p.add_argument("--child", choices=CHILD_KINDS, help=argparse.SUPPRESS)
    p.add_argument("--executor", default="iterative", help=argparse.SUPPRESS)
    p.add_argument("--fileset", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--timing", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.kind = args.child
        return child(args)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%X")
    if not SOURCE.exists():
        log.error("%s not found", SOURCE)
        return 2
    report: dict[str, Any] = {
        "benchmark": "issue 19: many files / one large file, eventlens vs plain coffea",
        "source": {"file": str(SOURCE), "events": 200, "branches": 654},
        "plain_processor": "eventlens.processors.base.TaskProcessor (dtw) in coffea's "
        "Runner with its defaults",
        "chunksize": args.chunksize,
        "uptime_start": uptime(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "runs": [],
    }
    import coffea

    import eventlens

    report["versions"] = {"coffea": coffea.__version__, "eventlens": eventlens.__version__}
    work = Path(tempfile.mkdtemp(prefix="eventlens-scale-"))
    log.info("outputs in %s; %s", work, report["uptime_start"])
    sizes = [int(x) for x in args.sizes.split(",")]
    for n in sizes:
        fs = fileset(n, DATA)
        for executor in args.executors.split(","):
            kinds = args.kinds.split(",")
            if n == min(sizes) and not args.no_extras:
                kinds.append("plain_tuned")
            for kind in kinds:
                row = measure(kind, executor, fs, args.workers, args.chunksize, work)
                row["files"] = n
                report["runs"].append(row)
                _write(report, args.output)  # keep what is measured if a later run fails
        if n == min(sizes) and not args.no_extras:
            fallback = fileset(n, DATA, sumw=False)
            row = measure("select", "futures", fallback, args.workers, args.chunksize, work)
            row.update(files=n, sumw="Events.genWeight fallback")
            report["runs"].append(row)
    if args.large_events:
        path = large_input(args.large_events)
        large = DATA / f"fileset_large_{args.large_events}.json"
        meta = {"process": "ttbar", "xsec": TT_XSEC}
        large.write_text(json.dumps({"ttbar": {"files": {str(path): "Events"}, "metadata": meta}}))
        row = measure("infer", "futures", large, args.workers, args.chunksize, work)
        row.update(files=1, large_input={"file": str(path), "bytes": path.stat().st_size})
        report["large"] = row
    report["ratios"] = ratios(report["runs"])
    report["uptime_end"] = uptime()
    report["targets"] = targets(report)
    _write(report, args.output)
    log.info("wrote %s", args.output)
    for key, value in report["targets"].items():
        log.info("target %s: %s", key, value)
    return 0


def ratios(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """select/plain and infer/plain per (files, executor), in wall and CPU seconds."""
    out: dict[str, Any] = {}
    by = {(r["files"], r["executor"], r["kind"]): r for r in runs if "sumw" not in r}
    for (n, ex, kind), r in by.items():
        plain = by.get((n, ex, "plain"))
        if kind == "plain" or plain is None:
            continue
        out[f"{kind}/plain {n} files {ex}"] = {
            "wall": round(r["wall_s"] / plain["wall_s"], 3),
            "cpu": round(r["cpu_s"] / plain["cpu_s"], 3),
        }
    return out


def targets(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    key = "select/plain 1000 files futures"
    if key in report["ratios"]:
        r = report["ratios"][key]
        out["select <= 1.2 x plain wall, N=1000 futures(2)"] = {
            "ratio": r["wall"],
            "met": r["wall"] <= 1.2,
        }
    fractions = {
        f"{r['kind']} {r['files']} {r['executor']}": r["before_first_chunk_fraction"]
        for r in report["runs"]
        if not r["kind"].startswith("plain") and "sumw" not in r
    }
    if fractions:
        worst = max(fractions.values())
        out["driver before first chunk <= 5 %"] = {
            "worst": worst,
            "met": worst <= 0.05,
            "runs": fractions,
        }
    if "large" in report:
        mb = report["large"]["worker_peak_rss_mb"]
        out["infer worker peak RSS < 2 GB, large input"] = {"mb": mb, "met": mb < 2000}
    return out


def _write(report: dict[str, Any], path: Path) -> None:
    from eventlens.io import write_json

    write_json(path, report)


if __name__ == "__main__":  # required: futures workers are spawned processes
    sys.exit(main())
