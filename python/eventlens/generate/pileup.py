"""Pileup: a premixed library of minimum-bias events, overlaid with a Poisson number per event.

Generating ~30 minimum-bias interactions for every event would multiply the
cost of a sample by ~10 (a minimum-bias event costs ~2.5 ms of Pythia, about
a third of a hard event with MPI).  As CMS premixes, the interactions are
generated *once* into a library (``SoftQCD:inelastic`` with the sample's tune
and MPI), stored compactly and cached by the hash of its settings, and every
event then draws ``n ~ Poisson(mu)`` of them (with replacement), each turned
by a random azimuth and reflected in z with probability ½ — which leaves the
physics unchanged and makes repeats of a library event look different.

What is stored per interaction (the library keeps only what the detector uses):

- every visible final-state particle within the calorimeters (|η| < 5) that
  is *not* a charged hadron inside the tracker (|η| < 2.5): photons, neutral
  hadrons, charged particles beyond the tracker, and charged leptons (which
  can become lepton candidates);
- the charged hadrons inside the tracker only as sums (px, py, scalar pT) and
  the number of tracks a vertex fit would use (pT > 0.3 GeV): charged-hadron
  subtraction takes them out of jets and the isolation sums count charged
  particles from the primary vertex only, so they matter only for MET
  (particle-flow MET includes them) and for counting vertices.

The overlay (:func:`overlay`) appends the stored particles to each event as
final-state, mother-less rows flagged ``FlatEvents.pileup``, with their
vertex displaced along z by the interaction's vertex position relative to the
primary vertex (both ~ N(0, σ_z)), so leptons from pileup carry a large
``dz``.  Every random number comes from a per-event generator of its own
stream (seeded with the event number), so the overlay does not depend on
batch or chunk sizes and does not shift the detector's random numbers.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from ..io import atomic_path
from .particles import (
    NEUTRINOS,
    PILEUP_CELL,
    PILEUP_PARTICLE,
    TRACKER_ETA,
    FlatEvents,
    pseudorapidity,
)
from .randoms import derive_seed, stream_key
from .registry import Registry, settings_hash

log = logging.getLogger(__name__)

#: Version of the library's content/format; part of its hash.
LIBRARY_FORMAT = "eventlens-pileup-1"
#: Environment variable naming the cache folder (default ``~/.cache/eventlens``).
CACHE_ENV = "EVENTLENS_CACHE"
#: The library is generated with this seed whatever the samples' seeds are (like a premix
#: library, one library serves every sample of a tune).
LIBRARY_SEED = 20130
#: Calorimeter coverage and tracker acceptance the library is cut at (the detector's).
CALO_ETA = 5.0
#: Tracks that count for a vertex fit.
VERTEX_TRACK_PT_MIN = 0.3
#: Pileup particles below this pT (and not leptons) are summed into η-φ cells of
#: CELL_ETA x 2π/CELL_PHI_BINS per event (see :func:`soft_cells`).
SOFT_PT_MAX = 0.5
CELL_ETA = 0.25
CELL_PHI_BINS = 24
#: Interactions generated per Pythia batch while building the library.
_BUILD_BATCH = 500


@dataclass(frozen=True)
class PileupSettings:
    """The pileup of a sample: mean interactions, library, beam-spot length."""

    mu: float = 0.0
    library_process: str = "minbias"
    library_events: int = 10000
    sigma_z_cm: float = 3.5

    @property
    def enabled(self) -> bool:
        return self.mu > 0

    def to_dict(self) -> dict[str, Any]:
        if not self.enabled:
            return {"mu": 0.0}
        return {
            "mu": self.mu,
            "library_process": self.library_process,
            "library_events": self.library_events,
            "sigma_z_cm": self.sigma_z_cm,
            "soft_cells": {"pt_max": SOFT_PT_MAX, "eta": CELL_ETA, "phi_bins": CELL_PHI_BINS},
        }


def pileup_settings(registry: Registry, process_pileup: float | None,
                    requested: float | None) -> PileupSettings:
    """The effective pileup: ``--pileup``, else the process's ``pileup``, else the shared one."""
    shared = dict(registry.pileup)
    mu = requested if requested is not None else (
        process_pileup if process_pileup is not None else shared.get("mu", 0.0)
    )
    defaults = PileupSettings()
    return PileupSettings(
        mu=float(mu),
        library_process=str(shared.get("library_process", defaults.library_process)),
        library_events=int(shared.get("library_events", defaults.library_events)),
        sigma_z_cm=float(shared.get("sigma_z_cm", defaults.sigma_z_cm)),
    )


