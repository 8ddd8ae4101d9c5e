"""Muon, electron and photon reconstruction from generator particles.

Each object type goes through the same steps, all vectorised over a batch:
acceptance on the generator particle, isolation from the surrounding
particles, efficiency (with a pT turn-on), smearing, identification levels.
The random numbers come from :class:`~eventlens.generate.randoms.EventRandom`
in a fixed per-event order (see :func:`reconstruct_leptons_photons`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import DetectorConfig, EGammaConfig, MuonConfig
from .particles import (
    NEUTRINOS,
    TRACKER_ETA,
    FlatEvents,
    delta_phi,
    pairs_within_events,
    segment_sum,
)
from .randoms import EventRandom

ELECTRON_MASS = 0.000511
MUON_MASS = 0.105658


@dataclass
class RecoObjects:
    """One reconstructed collection: the generator rows it came from and its NanoAOD columns.

    Rows are sorted by (event, pT descending), as NanoAOD collections are.
    ``isolated`` marks objects kept out of jet clustering; ``px``/``py`` are
    their reconstructed transverse momentum components, for MET.  An object
    made of several particles (a photon that is a merged π⁰ → γγ) has its row
    (the π⁰) plus ``members`` (the photons' rows), ``member_of`` giving the
    object each member belongs to.
    """

    rows: np.ndarray
    event: np.ndarray
    isolated: np.ndarray
    px: np.ndarray
    py: np.ndarray
    columns: dict[str, np.ndarray]
    members: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    member_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def counts(self, n_events: int) -> np.ndarray:
        return np.bincount(self.event, minlength=n_events).astype(np.int64)


@dataclass(frozen=True)
class Isolation:
    """How isolation sums are made: the particle threshold and the pileup correction.

    ``pileup_density(event, |η|)`` is the average neutral pileup pT per unit
    η-φ area in that event (GeV); ``None`` without pileup.  Like CMS's
    effective-area / Δβ corrections, the expected neutral pileup in the cone
    is subtracted from the neutral part of the sum (never below zero).
    """

    pt_min: float
    pileup_density: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


def relative_isolation(
    flat: FlatEvents, cand: np.ndarray, radii: tuple[float, ...], iso: Isolation
) -> list[np.ndarray]:
    """Scalar pT sum of visible particles within ΔR < r of each candidate (itself excluded).

    ``cand`` are generator rows; returns one absolute sum per radius, per
    candidate.  A candidate's own decay products (the photons of a merged π⁰)
    are part of it, not of its isolation; charged pileup inside the tracker is
    not counted (its tracks come from another vertex); neutral pileup is, minus
    its expected amount (see :class:`Isolation`).
    """
    visible = (
        flat.final
        & ~np.isin(np.abs(flat.pid), NEUTRINOS)
        & (flat.pt > iso.pt_min)
        & (np.abs(flat.eta) < 5.0)
        & ~flat.chs_removed
        & ~flat.is_cell  # summed soft pileup: below the threshold particle by particle
    )
    others = np.flatnonzero(visible)
    ia, ib = pairs_within_events(flat.event[cand], flat.event[others], flat.n_events)
    a, b = cand[ia], others[ib]
    dr2 = (flat.eta[a] - flat.eta[b]) ** 2 + delta_phi(flat.phi[a], flat.phi[b]) ** 2
    not_self = (a != b) & (flat.m1[b] != a)
    if iso.pileup_density is None:
        return [
            segment_sum(flat.pt[b] * ((dr2 < r * r) & not_self), ia, len(cand))
            for r in radii
        ]
    tracked = (flat.charge[b] != 0) & (np.abs(flat.eta[b]) < TRACKER_ETA)
    density = iso.pileup_density(flat.event[cand], np.abs(flat.eta[cand]))
    out = []
    for r in radii:
        inside = flat.pt[b] * ((dr2 < r * r) & not_self)
        charged = segment_sum(inside * tracked, ia, len(cand))
        neutral = segment_sum(inside * ~tracked, ia, len(cand))
        out.append(charged + np.maximum(neutral - density * np.pi * r * r, 0.0))
    return out


def _turn_on(pt: np.ndarray, pt50: np.ndarray | float, width: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(pt - pt50) / width))


def _order(event: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Sort by event, then pT descending (NanoAOD collection order)."""
    return np.lexsort((-pt, event))


def _impact_parameters(
    flat: FlatEvents, rows: np.ndarray, res_dxy: np.ndarray, res_dz: np.ndarray, gauss: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Signed transverse and longitudinal impact parameters (cm) w.r.t. the origin, smeared."""
    vx, vy, vz = flat.vx[rows] / 10.0, flat.vy[rows] / 10.0, flat.vz[rows] / 10.0  # mm -> cm
    px, py, pz = flat.px[rows], flat.py[rows], flat.pz[rows]
    ptg = flat.pt[rows]
    dxy = (-vx * py + vy * px) / ptg
    dz = vz - (vx * px + vy * py) / ptg * (pz / ptg)
    return dxy + res_dxy * gauss[:, 0], dz + res_dz * gauss[:, 1]


def reconstruct_muons(
    flat: FlatEvents,
    cfg: MuonConfig,
    iso: Isolation,
    rnd: EventRandom,
    genpart_index: np.ndarray,
) -> RecoObjects:
    """Muons: turn-on × plateau efficiency, 1–2 % pT resolution, loose ⊇ medium ⊇ tight IDs."""
    cand = np.flatnonzero(
        flat.final
        & (np.abs(flat.pid) == 13)
        & (flat.pt > cfg.gen_pt_min)
        & (np.abs(flat.eta) < cfg.eta_max)
    )
    counts = np.bincount(flat.event[cand], minlength=flat.n_events)
    u = rnd.uniform(counts, 2)  # efficiency, identification
    g = rnd.normal(counts, 3)  # pT, dxy, dz
    pt_gen, aeta = flat.pt[cand], np.abs(flat.eta[cand])
    pt50 = np.where(aeta < 1.2, cfg.turn_on_pt50[0], cfg.turn_on_pt50[1])
    found = u[:, 0] < cfg.efficiency * _turn_on(pt_gen, pt50, cfg.turn_on_width)
    base = np.select([aeta < 0.9, aeta < 1.2], list(cfg.resolution[:2]), cfg.resolution[2])
    sigma = np.hypot(base, cfg.resolution_slope * pt_gen)
    pt = pt_gen * np.maximum(1.0 + sigma * g[:, 0], 0.0)
    dxy, dz = _impact_parameters(
        flat,
        cand,
        np.hypot(cfg.dxy_resolution[0], cfg.dxy_resolution[1] / pt_gen),
        np.hypot(cfg.dz_resolution[0], cfg.dz_resolution[1] / pt_gen),
        g[:, 1:],
    )
    iso03, iso04 = relative_isolation(flat, cand, (0.3, 0.4), iso)
    keep = found & (pt > cfg.pt_min)
    order = _order(flat.event[cand][keep], pt[keep])
    sel = np.flatnonzero(keep)[order]
    rows = cand[sel]
    pt, u_id = pt[sel], u[sel, 1]
    dxy, dz = dxy[sel], dz[sel]
    rel03, rel04 = iso03[sel] / pt, iso04[sel] / pt
    loose, medium, tight = (u_id < e for e in cfg.id_efficiency)
    tight = tight & (np.abs(dxy) < cfg.tight_dxy_max) & (np.abs(dz) < cfg.tight_dz_max)
    phi = flat.phi[rows]
    columns = {
        "pt": pt.astype(np.float32),
        "eta": flat.eta[rows].astype(np.float32),
        "phi": phi.astype(np.float32),
        "mass": np.full(len(rows), MUON_MASS, dtype=np.float32),
        "charge": np.rint(flat.charge[rows]).astype(np.int32),
        "pfRelIso03_all": rel03.astype(np.float32),
        "pfRelIso04_all": rel04.astype(np.float32),
        "looseId": loose,
        "mediumId": medium,
        "tightId": tight,
        "dxy": dxy.astype(np.float32),
        "dz": dz.astype(np.float32),
        "genPartIdx": genpart_index[rows].astype(np.int32),
    }
    return RecoObjects(
        rows, flat.event[rows], rel04 < cfg.isolated, pt * np.cos(phi), pt * np.sin(phi), columns
    )


def _ecal_sigma(cfg: EGammaConfig, e: np.ndarray, aeta: np.ndarray) -> np.ndarray:
    s, n, c = (
        np.where(aeta < cfg.gap[0], b, ec) for b, ec in zip(cfg.barrel, cfg.endcap, strict=True)
    )
    return np.sqrt(s * s / e + (n / e) ** 2 + c * c)


def _cut_based(
    cfg: EGammaConfig, rel_iso: np.ndarray, pt: np.ndarray, u_id: np.ndarray, nonprompt: np.ndarray
) -> np.ndarray:
    """Highest cut-based level passed (0 = none); levels are nested by construction."""
    factor = np.where(nonprompt, cfg.nonprompt_id_factor, 1.0)
    level = np.zeros(len(pt), dtype=np.int32)
    for k, (iso, eff) in enumerate(zip(cfg.iso_cut, cfg.id_efficiency, strict=True), start=1):
        passed = (rel_iso < iso + cfg.iso_cut_over_pt / pt) & (u_id < eff * factor)
        level = np.where(passed & (level == k - 1), k, level)
    return level


def merged_meson_photons(flat: FlatEvents, merge_dr: float) -> tuple[np.ndarray, np.ndarray]:
    """π⁰/η → γγ decays whose two photons the ECAL cannot separate: (meson rows, photon rows).

    Two photons closer than ``merge_dr`` land in one cluster and are
    reconstructed as *one* photon with the meson's momentum — the way a jet
    whose energy is mostly one π⁰ fakes a photon.  Photon rows are ``(n, 2)``.
    """
    if merge_dr <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype=np.int64)
    meson = np.flatnonzero(
        np.isin(np.abs(flat.pid), (111, 221)) & (flat.d1 >= 0) & (flat.d2 == flat.d1 + 1)
    )
    d1 = flat.d1[meson]
    d2 = d1 + 1
    both = (flat.pid[d1] == 22) & (flat.pid[d2] == 22) & flat.final[d1] & flat.final[d2]
    meson, d1, d2 = meson[both], d1[both], d2[both]
    dr2 = (flat.eta[d1] - flat.eta[d2]) ** 2 + delta_phi(flat.phi[d1], flat.phi[d2]) ** 2
    merged = dr2 < merge_dr * merge_dr
    return meson[merged], np.stack([d1[merged], d2[merged]], axis=1)


def _reconstruct_egamma(
    flat: FlatEvents,
    cfg: EGammaConfig,
    objects: np.ndarray,
    iso: Isolation,
    rnd: EventRandom,
    genpart_index: np.ndarray,
    n_gauss: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shared electron/photon steps on candidate ``objects`` (a mask over generator rows).

    Returns the kept rows and their reco quantities.
    """
    aeta_all = np.abs(flat.eta)
    cand = np.flatnonzero(
        objects
        & (flat.pt > 0.8 * cfg.pt_min)
        & (aeta_all < cfg.eta_max)
        & ~((aeta_all > cfg.gap[0]) & (aeta_all < cfg.gap[1]))
    )
    counts = np.bincount(flat.event[cand], minlength=flat.n_events)
    u = rnd.uniform(counts, 2)  # efficiency, identification
    g = rnd.normal(counts, n_gauss)  # energy, then type-specific
    e_gen, aeta, pt_gen = flat.e[cand], aeta_all[cand], flat.pt[cand]
    eff = cfg.efficiency * (
        _turn_on(pt_gen, cfg.turn_on_pt50, cfg.turn_on_width) if cfg.turn_on_pt50 > 0 else 1.0
    )
    scale = np.maximum(1.0 + _ecal_sigma(cfg, e_gen, aeta) * g[:, 0], 0.0)
    pt = pt_gen * scale
    (iso03,) = relative_isolation(flat, cand, (0.3,), iso)
    rel03 = iso03 / np.maximum(pt, 1e-9)
    keep = (u[:, 0] < eff) & (pt > cfg.pt_min) & (rel03 < cfg.preselection_iso)
    sel = np.flatnonzero(keep)[_order(flat.event[cand][keep], pt[keep])]
    rows = cand[sel]
    m1 = flat.m1[rows]
    # from a hadron: a hadron's decay product, or a hadron itself (a merged π⁰ → γγ)
    nonprompt = flat.hadron[rows] | ((m1 >= 0) & flat.hadron[np.maximum(m1, 0)])
    level = _cut_based(cfg, rel03[sel], pt[sel], u[sel, 1], nonprompt)
    return rows, pt[sel], rel03[sel], level, nonprompt, g[sel], genpart_index[rows]


def reconstruct_electrons(
    flat: FlatEvents,
    cfg: EGammaConfig,
    iso: Isolation,
    rnd: EventRandom,
    genpart_index: np.ndarray,
) -> RecoObjects:
    """Electrons: ECAL-like energy resolution, Fall17V2-like cut-based levels (0–4)."""
    electrons = flat.final & (np.abs(flat.pid) == 11)
    rows, pt, rel03, level, _, g, gidx = _reconstruct_egamma(
        flat, cfg, electrons, iso, rnd, genpart_index, n_gauss=3
    )
    pt_gen = flat.pt[rows]
    dxy, dz = _impact_parameters(
        flat,
        rows,
        np.hypot(0.0015, 0.004 / pt_gen),
        np.hypot(0.003, 0.006 / pt_gen),
        g[:, 1:],
    )
    phi = flat.phi[rows]
    columns = {
        "pt": pt.astype(np.float32),
        "eta": flat.eta[rows].astype(np.float32),
        "phi": phi.astype(np.float32),
        "mass": np.full(len(rows), ELECTRON_MASS, dtype=np.float32),
        "charge": np.rint(flat.charge[rows]).astype(np.int32),
        "pfRelIso03_all": rel03.astype(np.float32),
        "cutBased": level,
        "dxy": dxy.astype(np.float32),
        "dz": dz.astype(np.float32),
        "genPartIdx": gidx.astype(np.int32),
    }
    return RecoObjects(
        rows, flat.event[rows], rel03 < cfg.isolated, pt * np.cos(phi), pt * np.sin(phi), columns
    )


def reconstruct_photons(
    flat: FlatEvents,
    cfg: EGammaConfig,
    iso: Isolation,
    rnd: EventRandom,
    genpart_index: np.ndarray,
) -> RecoObjects:
    """Photons: ECAL resolution, cut-based levels (0–3) and an MVA-like score in [−1, 1].

    Candidates are final-state photons and merged π⁰/η → γγ pairs (one cluster,
    see :func:`merged_meson_photons`): a jet whose energy is mostly such a
    meson leaves an isolated-looking cluster and fakes a photon.  Fakes are
    mostly not isolated (the rest of the jet surrounds them), and as non-prompt
    objects they pass the cut-based levels less often (``nonprompt_id_factor``)
    and score lower in the MVA.  ``genPartFlav`` is 1 for prompt photons, 0 else.
    """
    mesons, pairs = merged_meson_photons(flat, cfg.merge_dr)
    objects = flat.final & (flat.pid == 22) & ~flat.is_cell
    objects[pairs.ravel()] = False
    objects[mesons] = True
    rows, pt, rel03, level, nonprompt, g, gidx = _reconstruct_egamma(
        flat, cfg, objects, iso, rnd, genpart_index, n_gauss=2
    )
    mva = np.clip(0.9 - 2.5 * rel03 - cfg.nonprompt_mva_shift * nonprompt + 0.15 * g[:, 1],
                  -1.0, 1.0)
    phi = flat.phi[rows]
    columns = {
        "pt": pt.astype(np.float32),
        "eta": flat.eta[rows].astype(np.float32),
        "phi": phi.astype(np.float32),
        "mass": np.zeros(len(rows), dtype=np.float32),
        "pfRelIso03_all": rel03.astype(np.float32),
        "cutBased": level,
        "mvaID": mva.astype(np.float32),
        "electronVeto": np.ones(len(rows), dtype=bool),
        "genPartIdx": gidx.astype(np.int32),
        "genPartFlav": np.where(nonprompt | (flat.pid[rows] != 22), 0, 1).astype(np.uint8),
    }
    # the merged photons of the kept mesons are members of their photon object
    position = np.full(len(flat.pid), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    kept = position[mesons] >= 0
    members = pairs[kept].ravel()
    member_of = np.repeat(position[mesons[kept]], 2)
    return RecoObjects(
        rows, flat.event[rows], rel03 < cfg.isolated, pt * np.cos(phi), pt * np.sin(phi), columns,
        members=members, member_of=member_of,
    )


def reconstruct_leptons_photons(
    flat: FlatEvents,
    cfg: DetectorConfig,
    rnd: EventRandom,
    genpart_index: np.ndarray,
    pileup_density: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> dict[str, RecoObjects]:
    """Muons, then electrons, then photons: this order fixes each event's random sequence."""
    iso = Isolation(cfg.iso_particle_pt_min, pileup_density)
    return {
        "Muon": reconstruct_muons(flat, cfg.muon, iso, rnd, genpart_index),
        "Electron": reconstruct_electrons(flat, cfg.electron, iso, rnd, genpart_index),
        "Photon": reconstruct_photons(flat, cfg.photon, iso, rnd, genpart_index),
    }
