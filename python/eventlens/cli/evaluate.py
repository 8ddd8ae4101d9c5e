"""``eventlens evaluate RUN_DIR``: test-split metrics and figures of a run's best model.

Recomputes ``metrics.json``, ``test_predictions.npz`` and ``plots/`` (training
does this at its end; use this after changing the metrics code or to
re-check a run).  The table's test split must be the one the run recorded.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..training.evaluate import evaluate_run

    evaluate_run(args.run_dir, table_path=args.table, plots=not args.no_plots)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="test-split metrics and plots of a training run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", type=Path, help="run folder written by `eventlens train`")
    p.add_argument(
        "--table",
        type=Path,
        default=None,
        help="object table folder (default: the one in the run's config)",
    )
    p.add_argument("--no-plots", action="store_true", help="metrics only, no figures")
    p.set_defaults(func=run)
