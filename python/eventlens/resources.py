"""Where eventlens's shipped folders are: ``configs/``, ``onnx_models/``, ``condor/``, ``cpp/``.

These folders sit at the top of the repository, next to ``python/``; nothing
else in the package computes the repository root (no ``parents[3]`` anywhere).
Every lookup goes through :func:`shipped`, so making an installed wheel carry
them (issue 17: package data read through :mod:`importlib.resources`) is a
change of this one function, not of its callers.

``configs/`` may be replaced as a whole with ``$EVENTLENS_CONFIG_DIR`` (a folder
laid out like ``configs/``: ``selection/``, ``train/``, ``condor.yaml``, ...),
which is how an installed copy without the source tree finds its configs.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming a folder that replaces the repository's ``configs/``.
CONFIG_DIR_ENV = "EVENTLENS_CONFIG_DIR"

#: The repository checkout this module belongs to (``python/eventlens/resources.py``).
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def shipped(name: str) -> Path:
    """The shipped top-level folder ``name`` (``configs``, ``onnx_models``, ``condor``, ``cpp``).

    Today: the folder of the source checkout this package is installed from
    (editable installs, the only kind the project makes).  The path is returned
    whether or not it exists; callers that read a file say which one is missing.
    """
    return _SOURCE_ROOT / name


def config_dir() -> Path:
    """The config folder: ``$EVENTLENS_CONFIG_DIR`` if set, else the repository's ``configs/``."""
    env = os.environ.get(CONFIG_DIR_ENV)
    return Path(env) if env else shipped("configs")


def models_dir() -> Path:
    """The shipped ONNX models and their model cards (``onnx_models/``)."""
    return shipped("onnx_models")


def condor_dir() -> Path:
    """The HTCondor submit template and job wrapper (``condor/``)."""
    return shipped("condor")


def cpp_dir() -> Path:
    """The renderer's C++ sources (``cpp/``), for running from a checkout without a build."""
    return shipped("cpp")
