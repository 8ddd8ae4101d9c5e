"""Render batches of events (awkward object lists) with the C++ renderer.

This is entry point (b) of the C++ helper: the flat arrays and offsets of the
awkward layout are handed to C++ as they are (zero-copy when their dtypes are
already the canonical ones of :data:`eventlens.objects.OBJECT_FIELDS`), and the
images are drawn straight into a numpy buffer the caller may reuse.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import awkward as ak
import numpy as np

from ..objects import OBJECT_FIELDS
from . import _cpp
from .config import RenderConfig

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RenderStats:
    """Where every object went.  ``objects`` = drawn + the four skip counters."""

    events: int = 0
    objects: int = 0
    drawn: int = 0
    bad_value: int = 0
    eta_outside: int = 0
    not_drawn: int = 0
    unknown_type: int = 0
    eta_clamped: int = 0
    radius_clamped: int = 0

    @classmethod
    def from_cpp(cls, s: Any) -> RenderStats:
        """From the C++ RenderStats (PyROOT) or the C ABI's counters (a mapping)."""
        get = s.__getitem__ if isinstance(s, dict) else lambda name: getattr(s, name)
        return cls(**{f.name: int(get(f.name)) for f in dataclasses.fields(cls)})

    def __iadd__(self, other: RenderStats) -> RenderStats:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def skipped(self) -> int:
        return self.bad_value + self.eta_outside + self.not_drawn + self.unknown_type


@dataclasses.dataclass
class FlatObjects:
    """The awkward layout of an object list: offsets (N+1) and flat columns."""

    offsets: np.ndarray
    columns: dict[str, np.ndarray | None]

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1


def flatten_objects(objects: ak.Array) -> FlatObjects:
    """Offsets and flat numpy columns of an object list, without copying where possible.

    Needs the fields ``type, pt, eta, phi``; ``mass``, ``charge`` and ``btag`` are
    used when present (the renderer reads charge and b-tag, a padded table the mass
    too).  Columns with another dtype are converted (a copy).
    """
    if not isinstance(objects, ak.Array) or objects.ndim != 2:
        raise ValueError(
            "render: objects must be an awkward array of per-event lists of records "
            f"(type, pt, eta, phi[, charge, btag]); got {type(objects).__name__} "
            f"with ndim={getattr(objects, 'ndim', '?')}"
        )
    missing = [f for f in ("type", "pt", "eta", "phi") if f not in ak.fields(objects)]
    if missing:
        raise ValueError(f"render: objects lack field(s) {missing}; have {ak.fields(objects)}")
    layout = ak.to_layout(objects)
    while isinstance(layout, ak.contents.IndexedOptionArray | ak.contents.UnmaskedArray):
        layout = layout.content  # pragma: no cover - unusual inputs
    if not isinstance(layout, ak.contents.ListOffsetArray):
        layout = ak.to_layout(ak.to_packed(objects))
    offsets = np.asarray(layout.offsets.data, dtype=np.int64)
    content = layout.content
    columns: dict[str, np.ndarray | None] = {}
    for name in OBJECT_FIELDS:
        if name not in content.fields:
            columns[name] = None
            continue
        col = ak.to_numpy(ak.Array(content[name]), allow_missing=False)
        columns[name] = np.ascontiguousarray(col, dtype=OBJECT_FIELDS[name])
    return FlatObjects(offsets=offsets, columns=columns)


def allocate(config: RenderConfig, n_events: int) -> np.ndarray:
    """A zeroed (N, C, H, W) buffer of the config's dtype."""
    return np.zeros((n_events, *config.shape), dtype=config.dtype)


def check_buffer(out: np.ndarray, config: RenderConfig, n_events: int) -> None:
    """Raise ValueError unless ``out`` is a C-contiguous (N, C, H, W) array of the right dtype."""
    want_shape = (n_events, *config.shape)
    if not isinstance(out, np.ndarray):
        raise ValueError(f"render: out must be a numpy array, got {type(out).__name__}")
    if out.shape != want_shape or out.dtype != np.dtype(config.dtype):
        raise ValueError(
            f"render: output buffer has shape {out.shape} and dtype {out.dtype}, "
            f"need shape {want_shape} and dtype {config.dtype}"
        )
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("render: output buffer must be C-contiguous and writeable")


def render_flat(
    flat: FlatObjects, config: RenderConfig, out: np.ndarray | None = None
) -> tuple[np.ndarray, RenderStats]:
    """Render pre-flattened objects; see :func:`render`."""
    n = flat.n_events
    if out is None:
        out = allocate(config, n)
    check_buffer(out, config, n)
    if n == 0:
        return out, RenderStats()
    r, cols = _renderer_and_columns(config, flat)
    fn = r.render_batch_u8 if config.dtype == "uint8" else r.render_batch_f32
    stats = fn(n, flat.offsets, *cols, out, out.size)
    return out, RenderStats.from_cpp(stats)


