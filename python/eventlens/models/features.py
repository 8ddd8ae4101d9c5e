"""The padded object table: fixed-size feature vectors for the feed-forward models.

Seed 002 §6 feeds a 5×500 network "filling the empty parameters with default
values"; seed 001 feeds the two photons' four-vectors.  Both are a
:class:`TableSpec`: a fixed number of slots per object type, filled with that
type's objects in decreasing pT, and a fixed list of features per slot.  Empty
slots are zeros (pT = 0 is "no object", a value no real object has).

This module is numpy-only (no torch): the in-loop ONNX inference builds the
same vectors from the same spec, which the model card carries.

Standardisation ((x − mean)/σ with the training split's mean and σ) is *not*
done here but inside the model (buffers saved with the weights and exported
into the ONNX graph), so a table model's input is exactly this module's output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import DEFAULT_SOURCE, ConfigValueError, build
from ..objects import ObjectType

#: Per-object features a spec may use.  ``energy`` = sqrt((pT cosh η)² + m²).
KNOWN_FEATURES = ("pt", "eta", "phi", "energy", "mass", "charge", "btag")

_TYPE_NAMES = {t.name.lower(): int(t) for t in ObjectType}


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """Slots per object type and features per slot.

    Attributes:
        slots: ``{type name: number of slots}``, in the order the slots appear in
            the vector (type names: electron, muon, photon, jet, met).
        features: per-slot features, from :data:`KNOWN_FEATURES`.
    """

    slots: tuple[tuple[str, int], ...]
    features: tuple[str, ...]

    def __post_init__(self) -> None:
        slots = tuple(
            (str(k), int(v))
            for k, v in (self.slots.items() if isinstance(self.slots, Mapping) else self.slots)
        )
        object.__setattr__(self, "slots", slots)
        object.__setattr__(self, "features", tuple(self.features))
        unknown = [k for k, _ in slots if k not in _TYPE_NAMES]
        if unknown:
            raise ConfigValueError(
                "slots", f"has unknown object type(s) {unknown}; known: {sorted(_TYPE_NAMES)}"
            )
        bad = [f for f in self.features if f not in KNOWN_FEATURES]
        if bad:
            raise ConfigValueError(
                "features", f"has unknown feature(s) {bad}; known: {list(KNOWN_FEATURES)}"
            )
        if not slots or any(n < 1 for _, n in slots):
            raise ConfigValueError("slots", f"= {dict(slots)}, need >= 1 slot per listed type")
        if not self.features:
            raise ConfigValueError("features", "is empty, need >= 1 feature")
        if len({k for k, _ in slots}) != len(slots):
            raise ConfigValueError("slots", f"repeats an object type in {slots}")

    @property
    def n_slots(self) -> int:
        return sum(n for _, n in self.slots)

    @property
    def n_features(self) -> int:
        """Length of the flat feature vector (slots × features)."""
        return self.n_slots * len(self.features)

    def feature_names(self) -> list[str]:
        """``muon0_pt, muon0_eta, …`` in vector order."""
        return [f"{t}{i}_{f}" for t, n in self.slots for i in range(n) for f in self.features]

    def to_dict(self) -> dict[str, Any]:
        """``slots`` as ordered ``[type, n]`` pairs: JSON objects are written with sorted
        keys (model cards), which would lose the vector order."""
        return {"slots": [[k, n] for k, n in self.slots], "features": list(self.features)}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], where: str = "features", source: str = DEFAULT_SOURCE
    ) -> TableSpec:
        """Build from a mapping (a config's ``features:`` block, a model card's copy);
        ``slots`` as ``{type: n}`` or ordered ``[[type, n], ...]``."""
        return build(cls, data, where, source)


#: Seed 002 §6 baseline: the objects the DTW/dimuon selections keep, padded.
#: 2 electrons + 2 muons + 2 photons + 6 jets + MET = 13 slots × 6 features = 78 inputs.
FFN_DEFAULT_SPEC = TableSpec(
    slots=(("electron", 2), ("muon", 2), ("photon", 2), ("jet", 6), ("met", 1)),
    features=("pt", "eta", "phi", "energy", "charge", "btag"),
)

#: Seed 001: the two leading photons' four-vectors (pT, η, φ, E) = 8 inputs.
HGG_DEFAULT_SPEC = TableSpec(slots=(("photon", 2),), features=("pt", "eta", "phi", "energy"))


def featurise(
    offsets: np.ndarray, columns: Mapping[str, np.ndarray | None], spec: TableSpec
) -> np.ndarray:
    """Fill the padded table of N events given in flat (offsets + columns) form.

    Args:
        offsets: (N+1,) int64 event boundaries into the flat object columns.
        columns: flat object columns ``type, pt, eta, phi`` and optionally
            ``mass, charge, btag`` (missing ones count as zeros).
        spec: slots and features.

    Returns:
        (N, spec.n_features) float32, vector order as :meth:`TableSpec.feature_names`.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n_events = len(offsets) - 1
    n_obj = int(offsets[-1] - offsets[0])
    out = np.zeros((n_events, spec.n_slots, len(spec.features)), dtype=np.float32)
    if n_events == 0 or n_obj == 0:
        return out.reshape(n_events, -1)
    sl = slice(int(offsets[0]), int(offsets[-1]))
    counts = np.diff(offsets)
    event = np.repeat(np.arange(n_events), counts)
    otype = np.asarray(columns["type"])[sl].astype(np.int64)
    pt = np.asarray(columns["pt"])[sl].astype(np.float64)

    # Slot base per type code (-1: type not in the spec), and slots per type.
    base = np.full(max(_TYPE_NAMES.values()) + 1, -1, dtype=np.int64)
    cap = np.zeros_like(base)
    start = 0
    for name, n in spec.slots:
        base[_TYPE_NAMES[name]], cap[_TYPE_NAMES[name]] = start, n
        start += n
    known = (otype >= 0) & (otype < len(base))
    keep = known & np.isfinite(pt) & (pt > 0)
    keep[known] &= base[otype[known]] >= 0
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return out.reshape(n_events, -1)
    # Rank objects within (event, type) by decreasing pT (stable: ties keep file order).
    order = idx[np.lexsort((-pt[idx], otype[idx], event[idx]))]
    group = event[order] * len(base) + otype[order]
    first = np.r_[True, group[1:] != group[:-1]]
    start_of_group = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
    rank = np.arange(order.size) - start_of_group
    t = otype[order]
    ok = rank < cap[t]
    sel, slot = order[ok], base[t[ok]] + rank[ok]
    ev = event[sel]
    values = _feature_columns(columns, sl, sel, spec.features)
    for j, v in enumerate(values):
        out[ev, slot, j] = v
    return out.reshape(n_events, -1)


def _feature_columns(
    columns: Mapping[str, np.ndarray | None], sl: slice, sel: np.ndarray, features: tuple[str, ...]
) -> list[np.ndarray]:
    def col(name: str) -> np.ndarray:
        c = columns.get(name)
        if c is None:
            return np.zeros(sel.size, dtype=np.float64)
        return np.asarray(c)[sl][sel].astype(np.float64)

    values = []
    for f in features:
        if f == "energy":
            pt, eta, mass = col("pt"), col("eta"), col("mass")
            values.append(np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2))
        else:
            values.append(col(f))
    return values
