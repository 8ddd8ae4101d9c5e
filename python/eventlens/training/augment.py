"""Augmentations that are exact symmetries of a collision event, applied to the objects.

* **Global φ rotation**: the detector and the physics are symmetric under a
  rotation about the beam axis, so adding the same random Δφ to every object
  (MET included) gives an equally likely event.  It is applied to the object
  table *before* drawing, which is exact — rolling the rendered image by
  whole pixel rows would quantise Δφ and shift outlines by up to half a pixel.
* **η reflection** (η → −η for every object): the pp initial state is
  symmetric under z → −z.  MET (drawn at η = 0) is unchanged.

Arbitrary image transforms (shear, scaling, crops) are not symmetries — they
would change angles and pT — and are deliberately not offered.
"""

from __future__ import annotations

import numpy as np

from ..render.batch import FlatObjects
from .config import AugmentConfig


def rotate_phi(flat: FlatObjects, dphi: np.ndarray) -> None:
    """Add ``dphi[i]`` to every φ of event i, wrapped into [−π, π) (in place)."""
    counts = np.diff(flat.offsets)
    phi = flat.columns["phi"]
    if phi is None or phi.size == 0:
        return
    shifted = phi.astype(np.float64) + np.repeat(np.asarray(dphi, dtype=np.float64), counts)
    wrapped = np.mod(shifted + np.pi, 2.0 * np.pi) - np.pi
    phi[:] = wrapped.astype(phi.dtype)


def reflect_eta(flat: FlatObjects, flip: np.ndarray) -> None:
    """η → −η for every object of the events where ``flip`` is true (in place)."""
    eta = flat.columns["eta"]
    if eta is None or eta.size == 0:
        return
    sign = np.repeat(np.where(flip, -1.0, 1.0).astype(eta.dtype), np.diff(flat.offsets))
    eta *= sign


def augment(flat: FlatObjects, rng: np.random.Generator, config: AugmentConfig) -> None:
    """Apply the configured augmentations to a freshly gathered batch (in place).

    Random numbers are always drawn for both augmentations (even when one is
    off), so switching one off does not change the other's draws.
    """
    n = flat.n_events
    dphi = rng.uniform(-np.pi, np.pi, n)
    flip = rng.random(n) < 0.5
    if config.phi_rotation:
        rotate_phi(flat, dphi)
    if config.eta_reflection:
        reflect_eta(flat, flip)
