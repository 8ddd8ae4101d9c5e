"""The event model every stage shares: a per-event list of physics objects.

An event is an awkward list of records ``{type, pt, eta, phi, mass, charge,
btag}`` (the "object table" the processors write to Parquet).  The renderer
draws it, the feed-forward baseline pads it, the explainer maps attributions
back onto it.  Type codes match ``eventlens::ObjectType`` in
``cpp/include/eventlens/render.h``.

MET is stored as an object of type ``MET`` with ``eta = 0`` and ``mass = 0``,
so one list carries everything an image shows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import IntEnum

import awkward as ak
import numpy as np

log = logging.getLogger(__name__)


class ObjectType(IntEnum):
    """Physics object type codes (identical to the C++ ``eventlens::ObjectType``)."""

    ELECTRON = 0
    MUON = 1
    PHOTON = 2
    JET = 3
    MET = 4


#: Field names and dtypes of an object record, in the order they are written.
OBJECT_FIELDS: dict[str, np.dtype] = {
    "type": np.dtype(np.int32),
    "pt": np.dtype(np.float32),
    "eta": np.dtype(np.float32),
    "phi": np.dtype(np.float32),
    "mass": np.dtype(np.float32),
    "charge": np.dtype(np.int32),
    "btag": np.dtype(np.float32),
}


def make_objects(
    type: ak.Array,
    pt: ak.Array,
    eta: ak.Array,
    phi: ak.Array,
    mass: ak.Array | None = None,
    charge: ak.Array | None = None,
    btag: ak.Array | None = None,
) -> ak.Array:
    """Zip jagged columns into object records with the canonical dtypes.

    Missing ``mass``/``charge``/``btag`` are filled with zeros (a photon has no
    charge, a muon no b-tag score), so every object has every field.
    """
    zeros = ak.zeros_like(pt)
    columns = {
        "type": type,
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "mass": zeros if mass is None else mass,
        "charge": zeros if charge is None else charge,
        "btag": zeros if btag is None else btag,
    }
    return ak.zip(
        {name: ak.values_astype(col, OBJECT_FIELDS[name]) for name, col in columns.items()},
        depth_limit=2,
    )


_CODES = {
    "Electron": ObjectType.ELECTRON,
    "Muon": ObjectType.MUON,
    "Photon": ObjectType.PHOTON,
    "Jet": ObjectType.JET,
}


def _collection(coll: ak.Array, code: ObjectType, extra: dict[str, str]) -> ak.Array:
    fields = {"mass": "mass", "charge": "charge", **extra}
    kwargs = {key: coll[field] for key, field in fields.items() if field in ak.fields(coll)}
    return make_objects(
        ak.full_like(coll.pt, int(code), dtype=np.int32), coll.pt, coll.eta, coll.phi, **kwargs
    )


def objects_from_collections(
    collections: Mapping[str, ak.Array], met: ak.Array | None = None, btag: str = "btagDeepFlavB"
) -> ak.Array:
    """Object lists from (already selected) collections keyed by NanoAOD name.

    ``collections`` may hold any of Electron, Muon, Photon, Jet (jagged records
    with pt, eta, phi and optionally mass/charge and, for jets, the ``btag``
    field); ``met`` is one record {pt, phi} per event or None.  The result is in
    the canonical order whatever the mapping's order, so every producer (the
    processors' tables, :func:`objects_from_nanoevents`) draws identically.
    """
    unknown = sorted(set(collections) - set(_CODES))
    if unknown:
        raise KeyError(f"unknown collection(s) {unknown}; known: {list(_CODES)}")
    parts = [
        _collection(collections[name], code, {"btag": btag} if name == "Jet" else {})
        for name, code in _CODES.items()
        if name in collections
    ]
    if met is not None:
        one = np.ones(len(met), dtype=np.int64)  # a scalar 1 fails on zero events
        met_pt = ak.unflatten(met.pt, one)
        parts.append(
            make_objects(
                ak.full_like(met_pt, int(ObjectType.MET), dtype=np.int32),
                met_pt,
                ak.zeros_like(met_pt),
                ak.unflatten(met.phi, one),
            )
        )
    return ak.concatenate(parts, axis=1)


def objects_from_nanoevents(
    events: ak.Array,
    btag: str = "btagDeepFlavB",
    met: str = "MET",
    collections: tuple[str, ...] = ("Electron", "Muon", "Photon", "Jet"),
) -> ak.Array:
    """All objects of NanoAOD events, in the renderer's canonical order.

    The order (electrons, muons, photons, jets, MET) is the drawing order of the
    C++ per-event entry point, so the batch and RDataFrame paths give the same
    image even with the ``over`` overlap rule.  A collection absent from the
    file (e.g. no ``Photon`` in a reduced NanoAOD) contributes no objects, with
    a warning naming it — the RDataFrame path does the same.  A missing MET
    collection is an error (pass ``met=`` to pick another, e.g. ``PuppiMET``).
    """
    present = ak.fields(events)
    if met not in present:
        candidates = [f for f in present if f.endswith("MET") and not f.startswith("Gen")]
        raise KeyError(
            f"NanoAOD events have no {met!r} collection; MET-like ones present: {candidates}"
        )
    absent = [c for c in collections if c not in present]
    if absent:
        log.warning("NanoAOD events have no %s collection(s): drawn as empty", absent)
    return objects_from_collections(
        {c: events[c] for c in collections if c in present}, events[met], btag
    )
