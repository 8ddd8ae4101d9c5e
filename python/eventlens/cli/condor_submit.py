"""``eventlens condor-submit``: a selection (TASK) or an inference run (--model) as HTCondor jobs.

The same run as ``eventlens select/infer --executor batch``, but without
waiting: the run is planned into OUT.incomplete/, its chunks are cut into
``--jobs`` jobs along coffea's chunk boundaries and submitted, and the
command returns.  Each job runs the Iterative executor on its chunks and
writes their results (JSON) into OUT.incomplete/chunks; ``eventlens merge OUT``
then finishes the run exactly as every other executor does (manifest,
cutflow, histograms, tables), naming any job that is missing.  With ``--wait``
this command waits for the jobs and merges.  Settings (memory, retries, pool,
credentials): configs/condor.yaml.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .select import add_run_arguments, run_options

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..condor import settings

    if (args.task is None) == (args.model is None):
        raise ValueError("give either a TASK (selection) or --model (inference), not both")
    cfg = settings.load(args.condor_config)
    cfg = cfg.replace("batch", request_memory=args.memory, max_retries=args.max_retries)
    cfg = cfg.replace("pool", schedd=args.schedd)
    options = {
        **run_options(args),
        "executor": "batch",
        "workers": args.jobs,
        "wait": args.wait,
        "condor_settings": cfg,
    }
    if args.model is not None:
        from ..pipeline.infer import run_inference

        run_inference(args.model, args.fileset, args.output, scores=args.scores, **options)
    else:
        from ..pipeline.select import run_selection

        run_selection(args.task, args.fileset, args.output, **options)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "condor-submit",
        help="run a selection or inference as HTCondor batch jobs (then: eventlens merge)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ..processors.registry import task_names

    p.add_argument("task", nargs="?", choices=task_names(), help="the task whose selection to run")
    p.add_argument("--model", type=Path, default=None, help="run inference with this .onnx")
    p.add_argument("--scores", action="store_true", help="inference: per-event scores")
    add_run_arguments(p, executor_options=False)
    p.add_argument("--jobs", type=int, default=4, help="number of jobs (default 4)")
    p.add_argument("--wait", action="store_true", help="wait for the jobs, then merge")
    p.add_argument("--condor-config", type=Path, default=None, help="default: configs/condor.yaml")
    p.add_argument("--memory", default=None, help="request_memory per job, e.g. 2GB")
    p.add_argument("--max-retries", type=int, default=None, help="HTCondor re-runs of a failed job")
    p.add_argument("--schedd", default=None, help="submit to this schedd (default: the local one)")
    p.set_defaults(func=run)
