"""Where eventlens's shipped folders are: ``configs/``, ``onnx_models/``, ``condor/``, ``cpp/``.

Nothing else in the package computes where they are (no ``parents[3]`` anywhere):
every lookup goes through :func:`shipped`.

* **A source checkout** (``bash .ci/bootstrap``'s editable install, a development
  venv): the folders at the top of the repository, next to ``python/``, so an
  edited config or a newly exported model is used at once.
* **An installed wheel** (``pip install eventlens``): the same folders are package
  data under ``eventlens/data/`` (``pyproject.toml``'s ``wheel.packages`` puts them
  there), read through :mod:`importlib.resources`.  ``cpp/`` is not shipped as
  such: the wheel has the compiled library, the headers and the renderer source
  (``eventlens/lib``, ``eventlens/include``, ``eventlens/share``), which is what
  :mod:`eventlens.render._cpp` looks for first.

``configs/`` may be replaced as a whole with ``$EVENTLENS_CONFIG_DIR`` (a folder
laid out like ``configs/``: ``selection/``, ``train/``, ``condor.yaml``, ...).
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

#: Environment variable naming a folder that replaces the shipped ``configs/``.
CONFIG_DIR_ENV = "EVENTLENS_CONFIG_DIR"
#: Where an installed package keeps the shipped folders (``eventlens/data/<name>``).
PACKAGE_DATA = "data"
#: The shipped folders (package data of a wheel; ``cpp`` only in a checkout).
SHIPPED = ("configs", "onnx_models", "condor", "cpp")

#: The repository checkout this module would belong to (``python/eventlens/resources.py``).
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def source_checkout() -> Path | None:
    """The repository this package runs from (editable install), or None for a wheel."""
    mine = _SOURCE_ROOT / "python" / "eventlens" / "resources.py"
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and mine.is_file():
        return _SOURCE_ROOT
    return None


def shipped(name: str) -> Path:
    """The shipped top-level folder ``name`` (``configs``, ``onnx_models``, ``condor``, ``cpp``).

    The checkout's folder when running from one, else the installed package data
    (see the module docstring).  The path is returned whether or not it exists;
    callers that read a file say which one is missing.
    """
    if name not in SHIPPED:
        raise ValueError(f"unknown shipped folder {name!r}; known: {', '.join(SHIPPED)}")
    root = source_checkout()
    if root is not None:
        return root / name
    # A wheel is installed as plain files, so the Traversable is a real directory.
    return Path(str(resources.files("eventlens").joinpath(PACKAGE_DATA, name)))


def config_dir() -> Path:
    """The config folder: ``$EVENTLENS_CONFIG_DIR`` if set, else the shipped ``configs/``."""
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
