"""The task registry and the config loader that ties a YAML file to its task."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from eventlens.errors import ConfigError

from . import dhjw, dimuon, dtw, hgg
from .config import OBJECT_BLOCKS, TaskConfig, build, default_config_dir, read_yaml, validate_common
from .task import Task

#: Every task by name.
TASKS: dict[str, Task] = {t.name: t for t in (dimuon.TASK, dtw.TASK, dhjw.TASK, hgg.TASK)}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


def load_config(
    task: str, path: str | Path | None = None, luminosity_pb: float | None = None
) -> TaskConfig:
    """Read and validate ``configs/selection/<task>.yaml`` (or ``path``).

    ``luminosity_pb`` overrides the file's value (the CLI's ``--lumi``).
    """
    spec = get_task(task)
    path = Path(path) if path is not None else default_config_dir() / f"{task}.yaml"
    source = str(path)
    data = read_yaml(path)
    if data.get("task", task) != task:
        raise ConfigError(f"{source}: is a config for task {data['task']!r}, not {task!r}")
    data = {**data, "task": task}
    selection = data.pop("selection", None)
    for block in data.get("objects") or {}:
        if block not in OBJECT_BLOCKS:
            allowed = ", ".join(OBJECT_BLOCKS)
            raise ConfigError(f"{source}: unknown key 'objects.{block}' (allowed here: {allowed})")
    cfg = build(TaskConfig, data, "", source)
    cfg = dataclasses.replace(
        cfg, selection=build(spec.params, selection, "selection", source), source=source
    )
    if luminosity_pb is not None:
        cfg = dataclasses.replace(cfg, luminosity_pb=float(luminosity_pb))
    validate_common(cfg, spec.objects, spec.provides)
    return cfg
