"""``eventlens explain``: why does a model call events what it calls them?

Writes, into OUT: one JSON record per event (object and, for table models,
feature attributions towards every class), overlay figures of the first
events, and a summary page (``summary.md`` + ``summary.json``) with the object
kinds that drive each class.  Methods: Integrated Gradients for checkpoints,
exact object Shapley values (remove objects, redraw, re-infer) for ONNX
models; see ``docs/explain.md``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..errors import EventLensError
    from ..explain.explainer import ExplainOptions
    from ..explain.run import run_explain

    summary = args.output / "summary.json"
    if summary.exists() and not args.overwrite:
        raise FileExistsError(f"{summary} exists; pass --overwrite to replace the run")
    if args.events < 1:
        raise EventLensError(f"--events {args.events}: need at least one event")
    options = ExplainOptions(
        method=args.method, n_steps=args.n_steps, table_baseline=args.table_baseline,
        max_exact=args.max_exact, n_permutations=args.permutations, chunk=args.chunk,
        seed=args.seed)
    result = run_explain(
        args.model, args.table, args.output, n_events=args.events, options=options,
        score=args.score, split=args.split, figures=args.figures, threads=args.threads,
        checkpoint=args.checkpoint, progress=not args.quiet, seed=args.seed)
    for cls, pc in result.summary["per_class"].items():
        log.info("%s: driver %s (ranking %s)", cls, pc["driver"], ", ".join(pc["ranking"]))
    return 0


#: The methods of :mod:`eventlens.explain.explainer` (kept here: registering a subcommand
#: must not import torch).
METHODS = ("auto", "ig", "shapley", "occlusion")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="explain a model's decisions per object and feature",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True,
                   help="checkpoint (best.pt or run folder) or exported .onnx (card beside it)")
    p.add_argument("--table", type=Path, required=True, help="object table folder")
    p.add_argument("--events", type=int, default=60, help="events to explain (default 60)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--method", choices=METHODS, default="auto",
                   help="auto: ig for checkpoints, shapley for ONNX (default)")
    p.add_argument("--score", choices=("probability", "logit"), default="probability",
                   help="what is attributed (default: softmax probability)")
    p.add_argument("--n-steps", type=int, default=50, help="IG integration points (default 50)")
    p.add_argument("--table-baseline", choices=("mean", "empty"), default="mean",
                   help="table models: reference event (default: training mean)")
    p.add_argument("--max-exact", type=int, default=10,
                   help="exact object Shapley values up to this many objects (default 10)")
    p.add_argument("--permutations", type=int, default=64,
                   help="sampled orders for events with more objects (default 64)")
    p.add_argument("--split", choices=("test", "all"), default="test",
                   help="explain test-split events when the table matches the model (default)")
    p.add_argument("--figures", type=int, default=6, help="events with figures (default 6)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="ONNX + --method ig: the checkpoint to take gradients from "
                        "(default: the one in the model card)")
    p.add_argument("--chunk", type=int, default=16, help="events per batch (default 16)")
    p.add_argument("--threads", type=int, default=2, help="torch/onnxruntime threads (default 2)")
    p.add_argument("--seed", type=int, default=0, help="event choice and sampled orders")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in OUT")
    p.set_defaults(func=run)
