"""Load the C++ renderer into PyROOT and build renderers from configs.

The compiled ``libeventlens.so`` installed with the package is loaded when
present; otherwise the header and source are JIT-compiled by cling (slower to
start, same pixels) with one warning saying so.  Renderers are cached per
process and per config digest: they are cheap to keep and a C++ object cannot
be pickled, so workers build their own from the (picklable) RenderConfig.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import eventlens

from .._root import root

__all__ = ["cmake_dir", "cpp_config", "load", "renderer", "root"]
from .config import DRAW_CLASSES, RenderConfig

log = logging.getLogger(__name__)

_OVERLAP = {"max": "kMax", "add": "kAdd", "over": "kOver"}
_ETA_POLICY = {"skip": "kSkip", "clamp": "kClamp"}


def _package_dirs() -> list[Path]:
    # An installed package has one folder; an editable install adds the source tree.
    return [Path(p) for p in eventlens.__path__]


def _find(relative: str) -> Path | None:
    for base in _package_dirs():
        candidate = base / relative
        if candidate.exists():
            return candidate
    return None


def cmake_dir() -> Path:
    """Folder of the installed CMake package: ``-DEventLens_DIR=...`` for C++ users."""
    found = _find("lib/cmake/EventLens/EventLensConfig.cmake")
    if found is None:
        raise FileNotFoundError("eventlens: no installed CMake package; build with `pip install .`")
    return found.parent


def _source_tree() -> Path:
    """The repository's cpp/ folder, for running from a checkout without a build."""
    from ..resources import cpp_dir

    return cpp_dir()


@functools.cache
def load() -> Any:
    """Make ``eventlens::Renderer`` available in PyROOT; return ``ROOT.eventlens``."""
    ROOT = root()
    include = _find("include/eventlens/render.h")
    library = None if os.environ.get("EVENTLENS_FORCE_JIT") else _find("lib/libeventlens.so")
    if include is None:
        include = _source_tree() / "include" / "eventlens" / "render.h"
    if not include.exists():
        raise ImportError(
            "eventlens: cannot find the C++ header eventlens/render.h; reinstall eventlens"
        )
    ROOT.gInterpreter.AddIncludePath(str(include.parent.parent))
    if library is not None:
        if ROOT.gSystem.Load(str(library)) < 0:
            raise ImportError(f"eventlens: ROOT could not load {library}")
        if not ROOT.gInterpreter.Declare('#include "eventlens/render.h"'):
            raise ImportError(f"eventlens: cling could not parse {include}")
    else:
        source = _find("share/eventlens/src/render.cxx") or _source_tree() / "src" / "render.cxx"
        log.warning(
            "eventlens: compiled renderer libeventlens.so not found; JIT-compiling %s "
            "(same images, slower start: run `pip install .` to build it)",
            source,
        )
        if not ROOT.gInterpreter.Declare(source.read_text()):
            raise ImportError(f"eventlens: cling could not compile {source}")
    return ROOT.eventlens


def cpp_config(config: RenderConfig) -> Any:
    """The C++ ``eventlens::RenderConfig`` equivalent of a Python config."""
    ns = load()
    c = ns.RenderConfig()
    c.channels = config.n_channels
    c.height = config.height
    c.width = config.width
    c.eta_min, c.eta_max = config.eta_range
    c.radius_scale = config.effective_radius_scale
    c.btag_threshold = config.btag_threshold
    c.overlap = getattr(ns.Overlap, _OVERLAP[config.overlap])
    c.eta_policy = getattr(ns.EtaPolicy, _ETA_POLICY[config.eta_policy])
    for cls_index, cls in enumerate(DRAW_CLASSES):
        colour = config.colour_table()[cls]
        c.set_draw(cls_index, colour is not None)
        for channel, value in enumerate(colour or ()):
            c.set_colour(cls_index, channel, value)
    for channel, value in enumerate(config.background()):
        c.set_background(channel, value)
    return c


_renderers: dict[str, Any] = {}


def renderer(config: RenderConfig) -> Any:
    """A C++ ``eventlens::Renderer`` for this config (one per process and config)."""
    key = config.digest()
    if key not in _renderers:
        ns = load()
        _renderers[key] = ns.Renderer(cpp_config(config))
    return _renderers[key]
