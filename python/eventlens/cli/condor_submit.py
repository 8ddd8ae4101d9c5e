"""``eventlens condor-submit TASK``: run a task's selection as HTCondor batch jobs.

The fileset is cut into ``--jobs`` jobs along coffea's chunk boundaries
(``--chunksize``); each job runs the task processor with the Iterative
executor and writes ``OUTDIR/jobs/<job>/output.coffea`` atomically (table
chunks go to ``OUTDIR/tables``).  ``eventlens merge OUTDIR`` then adds them,
naming any job that is missing.  With ``--wait`` this command waits for the
jobs and merges.  Settings (memory, retries, pool, credentials):
configs/condor.yaml.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from ..condor import batch, settings
    from ..condor.merge import merge
    from ..condor.tasks import task_run

    cfg = settings.load(args.condor_config)
    cfg = cfg.replace("batch", request_memory=args.memory, max_retries=args.max_retries)
    cfg = cfg.replace("pool", schedd=args.schedd)
    tr = task_run(
        args.task,
        args.fileset,
        args.output,
        config=args.config,
        luminosity_pb=args.lumi,
        skip_bad_files=args.skip_bad_files,
    )
    b = batch.prepare(
        args.output,
        tr.fileset,
        tr.processor,
        args.jobs,
        args.chunksize,
        runner_options=tr.runner_options,
        run_options=tr.run_options,
        writable_dirs=[tr.tables_dir] if tr.tables_dir else [],
        overwrite=args.overwrite,
    )
    t0 = time.monotonic()
    cluster = batch.submit(b, cfg)
    log.info(
        "cluster %s: %d job(s); merge with: eventlens merge %s", cluster, len(b.jobs), args.output
    )
    if args.wait:
        batch.wait(b, cfg, timeout=args.wait_timeout)
        log.info("all jobs left the queue after %.1f s", time.monotonic() - t0)
        merge(args.output)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "condor-submit",
        help="run a task's selection as HTCondor batch jobs (then: eventlens merge)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ..processors.registry import task_names

    p.add_argument("task", choices=task_names(), help="the task whose selection to run")
    p.add_argument("--fileset", type=Path, required=True, help="coffea fileset JSON")
    p.add_argument("-o", "--output", type=Path, required=True, help="batch folder")
    p.add_argument("--jobs", type=int, default=4, help="number of jobs (default 4)")
    p.add_argument(
        "--chunksize", type=int, default=100_000, help="events per chunk (default 100000)"
    )
    p.add_argument("--wait", action="store_true", help="wait for the jobs, then merge")
    p.add_argument(
        "--wait-timeout", type=float, default=3600.0, help="seconds --wait waits at most"
    )
    p.add_argument("--condor-config", type=Path, default=None, help="default: configs/condor.yaml")
    p.add_argument("--memory", default=None, help="request_memory per job, e.g. 2GB")
    p.add_argument("--max-retries", type=int, default=None, help="HTCondor re-runs of a failed job")
    p.add_argument("--schedd", default=None, help="submit to this schedd (default: the local one)")
    p.add_argument("--config", type=Path, default=None, help="selection config YAML")
    p.add_argument("--lumi", type=float, default=None, help="luminosity in pb^-1 for the weights")
    p.add_argument(
        "--skip-bad-files", action="store_true", help="leave unreadable files out, reported"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an earlier batch in OUTDIR")
    p.set_defaults(func=run)
