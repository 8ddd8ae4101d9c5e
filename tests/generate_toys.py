"""Hand-made generator events for detector unit tests (no Pythia).

``flat_events([[particle, ...], ...])`` builds a :class:`FlatEvents` from
per-event particle lists; a particle is a dict with ``pid``, ``pt``, ``eta``,
``phi`` and optionally ``mass``, ``status`` (default 1, final), ``mother``
(local index of its mother in the event) and ``daughters`` (local index range
``(first, last)``).  Charges come from a small table of the pdgIds used here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eventlens.generate.particles import FlatEvents

#: Charge (e) of the particles the toys use; antiparticles by sign.
_CHARGE = {11: -1.0, 13: -1.0, 211: 1.0, 321: 1.0, 2212: 1.0, 22: 0.0, 111: 0.0, 221: 0.0,
           130: 0.0, 2112: 0.0, 12: 0.0, 14: 0.0, 23: 0.0, 24: 1.0}


def charge_of(pid: np.ndarray) -> np.ndarray:
    return np.array([np.sign(p) * _CHARGE[abs(int(p))] for p in pid], dtype=np.float64)


def flat_events(events: list[list[dict[str, Any]]]) -> FlatEvents:
    counts = np.array([len(e) for e in events], dtype=np.int64)
    offsets = np.zeros(len(events) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    rows = [(i, j, p) for i, ev in enumerate(events) for j, p in enumerate(ev)]

    def col(key: str, default: float = 0.0) -> np.ndarray:
        return np.array([p.get(key, default) for _, _, p in rows], dtype=np.float64)

    def glob(i: int, local: int | None) -> int:
        return -1 if local is None else int(offsets[i] + local)

    pid = np.array([p["pid"] for _, _, p in rows], dtype=np.int64)
    pt, eta, phi, mass = col("pt"), col("eta"), col("phi"), col("mass")
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    d1 = [glob(i, p["daughters"][0]) if "daughters" in p else -1 for i, _, p in rows]
    d2 = [glob(i, p["daughters"][1]) if "daughters" in p else -1 for i, _, p in rows]
    event = np.repeat(np.arange(len(events)), counts)
    return FlatEvents(
        n_events=len(events),
        offsets=offsets,
        event=event,
        local=np.arange(len(rows)) - offsets[event],
        pid=pid,
        status=np.array([p.get("status", 1) for _, _, p in rows], dtype=np.int64),
        m1=np.array([glob(i, p.get("mother")) for i, _, p in rows], dtype=np.int64),
        m2=np.full(len(rows), -1, dtype=np.int64),
        d1=np.array(d1, dtype=np.int64),
        d2=np.array(d2, dtype=np.int64),
        px=px, py=py, pz=pz, e=e, mass=mass,
        vx=np.zeros(len(rows)), vy=np.zeros(len(rows)), vz=col("vz"),
        charge=charge_of(pid), pt=pt, eta=eta, phi=phi,
    )


def generator_columns(n: int) -> dict[str, np.ndarray]:
    """Generator_* columns of ``n`` unit-weight events."""
    zeros = np.zeros(n, dtype=np.float32)
    return {"id1": np.zeros(n, np.int32), "id2": np.zeros(n, np.int32), "x1": zeros,
            "x2": zeros, "xpdf1": zeros, "xpdf2": zeros, "scalePDF": zeros, "binvar": zeros,
            "weight": np.ones(n, dtype=np.float32)}
