"""A pure-numpy reference renderer — for tests only.

It restates the geometry of ``cpp/include/eventlens/render.h`` operation by
operation in float64, independently of the C++ code, so that the tests can
demand bit-identical images.  It is slow (a Python loop over objects) and is
not used by any production path.
"""

from __future__ import annotations

import functools
import math

import awkward as ak
import numpy as np

from ..objects import ObjectType
from .config import DRAW_CLASSES, RenderConfig


@functools.cache
def midpoint_circle(r: int) -> np.ndarray:
    """Unique (dx, dy) pixel offsets of the midpoint circle of radius r, shape (n, 2)."""
    pts: set[tuple[int, int]] = set()
    x, y, err = r, 0, 1 - r
    while x >= y:
        for px, py in ((x, y), (y, x), (-y, x), (-x, y), (-x, -y), (-y, -x), (y, -x), (x, -y)):
            pts.add((px, py))
        y += 1
        if err < 0:
            err += 2 * y + 1
        else:
            x -= 1
            err += 2 * (y - x) + 1
    return np.array(sorted(pts), dtype=np.int64)


def draw_class(type_code: int, charge: int, btag: float, threshold: float) -> str | None:
    if type_code == ObjectType.ELECTRON:
        return "electron"
    if type_code == ObjectType.MUON:
        return "muon-" if charge < 0 else "muon+"
    if type_code == ObjectType.PHOTON:
        return "photon"
    if type_code == ObjectType.JET:
        return "bjet" if btag >= np.float32(threshold) else "jet"
    if type_code == ObjectType.MET:
        return "met"
    return None


def pixel_geometry(config: RenderConfig, pt: float, eta: float, phi: float) -> tuple[int, int, int]:
    """(column, row, radius) of an object that is drawn, per render.h."""
    width, height = config.width, config.height
    eta_min, eta_max = config.eta_range
    xs = (eta - eta_min) / (eta_max - eta_min)
    cx = min(math.floor(xs * width), width - 1)
    p = math.fmod(phi + math.pi, 2.0 * math.pi)
    if p < 0.0:
        p += 2.0 * math.pi
    ys = p / (2.0 * math.pi)
    cy = min(max(math.floor(ys * height), 0), height - 1)
    rf = config.effective_radius_scale * math.log(pt)
    r = max(math.floor(rf + 0.5), 1)
    r_max = max(1, min(height, width) // 2 - 1)
    return cx, cy, min(r, r_max)


def render_reference(objects: ak.Array, config: RenderConfig) -> np.ndarray:
    """Images of ``objects`` as the C++ renderer must draw them."""
    colours = config.colour_table()
    bg = np.array(config.background(), dtype=np.float64)
    n = len(objects)
    out = np.empty((n, *config.shape), dtype=config.dtype)
    threshold = np.float32(config.btag_threshold)
    eta_min, eta_max = config.eta_range
    fields = ak.fields(objects)
    for e in range(n):
        img = np.empty(config.shape, dtype=config.dtype)
        for k in range(config.n_channels):
            img[k] = _value(bg[k], config.dtype)
        for obj in objects[e].to_list():
            cls = draw_class(
                int(obj["type"]),
                int(obj["charge"]) if "charge" in fields else 1,
                np.float32(obj["btag"]) if "btag" in fields else np.float32(0.0),
                threshold,
            )
            pt = float(np.float32(obj["pt"]))
            eta = 0.0 if cls == "met" else float(np.float32(obj["eta"]))
            phi = float(np.float32(obj["phi"]))
            if cls is None or not all(map(math.isfinite, (pt, eta, phi))) or not pt > 0:
                continue
            colour = colours[cls]
            if colour is None:
                continue
            if not eta_min <= eta <= eta_max:
                if config.eta_policy == "skip":
                    continue
                eta = min(max(eta, eta_min), eta_max)
            cx, cy, r = pixel_geometry(config, pt, eta, phi)
            offs = midpoint_circle(r)
            xs = cx + offs[:, 0]
            ys = (cy + offs[:, 1]) % config.height
            keep = (xs >= 0) & (xs < config.width)
            xs, ys = xs[keep], ys[keep]
            for k, v in enumerate(colour):
                if v == 0 and config.overlap != "over":
                    continue
                val = _value(v, config.dtype)
                plane = img[k]
                if config.overlap == "max":
                    plane[ys, xs] = np.maximum(plane[ys, xs], val)
                elif config.overlap == "add":
                    if config.dtype == "uint8":
                        s = plane[ys, xs].astype(np.int64) + int(v)
                        plane[ys, xs] = np.minimum(s, 255).astype(np.uint8)
                    else:
                        plane[ys, xs] = np.minimum(plane[ys, xs] + val, np.float32(1.0))
                else:
                    plane[ys, xs] = val
        out[e] = img
    return out


def _value(v: float, dtype: str) -> np.generic:
    if dtype == "uint8":
        return np.uint8(v)
    return np.float32(v) / np.float32(255.0)


__all__ = ["DRAW_CLASSES", "midpoint_circle", "pixel_geometry", "render_reference"]
