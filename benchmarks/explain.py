"""Explanation methods on one trained model: exactness and cost, measured in one run.

    .venv/bin/python benchmarks/explain.py --checkpoint RUN/best.pt --table DIR \
        [--onnx MODEL.onnx] [--events 12] [--steps 10,25,50,100,200] [--threads 2]

On ``--events`` test-split events of the table (balanced over classes), it reports

* Integrated Gradients (captum, Gauss–Legendre) at each ``--steps``: the
  completeness residual |Σ attributions − (f(x) − f(empty))| per event and
  class (max, median, and relative to |f(x) − f(empty)|), and seconds per
  event for all classes;
* object Shapley values (remove objects, redraw, re-score) on the ONNX model
  when given (else the checkpoint): seconds per event, forward passes, the
  largest residual (0 up to rounding: exact by construction);
* object occlusion (leave one out): seconds per event and how far it is from
  complete (the interaction remainder, relative to the score change);
* agreement of IG (largest ``--steps``) with the Shapley values: how often the
  two name the same most important object towards the predicted class, and
  the sign agreement on objects with |φ| > 0.05.

Results are printed and written atomically to ``benchmarks/results/explain.json``
(with the load average: other processes on the same cores change the timings).
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python benchmarks/explain.py` puts benchmarks/ first on sys.path, where
# benchmarks/selection.py would shadow the standard library's `select` module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import datetime as dt
import logging
import os
import time
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
log = logging.getLogger("benchmarks.explain")


def _events(model: Any, table: Any, n: int) -> np.ndarray:
    from eventlens.explain.run import candidate_events, choose_events

    pool, text = candidate_events(table, model, "test")
    log.info("events from %s", text)
    return choose_events(table, pool, n, seed=0)


def _timed(explainer: Any, table: Any, rows: np.ndarray) -> tuple[list[Any], float]:
    t0 = time.perf_counter()
    out = list(explainer.explain(table, rows))
    return out, (time.perf_counter() - t0) / max(len(rows), 1)


def ig_scan(model: Any, table: Any, rows: np.ndarray, steps: list[int]) -> tuple[list[dict], list]:
    from eventlens.explain import Explainer, ExplainOptions

    results = []
    last: list[Any] = []
    for n_steps in steps:
        ex, seconds = _timed(Explainer(model, ExplainOptions(method="ig", n_steps=n_steps)),
                             table, rows)
        delta = np.abs(np.stack([e.residual for e in ex]))
        change = np.abs(np.stack([e.scores - e.baseline_scores for e in ex]))
        moved = change > 0.01  # relative residuals only where the score really moves
        rel = delta[moved] / change[moved]
        results.append({
            "n_steps": n_steps, "seconds_per_event": seconds,
            "max_abs_delta": float(delta.max()), "median_abs_delta": float(np.median(delta)),
            "max_rel_delta": float(rel.max()) if rel.size else None,
            "median_rel_delta": float(np.median(rel)) if rel.size else None,
            "n_rel": int(rel.size),
        })
        log.info("IG n_steps %4d: %.3f s/event, |delta| max %.2e median %.2e, rel max %s",
                 n_steps, seconds, delta.max(), np.median(delta),
                 f"{rel.max():.2e}" if rel.size else "-")
        last = ex
    return results, last


def removal(model: Any, table: Any, rows: np.ndarray, method: str) -> tuple[dict, list]:
    from eventlens.explain import Explainer, ExplainOptions

    ex, seconds = _timed(Explainer(model, ExplainOptions(method=method)), table, rows)
    resid = np.abs(np.stack([e.residual for e in ex]))
    change = np.abs(np.stack([e.scores - e.baseline_scores for e in ex]))
    moved = change > 0.01
    out = {
        "method": method, "backend": model.backend, "seconds_per_event": seconds,
        "forward_passes_per_event": float(np.mean([e.details["evaluations"] for e in ex])),
        "exact_fraction": float(np.mean([e.details["exact"] for e in ex])),
        "max_abs_residual": float(resid.max()),
        "median_rel_residual": float(np.median(resid[moved] / change[moved])) if moved.any()
        else None,
    }
    log.info("%s (%s): %.3f s/event, %.0f passes/event, max |residual| %.2e", method,
             model.backend, seconds, out["forward_passes_per_event"], resid.max())
    return out, ex


def agreement(ig: list[Any], shap: list[Any]) -> dict[str, Any]:
    top = signs = total = 0
    for a, b in zip(ig, shap, strict=True):
        k = b.predicted
        ra, rb = a.ranking(k), b.ranking(k)
        if ra and rb:
            top += ra[0]["object"] == rb[0]["object"]
        big = np.abs(b.attributions[:, k]) > 0.05
        signs += int((np.sign(a.attributions[big, k]) == np.sign(b.attributions[big, k])).sum())
        total += int(big.sum())
    return {"top_object_agreement": top / max(len(ig), 1),
            "sign_agreement_big": signs / total if total else None, "n_big": total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--onnx", type=Path, default=None)
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--events", type=int, default=12)
    parser.add_argument("--steps", default="10,25,50,100,200")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path,
                        default=HERE / "results" / "explain.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import torch

    from eventlens.explain import load_explainable
    from eventlens.io import write_json
    from eventlens.training.table import read_table

    torch.set_num_threads(args.threads)
    model = load_explainable(args.checkpoint, threads=args.threads)
    table = read_table(args.table)
    rows = _events(model, table, args.events)
    steps = [int(s) for s in args.steps.split(",")]
    ig, ig_last = ig_scan(model, table, rows, steps)
    fwd = load_explainable(args.onnx, threads=args.threads) if args.onnx else model
    shapley, shap_ex = removal(fwd, table, rows, "shapley")
    occlusion, _ = removal(fwd, table, rows, "occlusion")
    result = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "checkpoint": str(args.checkpoint), "onnx": str(args.onnx) if args.onnx else None,
        "table": str(args.table), "events": len(rows), "classes": model.classes,
        "model": model.name, "threads": args.threads, "load_average": list(os.getloadavg()),
        "integrated_gradients": ig, "object_shapley": shapley, "object_occlusion": occlusion,
        "ig_vs_shapley": agreement(ig_last, shap_ex),
    }
    log.info("IG (n_steps %d) vs Shapley: %s", steps[-1], result["ig_vs_shapley"])
    write_json(args.output, result)
    log.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
