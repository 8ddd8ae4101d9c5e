"""``eventlens merge OUTDIR``: add the job outputs of an ``eventlens condor-submit`` batch.

Every job of the plan must have delivered its output, processed exactly its
chunks and counted its events in the cutflow; otherwise nothing is written and
the missing or failed jobs are named (see ``eventlens.condor.merge``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..condor.merge import merge

    result = merge(args.outdir, args.output)
    for dataset, entries in result.summary["datasets"].items():
        log.info("  %-24s %10d events", dataset, entries)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "merge",
        help="merge the job outputs of an HTCondor batch, checking none is missing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("outdir", type=Path, help="the batch folder given to condor-submit -o")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="merged output file (default OUTDIR/merged.coffea)",
    )
    p.set_defaults(func=run)
