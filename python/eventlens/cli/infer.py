"""``eventlens infer``: run a task's selection with an ONNX model in the loop.

Selects the events of the model's task (the same selection as ``eventlens
select``), renders them with the model card's render config, runs the model
with onnxruntime (CUDA when usable, else CPU) and fills weighted histograms of
the mass per predicted class and of every class's score.  ``eventlens plot
OUT`` draws them.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..processors.infer import run_inference

    if args.executor == "condor":  # dask workers as HTCondor jobs (eventlens.condor)
        from ..condor.cluster import condor_inference as run_inference
    run_inference(
        args.model,
        args.fileset,
        args.output,
        config=args.config,
        executor=args.executor,
        workers=args.workers,
        chunksize=args.chunksize,
        skip_bad_files=args.skip_bad_files,
        luminosity_pb=args.lumi,
        overwrite=args.overwrite,
        scores=args.scores,
        batch_size=args.batch_size,
        status=not args.quiet,
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
        "--model", type=Path, required=True, help="model .onnx (its card .json beside it)"
    )
    p.add_argument("--fileset", type=Path, required=True, help="coffea fileset JSON")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument(
        "--executor",
        choices=("iterative", "futures", "dask", "condor"),
        default="iterative",
        help="iterative, futures (local processes), dask (local cluster) or condor "
        "(--workers HTCondor jobs; configs/condor.yaml)",
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chunksize", type=int, default=100_000)
    p.add_argument("--batch-size", type=int, default=1024, help="events per onnxruntime call")
    p.add_argument("--scores", action="store_true", help="also write per-event scores (Parquet)")
    p.add_argument("--skip-bad-files", action="store_true")
    p.add_argument("--lumi", type=float, default=None, help="luminosity in pb^-1 for the weights")
    p.add_argument(
        "--config", type=Path, default=None, help="selection config (default: the task's)"
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)
