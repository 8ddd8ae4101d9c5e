"""``eventlens condor-pool``: a personal HTCondor pool on 127.0.0.1 (setup, start, stop, status).

Debian trixie's condor packages unpacked into a prefix (bookworm has none);
see ``eventlens.condor.pool`` and condor/README.md.  ``condor/pool.sh`` is the
same command without the eventlens CLI around it.
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..condor.pool import run_action

    return run_action(args)


def register(sub: argparse._SubParsersAction) -> None:
    from ..condor.pool import add_arguments

    p = sub.add_parser(
        "condor-pool",
        help="start/stop/status of a personal HTCondor pool on 127.0.0.1",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=run)
