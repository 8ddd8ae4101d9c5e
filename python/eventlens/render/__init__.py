"""Event images: the C++ renderer, its configuration, and the RDataFrame path.

>>> from eventlens.render import RenderConfig, render
>>> images = render(objects, RenderConfig(height=64, width=64))   # (N, 6, 64, 64)

See ``cpp/include/eventlens/render.h`` for the exact geometry.
"""

from ._cpp import cmake_dir
from .batch import (
    FlatObjects,
    RenderStats,
    allocate,
    flatten_objects,
    render,
    render_flat,
    render_geometry,
    render_object_index,
    render_with_stats,
    same_pictures,
)
from .config import DRAW_CLASSES, KNOWN_CHANNELS, RenderConfig

__all__ = [
    "DRAW_CLASSES",
    "KNOWN_CHANNELS",
    "FlatObjects",
    "RenderConfig",
    "RenderStats",
    "allocate",
    "cmake_dir",
    "flatten_objects",
    "render",
    "render_flat",
    "render_geometry",
    "render_object_index",
    "render_with_stats",
    "same_pictures",
]
