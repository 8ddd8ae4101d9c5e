"""``eventlens make-samples``: every process one task needs, plus a coffea fileset JSON.

Files already in the folder with identical settings (same stored settings
hash) are reused, so tasks can share a folder and reruns only fill gaps.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .generate import add_generation_options

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..generate.run import DEFAULT_CHUNK_EVENTS, GenerationRequest, sigterm_as_interrupt
    from ..generate.samples import make_samples

    template = GenerationRequest(
        process="",
        events=args.events_per_process,
        seed=args.seed,
        output=args.output,
        jobs=args.jobs,
        mpi=args.mpi,
        chunk_events=args.chunk_events or DEFAULT_CHUNK_EVENTS,
        progress=args.progress and not args.quiet,
        tune=args.tune,
        pileup=args.pileup,
    )
    with sigterm_as_interrupt():
        make_samples(args.task, args.events_per_process, args.output, template=template,
                     registry_path=args.registry, events=dict(args.events or []))
    return 0


def process_events(text: str) -> tuple[str, int]:
    """``PROCESS=N`` of ``--events``."""
    name, sep, number = text.partition("=")
    try:
        n = int(number)
    except ValueError:
        n = 0
    if not sep or not name or n <= 0:
        raise argparse.ArgumentTypeError(
            f"--events {text!r}: expected PROCESS=N with N a positive integer, e.g. dy=60000"
        )
    return name, n


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "make-samples",
        help="generate all samples of a task + a coffea fileset",
        description=__doc__,
    )
    p.add_argument("task", help="dimuon, dtw, dhjw or hgg (the registry's tasks)")
    p.add_argument(
        "--events-per-process",
        "-n",
        type=int,
        required=True,
        help="events to generate for each process of the task",
    )
    p.add_argument(
        "--events",
        type=process_events,
        action="append",
        metavar="PROCESS=N",
        help="events for one process instead of --events-per-process (repeatable)",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    add_generation_options(p)
    p.set_defaults(func=run)
