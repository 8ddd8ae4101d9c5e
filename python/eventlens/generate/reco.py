"""Muon, electron and photon reconstruction from generator particles.

Each object type goes through the same steps, all vectorised over a batch:
acceptance on the generator particle, isolation from the surrounding
particles, efficiency (with a pT turn-on), smearing, identification levels.
The random numbers come from :class:`~eventlens.generate.randoms.EventRandom`
in a fixed per-event order (see :func:`reconstruct_leptons_photons`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import DetectorConfig, EGammaConfig, MuonConfig
from .particles import NEUTRINOS, FlatEvents, delta_phi, pairs_within_events, segment_sum
from .randoms import EventRandom

ELECTRON_MASS = 0.000511
MUON_MASS = 0.105658


@dataclass
class RecoObjects:
    """One reconstructed collection: the generator rows it came from and its NanoAOD columns.

    Rows are sorted by (event, pT descending), as NanoAOD collections are.
    ``isolated`` marks objects kept out of jet clustering; ``px``/``py`` are
    their reconstructed transverse momentum components, for MET.
    """

    rows: np.ndarray
    event: np.ndarray
    isolated: np.ndarray
    px: np.ndarray
    py: np.ndarray
    columns: dict[str, np.ndarray]

    def counts(self, n_events: int) -> np.ndarray:
        return np.bincount(self.event, minlength=n_events).astype(np.int64)


def relative_isolation(
    flat: FlatEvents, cand: np.ndarray, radii: tuple[float, ...], pt_min: float
) -> list[np.ndarray]:
    """Scalar pT sum of visible particles within ΔR < r of each candidate (itself excluded).

    ``cand`` are generator rows; returns one absolute sum per radius, per candidate.
    """
    visible = (
        flat.final
        & ~np.isin(np.abs(flat.pid), NEUTRINOS)
        & (flat.pt > pt_min)
        & (np.abs(flat.eta) < 5.0)
    )
    others = np.flatnonzero(visible)
    ia, ib = pairs_within_events(flat.event[cand], flat.event[others], flat.n_events)
    a, b = cand[ia], others[ib]
    dr2 = (flat.eta[a] - flat.eta[b]) ** 2 + delta_phi(flat.phi[a], flat.phi[b]) ** 2
    not_self = a != b
    return [
        segment_sum(flat.pt[b] * ((dr2 < r * r) & not_self), ia, len(cand))
        for r in radii
    ]


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
    iso_pt_min: float,
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
    iso03, iso04 = relative_isolation(flat, cand, (0.3, 0.4), iso_pt_min)
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


def _reconstruct_egamma(
    flat: FlatEvents,
    cfg: EGammaConfig,
    pid: int,
    iso_pt_min: float,
    rnd: EventRandom,
    genpart_index: np.ndarray,
    n_gauss: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shared electron/photon steps; returns the kept rows and their reco quantities."""
    aeta_all = np.abs(flat.eta)
    cand = np.flatnonzero(
        flat.final
        & (np.abs(flat.pid) == pid)
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
    (iso03,) = relative_isolation(flat, cand, (0.3,), iso_pt_min)
    rel03 = iso03 / np.maximum(pt, 1e-9)
    keep = (u[:, 0] < eff) & (pt > cfg.pt_min) & (rel03 < cfg.preselection_iso)
    sel = np.flatnonzero(keep)[_order(flat.event[cand][keep], pt[keep])]
    rows = cand[sel]
    m1 = flat.m1[rows]
    nonprompt = (m1 >= 0) & flat.hadron[np.maximum(m1, 0)]
    level = _cut_based(cfg, rel03[sel], pt[sel], u[sel, 1], nonprompt)
    return rows, pt[sel], rel03[sel], level, nonprompt, g[sel], genpart_index[rows]


def reconstruct_electrons(
    flat: FlatEvents,
    cfg: EGammaConfig,
    iso_pt_min: float,
    rnd: EventRandom,
    genpart_index: np.ndarray,
) -> RecoObjects:
    """Electrons: ECAL-like energy resolution, Fall17V2-like cut-based levels (0–4)."""
    rows, pt, rel03, level, _, g, gidx = _reconstruct_egamma(
        flat, cfg, 11, iso_pt_min, rnd, genpart_index, n_gauss=3
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
    iso_pt_min: float,
    rnd: EventRandom,
    genpart_index: np.ndarray,
) -> RecoObjects:
    """Photons: ECAL resolution, cut-based levels (0–3) and an MVA-like score in [−1, 1]."""
    rows, pt, rel03, level, nonprompt, g, gidx = _reconstruct_egamma(
        flat, cfg, 22, iso_pt_min, rnd, genpart_index, n_gauss=2
    )
    mva = np.clip(0.9 - 2.5 * rel03 - 0.4 * nonprompt + 0.15 * g[:, 1], -1.0, 1.0)
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
    }
    return RecoObjects(
        rows, flat.event[rows], rel03 < cfg.isolated, pt * np.cos(phi), pt * np.sin(phi), columns
    )


def reconstruct_leptons_photons(
    flat: FlatEvents, cfg: DetectorConfig, rnd: EventRandom, genpart_index: np.ndarray
) -> dict[str, RecoObjects]:
    """Muons, then electrons, then photons: this order fixes each event's random sequence."""
    return {
        "Muon": reconstruct_muons(flat, cfg.muon, cfg.iso_particle_pt_min, rnd, genpart_index),
        "Electron": reconstruct_electrons(
            flat, cfg.electron, cfg.iso_particle_pt_min, rnd, genpart_index
        ),
        "Photon": reconstruct_photons(
            flat, cfg.photon, cfg.iso_particle_pt_min, rnd, genpart_index
        ),
    }
