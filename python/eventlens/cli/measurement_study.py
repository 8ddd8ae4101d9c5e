"""``eventlens measurement-study -o OUT [--doc docs/measurement.md]``: σ(μ) by categorisation.

Generates (or reuses) DTW samples, runs ``eventlens infer`` with the shipped compact
CNN and the FFN (every systematic in the loop), and fits the Asimov data for the
expected uncertainty of μ(tt̄) with the categories of (a) the CNN, (b) the FFN, (c) a
cut-based jet × b-tag baseline, (d) one inclusive bin — each with and without
systematics, at each ``--lumi``.  Writes OUT/results.json and OUT/measurement.md
(and ``--doc``).  See :mod:`eventlens.stats.study`.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def _events(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, _, n = item.partition("=")
        if not n.isdigit():
            raise ValueError(f"--events {item!r}: expected PROCESS=N")
        out[name] = int(n)
    return out


def run(args: argparse.Namespace) -> int:
    from ..stats.study import StudySettings, ratios, run_study

    settings = StudySettings(
        output=args.output,
        samples=args.samples,
        events_per_process=args.events_per_process,
        events=_events(args.events) if args.events else {"dy": 15000},
        seed=args.seed,
        jobs=args.jobs,
        luminosities=tuple(args.lumi),
        models=(args.cnn, args.ffn),
        doc=args.doc,
        command="eventlens " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "",
        reuse=args.reuse,
        pileup=args.pileup,
    )
    report = run_study(settings)
    for lumi, r in ratios(report).items():
        log.info(
            "L = %s pb^-1: CNN / cut-based sigma(mu) = %.3f with systematics, %.3f stat only",
            lumi,
            r["with_systematics"],
            r["stat_only"],
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "measurement-study",
        help="expected sigma(mu_ttbar): CNN vs FFN vs cut-based vs inclusive categories",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="study folder")
    p.add_argument("--doc", type=Path, help="also write the page here (docs/measurement.md)")
    p.add_argument("--samples", type=Path, help="sample folder (default OUT/samples)")
    p.add_argument("-n", "--events-per-process", type=int, default=6000,
                   help="events generated per process (default 6000)")
    p.add_argument("--events", action="append", metavar="PROCESS=N",
                   help="events of one process (default dy=15000)")
    p.add_argument("--seed", type=int, default=7, help="generator seed (shipped models: 1)")
    p.add_argument("--jobs", type=int, default=2, help="generator processes (default 2)")
    p.add_argument("--lumi", type=float, nargs="+", default=[1.0, 10.0],
                   help="luminosities in pb^-1 (default 1 10)")
    p.add_argument("--reuse", action="store_true",
                   help="keep finished infer runs of the same models and sample files")
    p.add_argument("--pileup", type=float, metavar="MU",
                   help="mean pileup of the generated samples (default: the CNN's training pileup)")
    p.add_argument("--cnn", default="dtw_compact_cnn", help="image model (shipped name or .onnx)")
    p.add_argument("--ffn", default="dtw_ffn", help="table model (shipped name or .onnx)")
    p.set_defaults(func=run)
