"""``eventlens select``: run a task's coffea processor over a fileset.

Writes the training table (Parquet chunks + manifest.json), hists.json
(histograms and cutflow, data-only) and cutflow.json/.txt into the output
folder.  See ``eventlens.pipeline.table`` for the table layout.  The run
writes into OUT.incomplete/ and replaces OUT only when it has finished; an
interrupted run continues with --resume.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

EXECUTORS = ("iterative", "futures", "dask", "condor", "batch")


def run_options(args: argparse.Namespace) -> dict:
    """Keyword arguments of run_selection/run_inference from :func:`add_run_arguments`."""
    executor, scheduler = getattr(args, "executor", "iterative"), getattr(args, "scheduler", None)
    if scheduler and executor == "iterative":
        executor = "dask"  # --scheduler alone means: run on that Dask cluster
    return {
        "config": args.config,
        "executor": executor,
        "workers": getattr(args, "workers", 2),
        "chunksize": args.chunksize,
        "skip_bad_files": args.skip_bad_files,
        "luminosity_pb": args.lumi,
        "overwrite": args.overwrite,
        "resume": args.resume,
        "status": not args.quiet,
        "timeout": args.timeout,
        "scheduler": scheduler,
    }


def run(args: argparse.Namespace) -> int:
    from ..pipeline.select import run_selection

    run_selection(args.task, args.fileset, args.output, **run_options(args))
    return 0


def add_run_arguments(p: argparse.ArgumentParser, executor_options: bool = True) -> None:
    """The options of a coffea run over a fileset, shared by ``select``, ``infer`` and
    ``condor-submit`` (which has no executor choice)."""
    p.add_argument(
        "--fileset",
        type=Path,
        required=True,
        help='coffea fileset JSON: {dataset: {"files": {path: "Events"}, "metadata": {...}}}',
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    if executor_options:
        p.add_argument(
            "--executor",
            choices=EXECUTORS,
            default="iterative",
            help="iterative (one process), futures (local processes), dask (local cluster, or "
            "--scheduler), condor (--workers Dask workers as HTCondor jobs) or batch (--workers "
            "HTCondor batch jobs, waited for); HTCondor settings: configs/condor.yaml",
        )
        p.add_argument(
            "--workers",
            type=int,
            default=2,
            help="worker processes (futures, dask), HTCondor workers (condor) or jobs (batch); "
            "default 2",
        )
        p.add_argument(
            "--scheduler",
            default=None,
            metavar="tcp://HOST:PORT",
            help="run on an existing Dask cluster (coffea-casa, dask-lxplus, lpcjobqueue); "
            "implies --executor dask",
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
        "--overwrite",
        action="store_true",
        help="replace an earlier run's output (kept until the new run has finished)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run (OUT.incomplete/): chunks already done are kept",
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
