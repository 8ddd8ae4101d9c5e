"""``eventlens select``: run a task's coffea processor over a fileset.

Writes the training table (Parquet chunks + manifest.json), results.coffea
(histograms and cutflow, ``coffea.util.load``) and cutflow.json/.txt into the
output folder.  See ``eventlens.processors.table`` for the table layout.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run_options(args: argparse.Namespace) -> dict:
    """Keyword arguments of run_selection/run_inference from :func:`add_run_arguments`."""
    return {
        "config": args.config,
        "executor": args.executor,
        "workers": args.workers,
        "chunksize": args.chunksize,
        "skip_bad_files": args.skip_bad_files,
        "luminosity_pb": args.lumi,
        "overwrite": args.overwrite,
        "status": not args.quiet,
        "timeout": args.timeout,
    }


def run(args: argparse.Namespace) -> int:
    from ..processors.select import run_selection

    if args.executor == "condor":  # dask workers as HTCondor jobs (eventlens.condor)
        from ..condor.cluster import condor_selection as run_selection
    run_selection(args.task, args.fileset, args.output, **run_options(args))
    return 0


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options of a coffea run over a fileset, shared by ``select`` and ``infer``."""
    p.add_argument(
        "--fileset",
        type=Path,
        required=True,
        help='coffea fileset JSON: {dataset: {"files": {path: "Events"}, "metadata": {...}}}',
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument(
        "--executor",
        choices=("iterative", "futures", "dask", "condor"),
        default="iterative",
        help="iterative (one process), futures (local processes), dask (local cluster) "
        "or condor (--workers HTCondor jobs; configs/condor.yaml)",
    )
    p.add_argument(
        "--workers", type=int, default=2, help="worker processes for futures/dask (default 2)"
    )
    p.add_argument(
        "--chunksize", type=int, default=100_000, help="events per chunk (default 100000)"
    )
    p.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="skip unreadable files/chunks and report them instead of stopping",
    )
    p.add_argument(
        "--lumi",
        type=float,
        default=None,
        help="integrated luminosity in pb^-1 for the weights (default: the config's)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="selection config YAML (default: configs/selection/TASK.yaml)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an earlier run's output in the folder"
    )
    p.add_argument(
        "--timeout", type=int, default=30, help="seconds to wait for a remote (XRootD) file"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "select",
        help="select a task's events from NanoAOD into training tables",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ..processors.registry import task_names

    p.add_argument("task", choices=task_names(), help="the task whose selection to run")
    add_run_arguments(p)
    p.set_defaults(func=run)
