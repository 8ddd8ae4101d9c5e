"""``eventlens compare RUN_DIR... -o docs/results.md``: the results table of several runs.

Per task, per model: accuracy, balanced accuracy, macro F1, macro AUC and the
signal-vs-background efficiency on the test split, read from each run's
``metrics.json``; runs evaluated on different test sets are flagged.

``--tune-variation TASK=TABLE`` adds, for that task, the models' accuracy and
S-vs-B efficiency on an object table selected from samples generated with
another Pythia tune, e.g.::

    eventlens make-samples dtw -n 12000 --events dy=60000 --tune monash --seed 2 \
        -o samples/dtw_monash
    eventlens select dtw --fileset samples/dtw_monash/fileset_dtw.json -o selected/dtw_monash
    eventlens compare runs/* -o docs/results.md --tune-variation dtw=selected/dtw_monash

(``--tune-variation DIR`` takes every ``DIR/TASK`` table.)  Each run's best
checkpoint is evaluated on all labelled events of the table; the results are
cached in ``TABLE/tune_variation/``.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..training.compare import parse_variations, write_results

    variations = parse_variations(args.tune_variation or [])
    command = (
        "eventlens compare "
        + " ".join(shlex.quote(str(p)) for p in args.runs)
        + f" -o {shlex.quote(str(args.output))}"
        + "".join(f" --tune-variation {shlex.quote(f'{t}={p}')}" for t, p in variations.items())
    )
    write_results(args.runs, args.output, command=command, tune_variations=variations)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="results table (Markdown) of several training runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", type=Path, nargs="+", help="run folders (with metrics.json)")
    p.add_argument("-o", "--output", type=Path, default=Path("docs/results.md"))
    p.add_argument(
        "--tune-variation",
        action="append",
        metavar="TASK=TABLE",
        help="object table selected from samples of another Pythia tune: adds that task's "
             "tune-variation columns (repeatable; a bare DIR takes DIR/TASK for every task)",
    )
    p.set_defaults(func=run)
