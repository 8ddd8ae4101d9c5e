"""``eventlens plot``: draw every figure of an ``eventlens infer`` output (mplhep, PNG + PDF)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..plotting.report import make_report

    index = make_report(args.input, args.output)
    log.info("figures and index: %s", index)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="draw the figures of an inference run", description=__doc__)
    p.add_argument("input", type=Path, help="output folder of `eventlens infer`")
    p.add_argument("-o", "--output", type=Path, required=True, help="figure folder")
    p.set_defaults(func=run)
