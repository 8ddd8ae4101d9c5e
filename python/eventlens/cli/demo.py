"""``eventlens demo``: the whole chain on the built-in default data.

generate (Pythia 8 + CMS-like detector) -> pseudo-data -> select (coffea) ->
train the compact CNN -> export to ONNX -> infer inside the coffea loop ->
fit mu of the signal (injected with --inject-mu) -> plots and an index page
(OUTPUT/index.md) with the fitted mu next to the injected one.  A second run
reuses what exists.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..demo import DemoSettings, run_demo

    run_demo(
        DemoSettings(
            output=args.output,
            task=args.task,
            events_per_process=args.events_per_process,
            epochs=args.epochs,
            jobs=args.jobs,
            use_shipped_model=args.use_shipped_model,
            executor=args.executor,
            inject_mu=args.inject_mu,
        )
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole chain on the built-in default data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("eventlens-demo"),
        help="output folder (default eventlens-demo)",
    )
    from ..demo import demo_tasks

    p.add_argument(
        "--task",
        choices=demo_tasks(),
        default="dtw",
        help="a task with a compact-CNN training config (configs/train/TASK_compact_cnn.yaml)",
    )
    p.add_argument("--events-per-process", type=int, default=4000,
                   help="generated events per process and sample set (default 4000)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs of the compact CNN")
    p.add_argument("--jobs", type=int, default=2, help="processes for generation and coffea")
    p.add_argument("--executor", choices=("iterative", "futures", "dask"), default="futures",
                   help="coffea executor of the selection and inference (default futures)")
    p.add_argument(
        "--inject-mu",
        type=float,
        default=1.0,
        metavar="X",
        help="signal strength of the pseudo-data's signal (the fit model's, tt̄ for dtw); "
        "the demo ends by fitting it back (default 1)",
    )
    p.add_argument(
        "--use-shipped-model",
        action="store_true",
        help="skip selection/training/export and use onnx_models/TASK_compact_cnn.onnx",
    )
    p.set_defaults(func=run)
