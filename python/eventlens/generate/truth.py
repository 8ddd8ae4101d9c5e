"""Generator-level truth in NanoAOD form: GenPart (a cheap subset), GenMET, Generator_*.

GenPart keeps what analyses and matching need, not the whole Pythia record
(~1000 entries per event): the hard process, the last copies of the heavy
bosons, tops and quarkonia, the last b hadrons (and c hadrons above 5 GeV),
and the final-state electrons/muons (pT > 3 GeV) and non-hadron-decay photons
(pT > 10 GeV) that reconstructed objects point to through ``genPartIdx``.
``genPartIdxMother`` points to the nearest *stored* ancestor, as in NanoAOD.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from .particles import NEUTRINOS, FlatEvents, last_of_kind, segment_sum

#: NanoAOD GenPart_statusFlags bits written here.
FLAG_IS_PROMPT = 0
FLAG_IS_TAU_DECAY_PRODUCT = 2
FLAG_IS_DIRECT_HADRON_DECAY_PRODUCT = 6
FLAG_IS_HARD_PROCESS = 7
FLAG_FROM_HARD_PROCESS = 8
FLAG_IS_FIRST_COPY = 12
FLAG_IS_LAST_COPY = 13

#: Resonances whose last copy is stored (t, Z, W, H, J/ψ, ψ(2S), Υ(1S)).
RESONANCES = (6, 23, 24, 25, 443, 100443, 553)

#: Longest mother chain followed (Pythia's are ~10–60 entries).
_MAX_ANCESTRY = 400


@dataclass
class GenParticles:
    """The stored GenPart rows and the map from Pythia rows to GenPart indices."""

    rows: np.ndarray  # global Pythia rows of the stored particles, sorted
    counts: np.ndarray  # GenPart per event
    index_of_row: np.ndarray  # Pythia row -> index within its event's GenPart, -1 if absent
    columns: dict[str, np.ndarray]  # flat GenPart_* columns


def _copies(flat: FlatEvents) -> tuple[np.ndarray, np.ndarray]:
    """(is_first_copy, is_last_copy): copies are a particle and its same-pdgId child."""
    has_mother = flat.m1 >= 0
    m = np.where(has_mother, flat.m1, 0)
    same_as_mother = has_mother & (flat.pid[m] == flat.pid)
    has_same_child = np.zeros(len(flat.pid), dtype=bool)
    has_same_child[flat.m1[same_as_mother]] = True
    return ~same_as_mother, ~has_same_child


def gen_particles(flat: FlatEvents) -> GenParticles:
    """Select the GenPart subset and compute status, statusFlags and mother indices."""
    apid = np.abs(flat.pid)
    astatus = np.abs(flat.status)
    final = flat.final
    hard = (astatus >= 21) & (astatus <= 29)
    first_copy, last_copy = _copies(flat)
    hadron = flat.hadron
    decayed_hadron = hadron & (astatus > 80)  # not the beam protons (status -12)
    m1 = np.where(flat.m1 >= 0, flat.m1, 0)
    mother_is_hadron = (flat.m1 >= 0) & decayed_hadron[m1]

    last_b = last_of_kind(flat, flat.b_hadron)
    last_c = last_of_kind(flat, flat.c_hadron) & (flat.pt > 5)
    stored = (
        hard
        | (np.isin(apid, RESONANCES) & last_copy)
        | last_b
        | last_c
        | (final & ((apid == 11) | (apid == 13)) & (flat.pt > 3))
        | (final & (apid == 22) & (flat.pt > 10) & ~mother_is_hadron)
    ) & ~flat.is_pileup  # GenPart describes the hard interaction only, as in CMS
    rows = np.flatnonzero(stored)
    n = len(rows)

    # Walk up the mother1 chain of every stored particle at once.
    mother = np.full(n, -1, dtype=np.int64)
    hadron_anc = np.zeros(n, dtype=bool)
    tau_anc = np.zeros(n, dtype=bool)
    hard_anc = np.zeros(n, dtype=bool)
    cur = flat.m1[rows].copy()
    alive = np.flatnonzero(cur >= 0)
    for _ in range(_MAX_ANCESTRY):
        if alive.size == 0:
            break
        c = cur[alive]
        hit = (mother[alive] < 0) & stored[c]
        mother[alive[hit]] = c[hit]
        hadron_anc[alive] |= decayed_hadron[c]
        tau_anc[alive] |= apid[c] == 15
        hard_anc[alive] |= hard[c]
        nxt = flat.m1[c]
        cur[alive] = nxt
        alive = alive[nxt >= 0]

    event = flat.event[rows]
    counts = np.bincount(event, minlength=flat.n_events).astype(np.int64)
    starts = np.zeros(flat.n_events + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    position = np.arange(n, dtype=np.int64) - starts[event]
    index_of_row = np.full(len(flat.pid), -1, dtype=np.int64)
    index_of_row[rows] = position

    flags = (
        ((~hadron_anc & ~tau_anc).astype(np.int64) << FLAG_IS_PROMPT)
        | (tau_anc.astype(np.int64) << FLAG_IS_TAU_DECAY_PRODUCT)
        | (mother_is_hadron[rows].astype(np.int64) << FLAG_IS_DIRECT_HADRON_DECAY_PRODUCT)
        | (hard[rows].astype(np.int64) << FLAG_IS_HARD_PROCESS)
        | ((hard[rows] | hard_anc).astype(np.int64) << FLAG_FROM_HARD_PROCESS)
        | (first_copy[rows].astype(np.int64) << FLAG_IS_FIRST_COPY)
        | (last_copy[rows].astype(np.int64) << FLAG_IS_LAST_COPY)
    )
    # CMS convention: 1 final state, 2 decayed hadron/tau, otherwise Pythia's |status|.
    status = np.where(
        final[rows], 1, np.where((hadron | (apid == 15))[rows] & ~hard[rows], 2, astatus[rows])
    )
    columns = {
        "pt": flat.pt[rows].astype(np.float32),
        "eta": np.clip(flat.eta[rows], -1e4, 1e4).astype(np.float32),
        "phi": flat.phi[rows].astype(np.float32),
        "mass": flat.mass[rows].astype(np.float32),
        "pdgId": flat.pid[rows].astype(np.int32),
        "status": status.astype(np.int32),
        "statusFlags": flags.astype(np.int32),
        "genPartIdxMother": np.where(mother >= 0, index_of_row[np.maximum(mother, 0)], -1).astype(
            np.int32
        ),
    }
    return GenParticles(rows=rows, counts=counts, index_of_row=index_of_row, columns=columns)


def gen_met(flat: FlatEvents) -> dict[str, np.ndarray]:
    """GenMET: the transverse momentum carried by neutrinos (CMS ``genMetTrue``)."""
    nu = flat.final & np.isin(np.abs(flat.pid), NEUTRINOS) & ~flat.is_pileup
    px = segment_sum(flat.px[nu], flat.event[nu], flat.n_events)
    py = segment_sum(flat.py[nu], flat.event[nu], flat.n_events)
    return {"pt": np.hypot(px, py).astype(np.float32), "phi": np.arctan2(py, px).astype(np.float32)}


def generator_info(info: ak.Array) -> dict[str, np.ndarray]:
    """Generator_* branches from Pythia's per-event info record."""

    def col(name: str, dtype: type) -> np.ndarray:
        return np.asarray(ak.to_numpy(info[name]), dtype=dtype)

    weights = info["weights"]
    weight = np.asarray(ak.to_numpy(ak.fill_none(ak.firsts(weights), 1.0)), dtype=np.float32)
    return {
        "id1": col("id1", np.int32),
        "id2": col("id2", np.int32),
        "x1": col("x1", np.float32),
        "x2": col("x2", np.float32),
        "xpdf1": col("pdf1", np.float32),
        "xpdf2": col("pdf2", np.float32),
        "scalePDF": np.sqrt(col("Q2Fac", np.float64)).astype(np.float32),
        "binvar": np.sqrt(col("pT2Hat", np.float64)).astype(np.float32),
        "weight": weight,
    }
