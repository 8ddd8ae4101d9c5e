"""``eventlens generate``: one process with Pythia 8 + the CMS-like detector → a NanoAOD file."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_generation_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``generate`` and ``make-samples``."""
    p.add_argument("--seed", type=int, default=1,
                   help="random seed (default 1); the same seed repeats the same events, "
                        "use different seeds for independent samples")
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        help="worker processes; the events are split into independently seeded chunks",
    )
    p.add_argument(
        "--no-mpi",
        dest="mpi",
        action="store_false",
        help="switch off multiparton interactions (~10x faster, unrealistic underlying event)",
    )
    p.add_argument(
        "--tune",
        default=None,
        metavar="NAME",
        help="Pythia tune from the registry (default: its default tune, CMS CP5; e.g. monash "
             "for the tune-robustness test set); enters the settings hash",
    )
    p.add_argument(
        "--pileup",
        type=float,
        default=None,
        metavar="MU",
        help="overlay a Poisson number of minimum-bias interactions of mean MU from a premixed "
             "library (built once per tune and cached in $EVENTLENS_CACHE or ~/.cache/eventlens; "
             "default: the registry's pileup setting, 0 = none); enters the settings hash",
    )
    p.add_argument(
        "--chunk-events",
        type=int,
        default=None,
        help="largest chunk one Pythia initialisation serves (default 5000)",
    )
    p.add_argument(
        "--registry",
        type=Path,
        default=None,
        help="process registry YAML (default: configs/processes.yaml or $EVENTLENS_PROCESSES)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    # -v after the subcommand too; SUPPRESS keeps `eventlens -v generate` working.
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="also log what Pythia and FastJet print",
    )


def run(args: argparse.Namespace) -> int:
    from ..generate.registry import load_registry
    from ..generate.run import (
        DEFAULT_CHUNK_EVENTS,
        GenerationRequest,
        generate,
        sigterm_as_interrupt,
    )

    if args.list:
        registry = load_registry(args.registry)
        for process in registry.processes.values():
            log.info("%-12s %s", process.name, process.description)
        log.info("tunes: %s (default), %s", registry.tune_name, ", ".join(registry.tunes) or "-")
        return 0
    if args.process is None or args.output is None or args.events is None:
        raise ValueError("generate needs PROCESS, --events N and -o FILE (or --list)")
    request = GenerationRequest(
        process=args.process,
        events=args.events,
        seed=args.seed,
        output=args.output,
        jobs=args.jobs,
        overwrite=args.overwrite,
        mpi=args.mpi,
        chunk_events=args.chunk_events or DEFAULT_CHUNK_EVENTS,
        registry=args.registry,
        progress=args.progress and not args.quiet,
        tune=args.tune,
        pileup=args.pileup,
    )
    with sigterm_as_interrupt():
        result = generate(request)
    log.info(
        "wrote %s: %d %s events, sigma = %.4g pb (settings %s)",
        result.path,
        result.n_events,
        result.process,
        result.cross_section.sigma_pb,
        result.settings_hash,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="generate a process into a NanoAOD file (Pythia 8)", description=__doc__
    )
    p.add_argument("process", nargs="?", help="process name (see --list)")
    p.add_argument("--events", "-n", type=int, help="number of events")
    p.add_argument("-o", "--output", type=Path, help="output NanoAOD .root file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--list", action="store_true", help="list the known processes and exit")
    add_generation_options(p)
    p.set_defaults(func=run)