# --------------------------------------------------------------------------- the library


@dataclass
class PileupLibrary:
    """Minimum-bias interactions: stored particles (``offsets`` per interaction) and
    per-interaction sums of the charged hadrons inside the tracker."""

    offsets: np.ndarray  # int64, n + 1
    pid: np.ndarray  # int32
    charge: np.ndarray  # int8
    px: np.ndarray  # float32 (GeV)
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    trk_px: np.ndarray  # float32 per interaction
    trk_py: np.ndarray
    trk_sumpt: np.ndarray
    n_tracks: np.ndarray  # int16 per interaction: charged, |η| < 2.5, pT > 0.3 GeV
    metadata: dict[str, Any] = field(default_factory=dict)
    _densities: dict[tuple[float, bool], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )

    @property
    def n_interactions(self) -> int:
        return len(self.offsets) - 1

    def pt_density(self, pt_min: float = 0.0, untracked_only: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(|η| bin edges, mean pT per interaction per unit η-φ area) of the stored particles.

        All stored particles are what charged-hadron subtraction leaves in
        jets: the slope of the jet offset correction (:func:`jet_offset`).
        With ``pt_min``/``untracked_only`` (no track: neutral, or beyond the
        tracker), the neutral pileup an isolation sum collects
        (:func:`isolation_density`).
        """
        key = (pt_min, untracked_only)
        if key not in self._densities:
            edges = np.linspace(0.0, CALO_ETA, 21)
            px, py = self.px.astype(np.float64), self.py.astype(np.float64)
            pt = np.hypot(px, py)
            aeta = np.abs(np.arcsinh(self.pz.astype(np.float64) / np.maximum(pt, 1e-12)))
            use = pt > pt_min
            if untracked_only:
                use &= (self.charge == 0) | (aeta >= TRACKER_ETA)
            sums = np.histogram(aeta[use], bins=edges, weights=pt[use])[0]
            area = 2 * np.diff(edges) * 2 * np.pi  # both sides of η = 0
            self._densities[key] = (edges, sums / (max(self.n_interactions, 1) * area))
        return self._densities[key]

    def save(self, path: Path) -> None:
        """A compressed ``.npz`` (data only: loading never unpickles), written atomically."""
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            np.savez_compressed(f, metadata=np.array(json.dumps(self.metadata)), **arrays)

    @classmethod
    def load(cls, path: Path) -> PileupLibrary:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in _ARRAYS}
                metadata = json.loads(str(data["metadata"]))
        except (OSError, KeyError, ValueError) as exc:
            raise InputFileError(
                f"{path}: not a readable pileup library ({exc}); delete it to have it rebuilt"
            ) from exc
        return cls(**arrays, metadata=metadata)


_ARRAYS = ("offsets", "pid", "charge", "px", "py", "pz", "e", "trk_px", "trk_py", "trk_sumpt",
           "n_tracks")


def cache_dir() -> Path:
    """Where libraries are cached: ``$EVENTLENS_CACHE/pileup`` or ``~/.cache/eventlens/pileup``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "pileup"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path("~/.cache").expanduser()) / "eventlens" / "pileup"


def library_settings(registry: Registry, settings: PileupSettings,
                     tune: str | None) -> dict[str, Any]:
    """What decides a library's content (hashed into its file name and into the samples)."""
    process = registry.get(settings.library_process)
    return {
        "format": LIBRARY_FORMAT,
        "content": {"calo_eta": CALO_ETA, "tracker_eta": TRACKER_ETA,
                    "vertex_track_pt_min": VERTEX_TRACK_PT_MIN},
        **registry.settings_for(process, tune),
        "mpi": True,
        "events": settings.library_events,
        "seed": LIBRARY_SEED,
        "pythia8mc": version("pythia8mc"),
    }