def render_object_index(objects: ak.Array, config: RenderConfig | None = None) -> np.ndarray:
    """Which object lit each pixel: (N, C, H, W) int32 maps.

    Same geometry as :func:`render`; a pixel holds the painting object's position
    in its event's list plus one, 0 where nothing is drawn.  Where outlines
    overlap in a channel, the object drawn last (later in the list) owns the
    pixel — so every lit pixel belongs to exactly one object, which is what
    per-object attribution needs.
    """
    config = config or RenderConfig()
    flat = flatten_objects(objects)
    out = np.zeros((flat.n_events, *config.shape), dtype=np.int32)
    if flat.n_events:
        r, cols = _renderer_and_columns(config, flat)
        r.render_batch_index(flat.n_events, flat.offsets, *cols, out, out.size)
    return out


_COLUMNS = ("type", "pt", "eta", "phi", "charge", "btag")


def _renderer_and_columns(config: RenderConfig, flat: FlatObjects) -> tuple[Any, list[Any]]:
    """The renderer for ``config`` and the columns to hand it.

    The compiled library through its C ABI (:mod:`._capi`: no PyROOT, no cling in
    the process) when installed, else PyROOT's JIT-compiled renderer, which takes a
    C++ nullptr for an absent or empty column (cppyy cannot pass a zero-length buffer).
    """
    from . import _capi

    c = flat.columns
    r = _capi.renderer(config)
    if r is not None:
        return r, [c[k] for k in _COLUMNS]
    null = _cpp.root().nullptr
    return _cpp.renderer(config), [c[k] if c[k] is not None and c[k].size else null
                                   for k in _COLUMNS]


def render_geometry(flat: FlatObjects, config: RenderConfig) -> np.ndarray:
    """Where the renderer puts each object: ``(n_objects, 4)`` int32 rows
    (draw class, column, row, radius), ``(-1, 0, 0, 0)`` for an object it does not draw.

    Computed by the C++ renderer's own placement code (``Renderer::place``, which
    drawing uses), so it is exact, not a re-derivation; rows follow the flat order
    of ``flat`` (object ``i`` of event ``e`` is row ``offsets[e] - offsets[0] + i``).
    """
    n_objects = int(flat.offsets[-1] - flat.offsets[0]) if flat.n_events else 0
    out = np.zeros((n_objects, 4), dtype=np.int32)
    if n_objects:
        renderer, cols = _renderer_and_columns(config, flat)
        renderer.render_batch_geometry(flat.n_events, flat.offsets, *cols, out, out.size)
    return out


def same_pictures(a: FlatObjects, b: FlatObjects, config: RenderConfig) -> np.ndarray:
    """Per event of two equally long batches: True where both draw the same picture.

    Sufficient, not necessary: the events' drawn objects must land with the same
    draw class, centre pixel and radius, in the same order (objects that are not
    drawn are ignored) -- then the renderer makes the same calls and the images are
    identical bit for bit in every overlap mode.  The radius is quantised to whole
    pixels and the centre to the pixel grid, so a small change of pT, eta or phi
    usually leaves the picture as it was: systematic variations re-run the model
    only where this is False (:mod:`eventlens.processors.systematics`).
    """
    n = a.n_events
    if b.n_events != n:
        raise ValueError(f"same_pictures: {n} events vs {b.n_events}")
    if n == 0:
        return np.zeros(0, dtype=bool)

    def drawn(flat: FlatObjects) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        geo = render_geometry(flat, config)
        event = np.repeat(np.arange(n), np.diff(flat.offsets))
        keep = geo[:, 0] >= 0
        return geo[keep], event[keep], np.bincount(event[keep], minlength=n)

    ga, ea, na = drawn(a)
    gb, eb, nb = drawn(b)
    same = na == nb
    rows_a, rows_b = same[ea], same[eb]  # equal counts: the rows of those events align
    differ = (ga[rows_a] != gb[rows_b]).any(axis=1)
    same &= np.bincount(ea[rows_a][differ], minlength=n) == 0
    return same



def render(
    objects: ak.Array, config: RenderConfig | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """Draw events as images.

    Args:
        objects: awkward array, one list of object records per event (see
            :mod:`eventlens.objects`; :func:`eventlens.objects.objects_from_nanoevents`
            turns a NanoEvents chunk into one).
        config: the picture; default :class:`RenderConfig()` (64×64, 6 channels).
        out: optional (N, C, H, W) buffer of ``config.dtype`` to draw into (reuse
            it across chunks: first-touch page faults of fresh buffers are slow).

    Returns:
        The (N, C, H, W) images (``out`` itself when given).  Objects that were
        not drawn (NaN/inf or pT ≤ 0, outside the η range with ``skip``, classes
        without a channel) are counted; see :func:`render_with_stats`.
    """
    return render_with_stats(objects, config, out)[0]


def render_with_stats(
    objects: ak.Array, config: RenderConfig | None = None, out: np.ndarray | None = None
) -> tuple[np.ndarray, RenderStats]:
    """:func:`render`, also returning where every object went."""
    config = config or RenderConfig()
    images, stats = render_flat(flatten_objects(objects), config, out)
    if stats.bad_value or stats.unknown_type:
        log.warning(
            "render: skipped %d object(s) with NaN/inf or non-positive values and %d with "
            "unknown type codes (of %d)",
            stats.bad_value,
            stats.unknown_type,
            stats.objects,
        )
    return images, stats
