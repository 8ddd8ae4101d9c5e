"""Start-up time and memory of an inference worker, with and without torch (issue 17).

A coffea worker process that classifies events starts from nothing: the interpreter,
coffea, eventlens' processors, ROOT (the C++ renderer), onnxruntime and the model's
session, then its first chunk.  Each variant runs in a fresh process
(``python -c``), ``--repeat`` times, interleaved; the parent reads each child's
resource usage (``os.wait4``: peak RSS, user+system CPU) and wall time:

``without torch``   what a worker does now: ``import coffea.processor``, the
                    processors, ``eventlens.load_model(MODEL)``, one chunk of a real
                    NanoAOD file through ``predict_proba`` (selection, rendering, ONNX);
``with torch``      the same after ``import coffea.ml_tools`` — which imports torch,
                    as eventlens' ONNX wrapper did before issue 17.

CPU seconds are the stable measure on a shared machine (wall time counts waiting for
the other jobs' cores); the load average is recorded with the results.

    python benchmarks/worker.py [--repeat 5] [-o benchmarks/results/worker.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "nanoaod" / "nano_tt_v12.root"
MODEL = "dtw_compact_cnn"

WORKER = """
import sys, time, warnings
t0 = time.perf_counter()
{prelude}
import coffea.processor
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory
import eventlens, eventlens.processors.inference
t_import = time.perf_counter()
model = eventlens.load_model({model!r})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    events = NanoEventsFactory.from_root({{{sample!r}: "Events"}}, schemaclass=NanoAODSchema,
                                         mode="virtual").events()
p = model.predict_proba(events)
t_chunk = time.perf_counter()
assert p.shape == (len(events), len(model.classes))
print(t_import - t0, t_chunk - t0, int("torch" in sys.modules))
"""

VARIANTS = {"without_torch": "", "with_torch": "import coffea.ml_tools  # imports torch"}


def run_once(prelude: str, python: str) -> dict[str, float]:
    code = WORKER.format(prelude=prelude, model=MODEL, sample=str(SAMPLE))
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"worker failed:\n{err}")
    t_import, t_chunk, torch = out.split()[-3:]
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "imports_s": float(t_import),
        "first_chunk_done_s": float(t_chunk),
        "torch_loaded": bool(int(torch)),
    }


def summarise(runs: list[dict[str, float]]) -> dict[str, object]:
    keys = ("wall_s", "cpu_s", "max_rss_mb", "imports_s", "first_chunk_done_s")
    out: dict[str, object] = {
        f"{k}_median": round(statistics.median(r[k] for r in runs), 3) for k in keys
    }
    out.update({f"{k}_min": round(min(r[k] for r in runs), 3) for k in keys})
    out["torch_loaded"] = runs[0]["torch_loaded"]
    out["runs"] = runs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the worker")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="without_torch alone for an environment without torch")
    parser.add_argument("-o", "--output", type=Path,
                        default=REPO / "benchmarks" / "results" / "worker.json")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in args.variants}
    load_before = os.getloadavg()
    run_once("", args.python)  # warm the page cache and Python's bytecode caches
    for _ in range(args.repeat):
        for name in args.variants:
            runs[name].append(run_once(VARIANTS[name], args.python))
    results = {name: summarise(r) for name, r in runs.items()}
    result: dict[str, object] = {
        "what": "fresh worker process: imports, load_model, one chunk (predict_proba) of "
        f"{SAMPLE.name} (200 events); peak RSS and CPU from os.wait4",
        "model": MODEL,
        "python": args.python,
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "targets": {"wall_s": 2.0, "max_rss_mb": 400.0, "without": "torch"},
        **results,
    }
    if len(results) == 2:
        a, b = results["with_torch"], results["without_torch"]
        result["torch_costs"] = {
            k: round(a[f"{k}_median"] - b[f"{k}_median"], 3)  # type: ignore[operator]
            for k in ("cpu_s", "wall_s", "max_rss_mb")
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    for name in args.variants:
        r = results[name]
        print(f"{name:14s} wall {r['wall_s_median']:.2f} s  cpu {r['cpu_s_median']:.2f} s  "
              f"rss {r['max_rss_mb_median']:.0f} MB  imports {r['imports_s_median']:.2f} s")
    print("torch costs", result.get("torch_costs"), "load", load_before, "->",
          result["load_average_after"])


if __name__ == "__main__":
    main()
