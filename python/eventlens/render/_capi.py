"""The batch renderer through its C ABI (``cpp/include/eventlens/render_c.h``), with ctypes.

Drawing a batch of events needs only the compiled ``libeventlens.so``: loading it
with ctypes takes ~20 ms and ~6 MB, where PyROOT + cling (:mod:`._cpp`) take ~2 s
and ~400 MB per process (``benchmarks/worker.py``) — the cost every coffea worker
would pay to classify events.  The C++ is the same (``Renderer::render_batch_*``),
so the images are the same bytes (``tests/test_render_capi.py``).

Used by :mod:`.batch` whenever the library is installed (always, for a built
package) and ``$EVENTLENS_FORCE_JIT`` is not set; otherwise the PyROOT path.
Renderers are cached per process and config digest, like :func:`._cpp.renderer`.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from .config import DRAW_CLASSES, RenderConfig

#: The ABI this module speaks (``eventlens_c_api_version``).
C_API_VERSION = 2
#: eventlens_render_batch's ``kind`` per output dtype.
KINDS = {np.dtype(np.uint8): 0, np.dtype(np.float32): 1, np.dtype(np.int32): 2}
#: eventlens_render_batch's ``kind`` for object placements (Renderer::render_batch_geometry).
GEOMETRY_KIND = 3
#: The counters of RenderStats, in the order the ABI writes them.
STATS_FIELDS = (
    "events", "objects", "drawn", "bad_value", "eta_outside", "not_drawn", "unknown_type",
    "eta_clamped", "radius_clamped",
)
_OVERLAP = {"max": 0, "add": 1, "over": 2}
_ETA_POLICY = {"skip": 0, "clamp": 1}
_MAX_CHANNELS = 16
_ERR_SIZE = 512

_p = ctypes.c_void_p
_i32, _i64 = ctypes.c_int32, ctypes.c_int64


@functools.cache
def library() -> ctypes.CDLL | None:
    """The installed ``libeventlens.so`` (ABI checked), or None (then use PyROOT)."""
    from ._cpp import _find

    if os.environ.get("EVENTLENS_FORCE_JIT"):
        return None
    path = _find("lib/libeventlens.so")
    if path is None:
        return None
    lib = ctypes.CDLL(str(path))
    if not hasattr(lib, "eventlens_c_api_version"):
        return None  # a library built before the C ABI: the PyROOT path still works
    lib.eventlens_c_api_version.restype = _i32
    version = lib.eventlens_c_api_version()
    if version != C_API_VERSION:
        raise ImportError(
            f"eventlens: {path} speaks C ABI {version}, this Python code {C_API_VERSION}: "
            "reinstall eventlens"
        )
    lib.eventlens_renderer_new.restype = _p
    lib.eventlens_renderer_new.argtypes = [
        _i32, _i32, _i32, ctypes.c_double, ctypes.c_double, ctypes.c_double, ctypes.c_float,
        _i32, _i32, _p, _p, _p, ctypes.c_char_p, _i64,
    ]
    lib.eventlens_renderer_free.restype = None
    lib.eventlens_renderer_free.argtypes = [_p]
    lib.eventlens_render_batch.restype = _i32
    lib.eventlens_render_batch.argtypes = [
        _p, _i32, _i64, _p, _p, _p, _p, _p, _p, _p, _p, _i64, _p, ctypes.c_char_p, _i64,
    ]
    return lib


def _pointer(a: np.ndarray | None, dtype: type) -> int | None:
    """The address of a C-contiguous array of ``dtype`` (None for an absent/empty one):
    C cannot check what it is handed, so this does (PyROOT's overloads did)."""
    if a is None or a.size == 0:
        return None
    if a.dtype != np.dtype(dtype) or not a.flags.c_contiguous:
        raise TypeError(
            f"eventlens renderer: a column of dtype {a.dtype} (contiguous: "
            f"{a.flags.c_contiguous}), need contiguous {np.dtype(dtype)}"
        )
    return a.ctypes.data


class CRenderer:
    """``eventlens::Renderer``'s batch methods over the C ABI (same arguments as the
    PyROOT object's ``render_batch_u8/f32/index``; absent columns may be None)."""

    def __init__(self, config: RenderConfig, lib: ctypes.CDLL) -> None:
        colours = config.colour_table()
        colour = np.zeros((len(DRAW_CLASSES), _MAX_CHANNELS), np.int32)
        draw = np.zeros(len(DRAW_CLASSES), np.int32)
        for i, cls in enumerate(DRAW_CLASSES):
            values = colours[cls]
            draw[i] = values is not None
            for channel, value in enumerate(values or ()):
                colour[i, channel] = value
        background = np.zeros(_MAX_CHANNELS, np.int32)
        background[: len(config.background())] = config.background()
        err = ctypes.create_string_buffer(_ERR_SIZE)
        self._lib = lib
        self._handle = lib.eventlens_renderer_new(
            config.n_channels, config.height, config.width, *config.eta_range,
            config.effective_radius_scale, config.btag_threshold, _OVERLAP[config.overlap],
            _ETA_POLICY[config.eta_policy], colour.ctypes.data, draw.ctypes.data,
            background.ctypes.data, err, _ERR_SIZE,
        )
        if not self._handle:
            raise ValueError(f"eventlens renderer: {err.value.decode()}")

    def __del__(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            self._lib.eventlens_renderer_free(handle)

    def _batch(self, n: int, offsets: np.ndarray, type_: np.ndarray, pt: np.ndarray,
               eta: np.ndarray, phi: np.ndarray, charge: np.ndarray | None,
               btag: np.ndarray | None, out: np.ndarray, out_size: int) -> dict[str, int]:
        return self._call(KINDS.get(out.dtype, -1), n, offsets, type_, pt, eta, phi, charge,
                          btag, out, out_size)

    def render_batch_geometry(self, n: int, offsets: np.ndarray, type_: np.ndarray,
                              pt: np.ndarray, eta: np.ndarray, phi: np.ndarray,
                              charge: np.ndarray | None, btag: np.ndarray | None,
                              out: np.ndarray, out_size: int) -> dict[str, int]:
        """Where each object lands (``Renderer::render_batch_geometry``): int32 rows
        (draw class, column, row, radius) into ``out``."""
        if out.dtype != np.int32:
            raise TypeError(f"eventlens renderer: geometry needs int32 output, not {out.dtype}")
        return self._call(GEOMETRY_KIND, n, offsets, type_, pt, eta, phi, charge, btag, out,
                          out_size)

    def _call(self, kind: int, n: int, offsets: np.ndarray, type_: np.ndarray,
              pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, charge: np.ndarray | None,
              btag: np.ndarray | None, out: np.ndarray, out_size: int) -> dict[str, int]:
        stats = np.zeros(len(STATS_FIELDS), np.int64)
        err = ctypes.create_string_buffer(_ERR_SIZE)
        if kind < 0 or not out.flags.c_contiguous or out.size != out_size:
            raise TypeError(f"eventlens renderer: bad output buffer {out.dtype} {out.shape}")
        f32, i32 = np.float32, np.int32
        status = self._lib.eventlens_render_batch(
            self._handle, kind, n, _pointer(offsets, np.int64),
            _pointer(type_, i32), _pointer(pt, f32), _pointer(eta, f32), _pointer(phi, f32),
            _pointer(charge, i32), _pointer(btag, f32), out.ctypes.data, out_size,
            stats.ctypes.data, err, _ERR_SIZE,
        )
        if status != 0:
            raise ValueError(f"eventlens renderer: {err.value.decode()}")
        return dict(zip(STATS_FIELDS, stats.tolist(), strict=True))

    render_batch_u8 = render_batch_f32 = render_batch_index = _batch


_renderers: dict[str, CRenderer] = {}


def renderer(config: RenderConfig) -> CRenderer | None:
    """The C-ABI renderer for this config (one per process and config), or None when
    the compiled library is not there (then :func:`._cpp.renderer`)."""
    lib = library()
    if lib is None:
        return None
    key = config.digest()
    if key not in _renderers:
        _renderers[key] = CRenderer(config, lib)
    return _renderers[key]


def describe() -> dict[str, Any]:
    """Which library the batch path uses (for logs and tests)."""
    lib = library()
    return {"c_api": lib is not None, "library": None if lib is None else Path(lib._name)}
