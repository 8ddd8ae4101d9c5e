"""``eventlens train CONFIG.yaml``: train a registry model on an object table.

Writes to the output folder (default ``runs/<config name>``): ``last.pt``
(every epoch, for --resume), ``best.pt`` (lowest validation loss),
``history.json``, ``config.yaml``, and after training ``metrics.json``,
``test_predictions.npz`` and ``plots/`` (the test-split evaluation).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..adversarial.config import is_adversarial
    from ..training.config import load_config

    if is_adversarial(args.config):  # an ``adversary:`` block: see eventlens.adversarial
        from ..adversarial.command import run_train

        return run_train(args)
    config = load_config(args.config)
    changes: dict[str, object] = {}
    if args.table is not None:
        changes["table"] = str(args.table)
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.threads is not None:
        changes["threads"] = args.threads
    if changes:
        config = config.replace(**changes)
    outdir = args.output or Path("runs") / Path(args.config).stem
    from ..training.loop import fit

    fit(
        config,
        outdir,
        resume=args.resume,
        progress=not args.no_progress and sys.stderr.isatty(),
        evaluate=not args.no_evaluate,
    )
    log.info("run folder: %s", outdir)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on an object table (images drawn on the fly)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "config", type=Path, help="training config (YAML), e.g. configs/train/dtw_compact_cnn.yaml"
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="run folder (default: runs/<config file name>)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the output folder from its last checkpoint",
    )
    p.add_argument(
        "--table", type=Path, default=None, help="object table folder (overrides 'table:')"
    )
    p.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    p.add_argument("--threads", type=int, default=None, help="override threads (torch intra-op)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-evaluate", action="store_true", help="skip the test-split evaluation")
    p.set_defaults(func=run)
