"""``eventlens merge OUT``: finish a run submitted with ``eventlens condor-submit``.

Every chunk of the plan must have its result (written by the jobs into
OUT.incomplete/chunks); otherwise nothing is written and the missing or failed
jobs are named (see ``eventlens.condor.merge``).  Then the run is finished
exactly like any other: OUT/manifest.json, cutflow.json, hists.json, tables.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..condor.merge import merge

    result = merge(args.out)
    for dataset, info in result.manifest["datasets"].items():
        log.info("  %-24s %10d events", dataset, info.get("entries", 0))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "merge",
        help="finish an HTCondor batch run, checking no job is missing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", type=Path, help="the output folder given to condor-submit -o")
    p.set_defaults(func=run)
