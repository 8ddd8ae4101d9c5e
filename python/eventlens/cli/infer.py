"""``eventlens infer``: run a task's selection with an ONNX model in the loop.

Selects the events of the model's task (the same selection as ``eventlens
select``), renders them with the model card's render config, runs the model
with onnxruntime (CUDA when usable, else CPU) and fills weighted histograms of
the mass per predicted class and of every class's score.  ``eventlens plot
OUT`` draws them.  For a measurement it also fills OUT/histograms.json (process ×
region × variation × observable, with the scale-factor and shape systematics of the
selection config's ``measurement:`` block) and OUT/stats/{shapes.root, datacard.txt,
workspace.json}; ``eventlens fit OUT`` fits them.
"""

from __future__ import annotations

import argparse

from .select import add_run_arguments, run_options


def run(args: argparse.Namespace) -> int:
    from ..classifier import model_path
    from ..pipeline.infer import run_inference

    run_inference(
        model_path(args.model),
        args.fileset,
        args.output,
        scores=args.scores,
        shapes=not args.no_shapes,
        batch_size=args.batch_size,
        **run_options(args),
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "infer",
        help="classify events with an ONNX model inside the coffea loop",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        required=True,
        metavar="NAME|PATH",
        help="a shipped model (e.g. dtw_compact_cnn) or an exported .onnx (its card .json "
        "beside it)",
    )
    add_run_arguments(p)
    p.add_argument("--batch-size", type=int, default=1024, help="events per onnxruntime call")
    p.add_argument("--scores", action="store_true", help="also write per-event scores (Parquet)")
    p.add_argument(
        "--no-shapes",
        action="store_true",
        help="nominal pass only: no shape systematics (measurement.shapes) in histograms.json",
    )
    p.set_defaults(func=run)