def library_path(registry: Registry, settings: PileupSettings, tune: str | None) -> Path:
    digest = settings_hash(library_settings(registry, settings, tune))
    return cache_dir() / f"{settings.library_process}_{digest}.npz"


def select_library_particles(
    pid: np.ndarray, charge: np.ndarray, final: np.ndarray, px: np.ndarray, py: np.ndarray,
    eta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stored particles, tracker charged hadrons, vertex tracks) masks over the particles."""
    apid = np.abs(pid)
    visible = final & ~np.isin(apid, NEUTRINOS) & (np.abs(eta) < CALO_ETA)
    tracked = visible & (charge != 0) & (np.abs(eta) < TRACKER_ETA)
    lepton = (apid == 11) | (apid == 13)
    stored = visible & ~(tracked & ~lepton)
    vertex_track = tracked & (np.hypot(px, py) > VERTEX_TRACK_PT_MIN)
    return stored, tracked & ~lepton, vertex_track


def build_library(
    registry: Registry, settings: PileupSettings, tune: str | None,
    progress: Callable[[int], None] | None = None,
) -> PileupLibrary:
    """Generate ``settings.library_events`` minimum-bias interactions with Pythia (MPI on)."""
    from .particles import flatten_batch, segment_sum
    from .pythia import PythiaSource

    process = registry.get(settings.library_process)
    tune_name, tune_settings = registry.tune_settings(tune)
    seeds = [derive_seed(LIBRARY_SEED, stream_key(f"pileup:{process.name}"), 0, i)
             for i in range(len(process.instances))]
    source = PythiaSource(process, (*registry.common, *tune_settings), seeds, mpi=True,
                          registry_path=str(registry.path))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _ARRAYS if k != "offsets"}
    counts: list[np.ndarray] = []
    done = 0
    while done < settings.library_events:
        n = min(_BUILD_BATCH, settings.library_events - done)
        flat = flatten_batch(source.next_batch(n), source.charges)
        stored, tracked, vertex_track = select_library_particles(
            flat.pid, flat.charge, flat.final, flat.px, flat.py, flat.eta)
        rows = np.flatnonzero(stored)
        counts.append(np.bincount(flat.event[rows], minlength=n))
        parts["pid"].append(flat.pid[rows].astype(np.int32))
        parts["charge"].append(np.rint(flat.charge[rows]).astype(np.int8))
        for k in ("px", "py", "pz", "e"):
            parts[k].append(getattr(flat, k)[rows].astype(np.float32))
        t = np.flatnonzero(tracked)
        parts["trk_px"].append(segment_sum(flat.px[t], flat.event[t], n).astype(np.float32))
        parts["trk_py"].append(segment_sum(flat.py[t], flat.event[t], n).astype(np.float32))
        parts["trk_sumpt"].append(segment_sum(flat.pt[t], flat.event[t], n).astype(np.float32))
        v = np.flatnonzero(vertex_track)
        parts["n_tracks"].append(np.bincount(flat.event[v], minlength=n).astype(np.int16))
        done += n
        if progress is not None:
            progress(n)
    all_counts = np.concatenate(counts)
    offsets = np.zeros(len(all_counts) + 1, dtype=np.int64)
    np.cumsum(all_counts, out=offsets[1:])
    xsec = source.cross_section()
    metadata = {
        "settings": library_settings(registry, settings, tune),
        "settings_hash": settings_hash(library_settings(registry, settings, tune)),
        "tune_name": tune_name,
        "sigma_inelastic_mb": xsec.sigma_pb / 1e9,
        "mean_stored_particles": float(all_counts.mean()),
    }
    return PileupLibrary(offsets=offsets, **{k: np.concatenate(v) for k, v in parts.items()},
                         metadata=metadata)


_LOADED: dict[str, PileupLibrary] = {}


def load_library(path: Path) -> PileupLibrary:
    """A library file, read once per process (forked workers inherit the parent's copy)."""
    key = str(path)
    if key not in _LOADED:
        _LOADED[key] = PileupLibrary.load(path)
    return _LOADED[key]


def get_library(registry: Registry, settings: PileupSettings, tune: str | None,
                progress: bool = False) -> tuple[Path, PileupLibrary]:
    """The library for these settings: from memory, else the cache file, else built (and cached).

    A cached file whose stored hash differs from the expected one (another
    format or Pythia version) is rebuilt.  Libraries stay in memory for the
    process's lifetime, so forked workers share the parent's copy.
    """
    path = library_path(registry, settings, tune)
    key = str(path)
    if key in _LOADED:
        return path, _LOADED[key]
    expected = settings_hash(library_settings(registry, settings, tune))
    library = None
    if path.exists():
        library = PileupLibrary.load(path)
        if library.metadata.get("settings_hash") != expected:
            log.warning("%s: stored settings differ from the expected ones; rebuilding it", path)
            library = None
    if library is None:
        log.info("building the pileup library: %d %s interactions (tune %s) -> %s",
                 settings.library_events, settings.library_process,
                 registry.tune_settings(tune)[0], path)
        from .run import _progress_bar

        with _progress_bar(settings.library_events, "pileup library", progress) as bar:
            library = build_library(registry, settings, tune, bar.update)
        path.parent.mkdir(parents=True, exist_ok=True)
        library.save(path)
    _LOADED[key] = library
    return path, library


# --------------------------------------------------------------------------- the overlay


@dataclass
class Overlay:
    """Per-event pileup quantities beside the merged particles."""

    n_pu: np.ndarray  # int32: interactions overlaid
    n_vertices: np.ndarray  # int32: reconstructable vertices, the primary included
    n_good_vertices: np.ndarray  # int32: of them, those with enough tracks to be "good"
    pv_z: np.ndarray  # float32 (cm)
    trk_px: np.ndarray  # float64: charged hadrons in the tracker (CHS-removed), summed
    trk_py: np.ndarray
    trk_sumpt: np.ndarray


def _per_event_density(
    edges: np.ndarray, density: np.ndarray, n_pu: np.ndarray, scale: float
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def value(event: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
        b = np.clip(np.searchsorted(edges, abs_eta, side="right") - 1, 0, len(density) - 1)
        return n_pu[event] * density[b] * scale

    return value


def jet_offset(
    library: PileupLibrary, n_pu: np.ndarray, radius: float
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The pileup pT in a jet on average: nPU × density(|η|) × πR² (CMS's L1 offset, whose
    calibration is such an average; the event-by-event fluctuation stays in the jets)."""
    edges, density = library.pt_density()
    return _per_event_density(edges, density, n_pu, np.pi * radius * radius)


def isolation_density(
    library: PileupLibrary, n_pu: np.ndarray, pt_min: float
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Average neutral pileup pT per unit area (GeV) an isolation cone collects, per event
    and |η|: subtracted from the isolation sums like CMS's effective-area correction."""
    edges, density = library.pt_density(pt_min, untracked_only=True)
    return _per_event_density(edges, density, n_pu, 1.0)


def no_overlay(n: int) -> Overlay:
    zeros = np.zeros(n)
    return Overlay(np.zeros(n, np.int32), np.ones(n, np.int32), np.ones(n, np.int32),
                   np.zeros(n, np.float32), zeros, zeros.copy(), zeros.copy())


def overlay(
    flat: FlatEvents,
    library: PileupLibrary,
    settings: PileupSettings,
    seed: int,
    stream: int,
    event_numbers: np.ndarray,
    vertex_min_tracks: int,
    vertex_good_min_tracks: int | None = None,
) -> tuple[FlatEvents, Overlay]:
    """``flat`` with each event's pileup particles appended, and the per-event pileup sums.

    A pileup interaction is a reconstructed vertex with ≥ ``vertex_min_tracks``
    tracks, a good one with ≥ ``vertex_good_min_tracks`` (default: the same).
    """
    n_ev = flat.n_events
    key = stream_key("pileup")
    n_lib = library.n_interactions
    picks, phis, flips, dzs = [], [], [], []
    n_pu = np.zeros(n_ev, dtype=np.int32)
    pv_z = np.zeros(n_ev, dtype=np.float64)
    for i, number in enumerate(np.asarray(event_numbers).tolist()):
        rng = np.random.default_rng([seed, stream, key, int(number)])
        k = int(rng.poisson(settings.mu))
        n_pu[i] = k
        pv_z[i] = rng.normal(0.0, settings.sigma_z_cm)
        picks.append(rng.integers(0, n_lib, k))
        phis.append(rng.uniform(-np.pi, np.pi, k))
        flips.append(rng.random(k) < 0.5)
        dzs.append(rng.normal(0.0, settings.sigma_z_cm, k) - pv_z[i])
    pick = np.concatenate(picks).astype(np.int64)
    rot = np.concatenate(phis)
    flip = np.where(np.concatenate(flips), -1.0, 1.0)
    dz_cm = np.concatenate(dzs)
    inter_event = np.repeat(np.arange(n_ev), n_pu)

    # per-interaction sums, turned by the interaction's azimuth
    c, s = np.cos(rot), np.sin(rot)
    tpx, tpy = library.trk_px[pick].astype(np.float64), library.trk_py[pick].astype(np.float64)
    sums = (
        np.bincount(inter_event, weights=c * tpx - s * tpy, minlength=n_ev),
        np.bincount(inter_event, weights=s * tpx + c * tpy, minlength=n_ev),
        np.bincount(inter_event, weights=library.trk_sumpt[pick].astype(np.float64),
                    minlength=n_ev),
    )
    def vertices(min_tracks: int) -> np.ndarray:
        found = library.n_tracks[pick] >= min_tracks
        return 1 + np.bincount(inter_event, weights=found, minlength=n_ev).astype(np.int32)

    good = vertex_min_tracks if vertex_good_min_tracks is None else vertex_good_min_tracks
    info = Overlay(n_pu, vertices(vertex_min_tracks), vertices(good), pv_z.astype(np.float32),
                   *sums)

    # the particles of every picked interaction, in (event, interaction) order
    starts, stops = library.offsets[pick], library.offsets[pick + 1]
    sizes = stops - starts
    inter = np.repeat(np.arange(len(pick)), sizes)
    src = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
    px0, py0 = library.px[src].astype(np.float64), library.py[src].astype(np.float64)
    cr, sr = c[inter], s[inter]
    pu = {
        "pid": library.pid[src].astype(np.int64),
        "charge": library.charge[src].astype(np.float64),
        "px": cr * px0 - sr * py0,
        "py": sr * px0 + cr * py0,
        "pz": library.pz[src].astype(np.float64) * flip[inter],
        "e": library.e[src].astype(np.float64),
        "vz": dz_cm[inter] * 10.0,  # mm, as Pythia's vertices
    }
    pu, event = soft_cells(pu, inter_event[inter], n_ev)
    return merge_particles(flat, pu, event), info


def soft_cells(
    pu: dict[str, np.ndarray], event: np.ndarray, n_events: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sum each event's soft pileup particles into η-φ cells (``pu["cell"]`` marks them).

    Particles below :data:`SOFT_PT_MAX` (the isolation sums' threshold, so
    isolation is unchanged) are ~3/4 of the stored pileup; clustering them
    one by one was most of the overlay's cost.  Summed per cell of
    :data:`CELL_ETA` × 2π/:data:`CELL_PHI_BINS` (finer than a jet) they bring
    jets and MET the same momentum flow, like calorimeter towers.  A cell is
    a photon if most of its energy is electromagnetic, else a neutral hadron.
    Charged leptons always stay particles (they can be lepton candidates).
    """
    pt = np.hypot(pu["px"], pu["py"])
    apid = np.abs(pu["pid"])
    soft = (pt < SOFT_PT_MAX) & (apid != 11) & (apid != 13)
    n_eta = round(2 * CALO_ETA / CELL_ETA)
    eta = pseudorapidity(pu["px"][soft], pu["py"][soft], pu["pz"][soft])
    ieta = np.clip(((eta + CALO_ETA) / CELL_ETA).astype(np.int64), 0, n_eta - 1)
    phi = np.arctan2(pu["py"][soft], pu["px"][soft])
    iphi = ((phi + np.pi) / (2 * np.pi) * CELL_PHI_BINS).astype(np.int64) % CELL_PHI_BINS
    key = (event[soft] * n_eta + ieta) * CELL_PHI_BINS + iphi
    cells, which = np.unique(key, return_inverse=True)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(which, weights=values, minlength=len(cells))

    e = total(pu["e"][soft])
    em = total(pu["e"][soft] * (pu["pid"][soft] == 22))
    out = {k: v[~soft] for k, v in pu.items()}
    merged = {
        "pid": np.where(em > 0.5 * e, 22, 130).astype(np.int64),
        "charge": np.zeros(len(cells)),
        "px": total(pu["px"][soft]),
        "py": total(pu["py"][soft]),
        "pz": total(pu["pz"][soft]),
        "e": e,
        "vz": np.zeros(len(cells)),
    }
    cell_event = cells // (n_eta * CELL_PHI_BINS)
    all_event = np.concatenate([event[~soft], cell_event])
    order = np.argsort(all_event, kind="stable")
    result = {k: np.concatenate([out[k], merged[k]])[order] for k in out}
    result["cell"] = np.concatenate([np.zeros(int((~soft).sum()), bool),
                                     np.ones(len(cells), bool)])[order]
    return result, all_event[order]


def merge_particles(flat: FlatEvents, extra: dict[str, np.ndarray],
                    extra_event: np.ndarray) -> FlatEvents:
    """``flat`` with final-state, mother-less particles appended to their events.

    ``extra`` holds pid, charge, px, py, pz, e, vz per particle, ``extra_event``
    their event (sorted).  Rows of the hard event keep their order; mother and
    daughter indices are renumbered.
    """
    n_ev = flat.n_events
    hard_counts = np.diff(flat.offsets)
    extra_counts = np.bincount(extra_event, minlength=n_ev)
    offsets = np.zeros(n_ev + 1, dtype=np.int64)
    np.cumsum(hard_counts + extra_counts, out=offsets[1:])
    n_hard, n_extra = len(flat.pid), len(extra_event)
    new_hard = offsets[flat.event] + (np.arange(n_hard) - flat.offsets[flat.event])
    extra_start = offsets[:-1] + hard_counts
    first_extra = np.zeros(n_ev + 1, dtype=np.int64)
    np.cumsum(extra_counts, out=first_extra[1:])
    new_extra = extra_start[extra_event] + (np.arange(n_extra) - first_extra[extra_event])
    total = n_hard + n_extra

    def combine(hard: np.ndarray, more: np.ndarray) -> np.ndarray:
        out = np.empty(total, dtype=np.result_type(hard.dtype, more.dtype))
        out[new_hard] = hard
        out[new_extra] = more
        return out

    def renumber(index: np.ndarray) -> np.ndarray:
        return combine(np.where(index >= 0, new_hard[np.maximum(index, 0)], -1),
                       np.full(n_extra, -1, dtype=np.int64))

    px, py, pz, e = extra["px"], extra["py"], extra["pz"], extra["e"]
    pt = np.hypot(px, py)
    mass = np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))
    event = np.repeat(np.arange(n_ev), np.diff(offsets))
    return FlatEvents(
        n_events=n_ev,
        offsets=offsets,
        event=event,
        local=np.arange(total, dtype=np.int64) - offsets[event],
        pid=combine(flat.pid, extra["pid"]),
        status=combine(flat.status, np.ones(n_extra, dtype=np.int64)),
        m1=renumber(flat.m1),
        m2=renumber(flat.m2),
        d1=renumber(flat.d1),
        d2=renumber(flat.d2),
        px=combine(flat.px, px),
        py=combine(flat.py, py),
        pz=combine(flat.pz, pz),
        e=combine(flat.e, e),
        mass=combine(flat.mass, mass),
        vx=combine(flat.vx, np.zeros(n_extra)),
        vy=combine(flat.vy, np.zeros(n_extra)),
        vz=combine(flat.vz, extra["vz"]),
        charge=combine(flat.charge, extra["charge"]),
        pt=combine(flat.pt, pt),
        eta=combine(flat.eta, pseudorapidity(px, py, pz)),
        phi=combine(flat.phi, np.arctan2(py, px)),
        pileup=combine(
            flat.pileup if flat.pileup is not None else np.zeros(n_hard, dtype=np.int8),
            np.where(extra["cell"], PILEUP_CELL, PILEUP_PARTICLE).astype(np.int8)
            if "cell" in extra else np.full(n_extra, PILEUP_PARTICLE, dtype=np.int8),
        ),
    )
