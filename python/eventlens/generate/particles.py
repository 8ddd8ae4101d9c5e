"""A batch of Pythia events as flat numpy columns, plus the index tricks the detector needs.

Pythia's ``nextBatch`` gives a jagged awkward array (events × particles).  The
detector works on flat numpy columns with per-event offsets instead: every
step (isolation cones, jet flavour, MET) then becomes a handful of vectorised
numpy calls per batch rather than a Python loop over events or particles.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np

#: Neutrinos: invisible to the detector.
NEUTRINOS = (12, 14, 16)
#: Tracker acceptance: charged particles beyond it have no track (they look neutral).
TRACKER_ETA = 2.5
#: ``FlatEvents.pileup`` codes: a pileup particle, a cell of summed soft pileup particles.
PILEUP_PARTICLE = 1
PILEUP_CELL = 2


@dataclass
class FlatEvents:
    """Particles of ``n_events`` events, concatenated; ``offsets[i]:offsets[i+1]`` is event i.

    Mother/daughter columns hold *global* row numbers (``-1`` for none), so
    ``pt[m1]`` is the mother's pT.  Vertices are in mm (Pythia's unit).
    """

    n_events: int
    offsets: np.ndarray
    event: np.ndarray
    local: np.ndarray
    pid: np.ndarray
    status: np.ndarray
    m1: np.ndarray
    m2: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    mass: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vz: np.ndarray
    charge: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    pileup: np.ndarray | None = None  # int8 per row: 0 hard event, PILEUP_PARTICLE, PILEUP_CELL

    @property
    def is_pileup(self) -> np.ndarray:
        """Per row: does it come from a pileup interaction (see :mod:`.pileup`)?"""
        if self.pileup is None:
            return np.zeros(len(self.pid), dtype=bool)
        return self.pileup > 0

    @property
    def is_cell(self) -> np.ndarray:
        """Per row: is it a cell of summed soft pileup particles (no single particle)?"""
        if self.pileup is None:
            return np.zeros(len(self.pid), dtype=bool)
        return self.pileup == PILEUP_CELL

    @functools.cached_property
    def chs_removed(self) -> np.ndarray:
        """Charged pileup particles inside the tracker: their tracks point to a pileup
        vertex, so charged-hadron subtraction drops them from jets and the isolation
        sums count only charged particles from the primary vertex."""
        return self.is_pileup & (self.charge != 0) & (np.abs(self.eta) < TRACKER_ETA)

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def final(self) -> np.ndarray:
        """Final-state particles (positive Pythia status)."""
        return self.status > 0

    # pdgId classifications are needed by several steps; compute them once per batch.
    @functools.cached_property
    def hadron(self) -> np.ndarray:
        return is_hadron(self.pid)

    @functools.cached_property
    def b_hadron(self) -> np.ndarray:
        return has_quark(self.pid, 5)

    @functools.cached_property
    def c_hadron(self) -> np.ndarray:
        return has_quark(self.pid, 4)


def _np(array: ak.Array, dtype: type) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=dtype)


def pseudorapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """η = asinh(pz/pT); ±inf-safe (beam particles get ±1e9)."""
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    return np.where(pt > 0, eta, np.copysign(1e9, pz))


def flatten_batch(batch: ak.Array, charge_of: Callable[[np.ndarray], np.ndarray]) -> FlatEvents:
    """Turn Pythia's jagged ``batch.prt`` into :class:`FlatEvents`."""
    prt = batch.prt
    counts = np.asarray(ak.to_numpy(ak.num(prt, axis=1)), dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    event = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    local = np.arange(int(offsets[-1]), dtype=np.int64) - offsets[event]
    base = offsets[event]

    def glob(col: str) -> np.ndarray:
        # Pythia uses 0 (the "system" entry) for "no mother/daughter".
        idx = _np(prt[col], np.int64)
        return np.where(idx > 0, idx + base, -1)

    p = prt.p
    vprod = ak.fill_none(prt.vProd, {"px": 0.0, "py": 0.0, "pz": 0.0, "e": 0.0})
    pid = _np(prt.id, np.int64)
    px, py, pz = _np(p.px, np.float64), _np(p.py, np.float64), _np(p.pz, np.float64)
    return FlatEvents(
        n_events=len(counts),
        offsets=offsets,
        event=event,
        local=local,
        pid=pid,
        status=_np(prt.status, np.int64),
        m1=glob("mother1"),
        m2=glob("mother2"),
        d1=glob("daughter1"),
        d2=glob("daughter2"),
        px=px,
        py=py,
        pz=pz,
        e=_np(p.e, np.float64),
        mass=_np(prt.m, np.float64),
        vx=_np(vprod.px, np.float64),
        vy=_np(vprod.py, np.float64),
        vz=_np(vprod.pz, np.float64),
        charge=charge_of(pid),
        pt=np.hypot(px, py),
        eta=pseudorapidity(px, py, pz),
        phi=np.arctan2(py, px),
    )


# --------------------------------------------------------------------------- pdgId helpers


def is_hadron(pid: np.ndarray) -> np.ndarray:
    """Mesons and baryons (not quarks, leptons, bosons, diquarks or Pythia specials)."""
    apid = np.abs(pid)
    a = apid % 10000
    nq3 = (a // 10) % 10
    spin_ok = (a % 10 > 0) | (apid == 130) | (apid == 310)  # K0L, K0S have nJ = 0
    return (apid > 100) & (apid < 1_000_000) & (nq3 > 0) & spin_ok


def has_quark(pid: np.ndarray, quark: int) -> np.ndarray:
    """Hadrons containing quark flavour ``quark`` (5 = b, 4 = c), excited states included."""
    a = np.abs(pid) % 10000
    nq1, nq2, nq3 = a // 1000, (a // 100) % 10, (a // 10) % 10
    return is_hadron(pid) & ((nq1 == quark) | (nq2 == quark) | ((nq1 > 0) & (nq3 == quark)))


def last_of_kind(flat: FlatEvents, kind: np.ndarray) -> np.ndarray:
    """Particles of a kind none of whose children is of that kind (e.g. the *last* b hadron).

    Children are found through the mother1 column, so it also works for
    decays whose daughter range is not contiguous.
    """
    child_of_kind = np.zeros(len(kind), dtype=bool)
    mothers = flat.m1[kind]
    child_of_kind[mothers[mothers >= 0]] = True
    return kind & ~child_of_kind


# ------------------------------------------------------------------ per-event index helpers


def delta_phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a − b wrapped into [−π, π)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def pairs_within_events(
    event_a: np.ndarray, event_b: np.ndarray, n_events: int
) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with ``event_a[i] == event_b[j]``; both inputs sorted by event.

    Returns the row numbers into a and into b.  Used for isolation cones
    (few candidates × many particles per event), so the pair count stays small.
    """
    count_b = np.bincount(event_b, minlength=n_events)
    start_b = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(count_b, out=start_b[1:])
    reps = count_b[event_a]
    ia = np.repeat(np.arange(len(event_a), dtype=np.int64), reps)
    first = np.repeat(start_b[event_a] - np.cumsum(reps) + reps, reps)
    ib = first + np.arange(int(reps.sum()), dtype=np.int64)
    return ia, ib


def segment_sum(values: np.ndarray, segment: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` per segment id in ``[0, n)`` (float64, also when empty)."""
    weights = np.asarray(values, dtype=np.float64)
    return np.bincount(segment, weights=weights, minlength=n)[:n].astype(np.float64, copy=False)
