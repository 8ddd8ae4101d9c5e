"""From pixel attributions to object attributions, with the renderer's object-index maps.

The renderer can draw, instead of the picture, *which object lit each pixel*
(:func:`eventlens.render.render_object_index`: position in the event's list
+ 1, 0 for none).  Where outlines overlap in a channel, the object drawn last
owns the pixel, so every lit pixel belongs to exactly one object and summing a
pixel attribution map over each object's pixels *partitions* it: the
per-object sums plus the unassigned remainder (pixels nobody lit) equal the
map's total, to floating-point rounding.

With the empty image as baseline, Integrated Gradients gives exactly zero to a
pixel equal to the background (its attribution is (x − x′) times an
averaged gradient), so for IG the unassigned remainder is zero up to
rounding; it is still reported, so that the books always balance.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from ..render.batch import FlatObjects, render_object_index
from ..render.config import RenderConfig


def flat_to_awkward(flat: FlatObjects) -> ak.Array:
    """The awkward object lists of flat (offsets + columns) events."""
    counts = np.diff(flat.offsets)
    lo, hi = int(flat.offsets[0]), int(flat.offsets[-1])
    records = ak.zip({k: v[lo:hi] for k, v in flat.columns.items() if v is not None},
                     depth_limit=1)
    return ak.unflatten(records, counts)


def object_index_maps(flat: FlatObjects, config: RenderConfig) -> np.ndarray:
    """(N, C, H, W) int32: which object (position + 1) lit each pixel, 0 for none."""
    return render_object_index(flat_to_awkward(flat), config)


def object_sums(
    attributions: np.ndarray, index: np.ndarray, n_objects: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum pixel attributions over each object's pixels.

    Args:
        attributions: (K, C, H, W) — one map per explained class — or (C, H, W).
        index: (C, H, W) object-index map of the same event.
        n_objects: objects in the event's list (objects that lit nothing get 0).

    Returns:
        ``(per_object (n_objects, K), unassigned (K,), n_pixels (n_objects,))``;
        ``per_object.sum(0) + unassigned`` equals ``attributions`` summed over
        pixels, class by class.
    """
    attr = np.asarray(attributions, dtype=np.float64)
    single = attr.ndim == index.ndim
    if single:
        attr = attr[None]
    if attr.shape[1:] != index.shape:
        raise ValueError(f"object_sums: attributions {attr.shape[1:]} vs index map {index.shape}")
    flat_index = np.asarray(index, dtype=np.int64).ravel()
    if flat_index.size and (flat_index.min() < 0 or flat_index.max() > n_objects):
        raise ValueError(f"object_sums: index map refers to object {flat_index.max()} of "
                         f"{n_objects}")
    k = attr.shape[0]
    bins = n_objects + 1
    # One bincount for all classes: class j uses bins [j·bins, (j+1)·bins).
    keys = (np.arange(k, dtype=np.int64)[:, None] * bins + flat_index[None, :]).ravel()
    sums = np.bincount(keys, weights=attr.reshape(k, -1).ravel(), minlength=k * bins)
    sums = sums.reshape(k, bins)
    n_pixels = np.bincount(flat_index, minlength=bins)[1:]
    per_object = sums[:, 1:].T.copy()
    unassigned = sums[:, 0].copy()
    return per_object, unassigned, n_pixels
