"""``eventlens compare RUN_DIR... -o docs/results.md``: the results table of several runs.

Per task, per model: accuracy, balanced accuracy, macro F1, macro AUC and the
signal-vs-background efficiency on the test split, read from each run's
``metrics.json``; runs evaluated on different test sets are flagged.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..training.compare import write_results

    command = (
        "eventlens compare "
        + " ".join(shlex.quote(str(p)) for p in args.runs)
        + f" -o {shlex.quote(str(args.output))}"
    )
    write_results(args.runs, args.output, command=command)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="results table (Markdown) of several training runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", type=Path, nargs="+", help="run folders (with metrics.json)")
    p.add_argument("-o", "--output", type=Path, default=Path("docs/results.md"),
                   help="the results table, Markdown (default docs/results.md)")
    p.set_defaults(func=run)
