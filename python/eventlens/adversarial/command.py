"""``eventlens train CONFIG.yaml`` for a config with an ``adversary:`` block.

``eventlens train`` hands such configs here (same options as a plain run:
``--table``, ``--epochs``, ``--threads``, ``-o``, ``--resume``,
``--no-progress``, ``--no-evaluate``), so the adversarial mode is one more
kind of training run, not a separate tool.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def run_train(args: argparse.Namespace) -> int:
    """Train the adversarial config ``args.config`` (see the module docstring)."""
    from .config import load
    from .trainer import fit_adversarial

    train, adv = load(args.config)
    if adv is None:
        raise ValueError(f"{args.config} has no adversary block")
    changes: dict[str, object] = {}
    if getattr(args, "table", None) is not None:
        changes["table"] = str(args.table)
    if getattr(args, "epochs", None) is not None:
        changes["epochs"] = args.epochs
    if getattr(args, "threads", None) is not None:
        changes["threads"] = args.threads
    if changes:
        train = train.replace(**changes)
        adv.check_against(train)
    outdir = args.output or Path("runs") / Path(args.config).stem
    fit_adversarial(train, adv, outdir, resume=args.resume,
                    progress=not args.no_progress and sys.stderr.isatty(),
                    evaluate=not args.no_evaluate)
    log.info("run folder: %s", outdir)
    return 0
