"""``eventlens validate-samples``: control plots (mplhep) of the generated samples in a folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..generate.validate import validate_samples

    validate_samples(args.folder, args.output)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate-samples",
        help="control plots of generated samples (PNG + PDF)",
        description=__doc__,
    )
    p.add_argument("folder", type=Path, help="folder with eventlens NanoAOD files")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the plots")
    p.set_defaults(func=run)
