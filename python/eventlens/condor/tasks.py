"""eventlens' task processors prepared for HTCondor, the same way ``eventlens select`` runs them.

The pre-check of ``eventlens.processors.select`` (entries, branches, Σ genWeight,
classes) runs on the submit host; the jobs get its coffea fileset, its metadata
cache (no file is opened twice for chunking) and the task's ``TaskProcessor``,
whose table chunks land in ``OUTDIR/tables`` (written by the jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class TaskRun:
    fileset: dict[str, Any]
    processor: Any
    runner_options: dict[str, Any]
    run_options: dict[str, Any]
    tables_dir: Path | None


def task_run(
    task: str,
    fileset: str | Path | dict[str, Any],
    output_dir: str | Path | None,
    *,
    config: str | Path | None = None,
    luminosity_pb: float | None = None,
    skip_bad_files: bool = False,
    timeout: int = 30,
) -> TaskRun:
    """Everything a coffea Runner needs to run ``task`` over ``fileset``.

    ``output_dir`` None: histograms and cutflow only, no table chunks.
    """
    from eventlens.processors.base import TaskProcessor
    from eventlens.processors.fileset import load_fileset
    from eventlens.processors.inputs import needs_of
    from eventlens.processors.registry import get_task, load_config
    from eventlens.processors.select import plan_inputs
    from eventlens.processors.table import TABLES_DIR

    spec = get_task(task)
    cfg = load_config(task, config, luminosity_pb)
    needs = needs_of(cfg)
    plan = plan_inputs(load_fileset(fileset), cfg, needs, skip_bad_files, timeout)
    tables = None
    if output_dir is not None:
        tables = Path(output_dir).resolve() / TABLES_DIR
        tables.mkdir(parents=True, exist_ok=True)
    return TaskRun(
        fileset=plan.fileset,
        processor=TaskProcessor(
            spec, cfg, None if output_dir is None else Path(output_dir).resolve()
        ),
        runner_options={"metadata_cache": plan.metadata_cache, "xrootdtimeout": timeout},
        run_options={"iteritems_options": {"filter_name": needs.filter_names()}},
        tables_dir=tables,
    )
