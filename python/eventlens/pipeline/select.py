"""``eventlens select``: a task's selection over a fileset, into training tables.

The run is the one pipeline of :mod:`.run` with the table-writing
:class:`~eventlens.processors.base.TaskProcessor`.  The output folder holds
``manifest.json`` (written last: a folder with a manifest is a complete run),
``tables/*.parquet`` (layout: :mod:`.table`), ``hists.json`` (histograms +
cutflow, data-only) and ``cutflow.json``/``.txt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .finish import RunOutput
from .run import PendingRun, RunOptions, run
from .spec import SELECT, RunSpec

#: The result of a finished selection (kept under its old name for callers).
SelectionOutput = RunOutput


def selection_spec(
    task: str, config: str | Path | None = None, luminosity_pb: float | None = None
) -> RunSpec:
    """The :class:`RunSpec` of ``task``'s selection with ``config`` (default: the task's YAML)."""
    from eventlens.processors.registry import load_config

    cfg = load_config(task, config, luminosity_pb)
    return RunSpec(
        kind=SELECT,
        task=task,
        config_path=str(Path(cfg.source).resolve()),
        config_digest=cfg.digest(),
        luminosity_pb=luminosity_pb,
    )


def run_selection(
    task: str,
    fileset: str | Path | Mapping[str, Any],
    output_dir: str | Path,
    *,
    config: str | Path | None = None,
    luminosity_pb: float | None = None,
    **options: Any,
) -> RunOutput | PendingRun:
    """Select ``task`` events from ``fileset`` into ``output_dir``.

    ``options`` are the fields of :class:`~.run.RunOptions`: ``executor`` (a
    name — iterative, futures, dask, condor, batch — or a ready coffea
    executor, e.g. ``FuturesExecutor(pool=pool)`` to reuse warm workers),
    ``workers``, ``chunksize``, ``skip_bad_files``, ``overwrite``, ``resume``,
    ``status``, ``timeout``, ``scheduler``, ``wait``, ``condor_settings``.
    """
    return run(
        selection_spec(task, config, luminosity_pb), fileset, output_dir, RunOptions(**options)
    )
