"""The task registry: every task eventlens knows, by name, and where its config is.

A task is a module that defines ``TASK = Task(...)`` (:class:`.task.Task`: the
selection function, mass definition, axis label) plus its selection config
(cuts and classes).  Adding one touches nothing else -- the command line,
demo, plots, benchmarks and tests all read this registry.  Three ways in:

1. **in the repository**: ``processors/<name>.py`` defining ``TASK`` (found by
   reading this folder; the module is named after its task) and
   ``configs/selection/<name>.yaml``;
2. **outside it, for the command line**: ``$EVENTLENS_TASKS``, a comma-separated
   list of importable module names, each defining ``TASK``; its config is
   ``TASK.config`` (e.g. ``Path(__file__).with_suffix(".yaml")``) or
   ``<config dir>/selection/<name>.yaml``.  Workers in other processes import
   the module by name, so it must be importable there too (``PYTHONPATH``);
3. **in code**: :func:`register_task`.

Listing the names (:func:`task_names`) imports no task module of the
repository, so building the command line stays cheap.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventlens.errors import ConfigError
from eventlens.resources import config_dir

if TYPE_CHECKING:  # .task imports awkward: listing names must not
    from eventlens.config.selection import TaskConfig

    from .task import Task

#: Environment variable listing out-of-tree task modules (comma-separated module names).
TASKS_ENV = "EVENTLENS_TASKS"

_HERE = Path(__file__).resolve().parent
_DEFINES_TASK = re.compile(r"^TASK\s*(?::[^=\n]*)?=", re.MULTILINE)

#: Tasks added with :func:`register_task`, by name.
_registered: dict[str, Task] = {}


@functools.cache
def _builtin_names() -> tuple[str, ...]:
    """Modules of ``processors/`` that define ``TASK`` at top level, sorted."""
    return tuple(
        sorted(
            p.stem
            for p in _HERE.glob("*.py")
            if not p.stem.startswith("_") and _DEFINES_TASK.search(p.read_text(encoding="utf-8"))
        )
    )


@functools.cache
def _builtin(name: str) -> Task:
    from .task import Task

    module = importlib.import_module(f"{__package__}.{name}")
    task = module.TASK
    if not isinstance(task, Task) or task.name != name:
        raise ConfigError(
            f"{module.__file__}: TASK must be a Task named {name!r} (a task module is "
            f"named after its task), got {getattr(task, 'name', task)!r}"
        )
    return task


def _env_tasks() -> dict[str, Task]:
    """The tasks of the modules named in ``$EVENTLENS_TASKS``, by name."""
    found: dict[str, Task] = {}
    for module_name in filter(None, (m.strip() for m in os.environ.get(TASKS_ENV, "").split(","))):
        from .task import Task

        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"${TASKS_ENV}: cannot import task module {module_name!r} ({exc}); "
                "put its folder on PYTHONPATH"
            ) from None
        task = getattr(module, "TASK", None)
        if not isinstance(task, Task):
            raise ConfigError(f"${TASKS_ENV}: module {module_name!r} defines no TASK = Task(...)")
        if task.name in _builtin_names():
            raise ConfigError(
                f"${TASKS_ENV}: module {module_name!r} redefines the task {task.name!r}; "
                "choose another name"
            )
        found[task.name] = task
    return found


def task_names() -> tuple[str, ...]:
    """Every registered task name: the repository's (sorted), then out-of-tree ones."""
    names = list(_builtin_names())
    for name in (*_env_tasks(), *_registered):
        if name not in names:
            names.append(name)
    return tuple(names)


def get_task(name: str) -> Task:
    """The task called ``name``; ConfigError listing the known tasks otherwise."""
    if name in _registered:
        return _registered[name]
    if name in _builtin_names():
        return _builtin(name)
    env = _env_tasks()
    if name in env:
        return env[name]
    raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}")


def all_tasks() -> dict[str, Task]:
    """Every task by name (imports every task module)."""
    return {name: get_task(name) for name in task_names()}


def register_task(task: Task) -> Task:
    """Add a task defined in code; its name must be new.  Returns the task.

    Its config is ``task.config``, or ``<config dir>/selection/<name>.yaml``.
    """
    from .task import Task

    if not isinstance(task, Task):
        raise TypeError(f"register_task needs a Task, got {type(task).__name__}")
    if task.name in _builtin_names() or task.name in _env_tasks():
        raise ConfigError(f"task {task.name!r} already exists; choose another name")
    _registered[task.name] = task
    return task


def unregister_task(name: str) -> None:
    """Remove a task added with :func:`register_task` (tests, notebooks)."""
    _registered.pop(name, None)


def config_path(name: str) -> Path:
    """Where task ``name``'s selection config is: ``TASK.config`` or
    ``<config dir>/selection/<name>.yaml``."""
    task = get_task(name)
    return task.config if task.config is not None else config_dir() / "selection" / f"{name}.yaml"


def load_config(
    task: str, path: str | Path | None = None, luminosity_pb: float | None = None
) -> TaskConfig:
    """Read and validate task ``task``'s selection config (``path``, else :func:`config_path`).

    ``luminosity_pb`` overrides the file's value (the CLI's ``--lumi``).
    """
    from eventlens.config.selection import load_task_config

    return load_task_config(
        get_task(task), Path(path) if path is not None else config_path(task), luminosity_pb
    )


def load_config_data(task: str, data: Mapping[str, Any]) -> TaskConfig:
    """Task ``task``'s selection config from already-parsed data (a model card's
    ``selection.config``), through the same strict loader as a file."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="eventlens-config-") as folder:
        path = Path(folder) / "selection.json"  # JSON is YAML: the loader reads it
        path.write_text(json.dumps(dict(data), sort_keys=True))
        return load_config(task, path)


def trained_digest(task: str, stored: Mapping[str, Any] | None) -> str | None:
    """The digest, under today's rules, of the selection config a model card stores
    (``card.selection``: ``{"config": ..., "hash": ...}``).

    Re-derived, not the stored hash: the digest's rules may change (issue 18 made it
    cover the effective cuts only), and a card written under older rules must not warn
    at every ``infer`` that its own, unchanged cuts differ.  A stored config today's
    loader refuses falls back to the stored hash.
    """
    if not stored:
        return None
    config = stored.get("config")
    if not isinstance(config, Mapping):
        return stored.get("hash")
    try:
        return load_config_data(task, config).digest()
    except ConfigError:
        return stored.get("hash")
