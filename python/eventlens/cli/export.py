"""``eventlens export CHECKPOINT -o onnx_models/NAME.onnx``: ONNX model + model card.

Exports with a dynamic batch axis at the pinned opset as one file, checks
onnxruntime against torch (max |diff| ≤ 1e-4, asserted) and writes
``NAME.json`` (the model card) beside it.  An existing model or card is
replaced only with ``--overwrite``.  CHECKPOINT is a run's ``best.pt``
or its run folder; the card's metrics come from ``metrics.json`` beside it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..export import export_checkpoint

    card = export_checkpoint(
        args.checkpoint,
        args.output,
        metrics=args.metrics,
        threads=args.threads,
        overwrite=args.overwrite,
        table=args.table,
    )
    m = card.metrics or {}
    log.info(
        "model card %s: task %s, classes %s, test accuracy %s",
        Path(args.output).with_suffix(".json"),
        card.task,
        list(card.classes),
        "-" if m.get("accuracy") is None else f"{100 * m['accuracy']:.2f} %",
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained model to ONNX with its model card",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", type=Path, help="best.pt (or the run folder)")
    p.add_argument("-o", "--output", type=Path, required=True, help="onnx_models/NAME.onnx")
    p.add_argument(
        "--metrics",
        type=Path,
        default=None,
        help="metrics.json for the card (default: beside the checkpoint)",
    )
    p.add_argument("--threads", type=int, default=2, help="torch/onnxruntime threads (default 2)")
    p.add_argument(
        "--table",
        type=Path,
        default=None,
        help="object table for the check events (default: the run's table)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing model and its card (otherwise an error, as for every command)",
    )
    p.set_defaults(func=run)
