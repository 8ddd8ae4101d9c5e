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


@dataclass
class Candidates:
    """Reconstruction candidates: a generator row each (the seed) and their kinematics.

    ``owner`` maps every generator row that is part of a candidate (the seed
    and, for an ECAL cluster, the other photons in it) to the candidate's
    index, −1 elsewhere: those rows are the candidate, not its surroundings.
    """

    rows: np.ndarray
    event: np.ndarray
    pt: np.ndarray
    e: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    owner: np.ndarray

    @classmethod
    def of_rows(cls, flat: FlatEvents, rows: np.ndarray) -> Candidates:
        """Each row its own candidate with its generator kinematics."""
        owner = np.full(len(flat.pid), -1, dtype=np.int64)
        owner[rows] = np.arange(len(rows))
        return cls(rows, flat.event[rows], flat.pt[rows], flat.e[rows], flat.eta[rows],
                   flat.phi[rows], owner)

    def subset(self, keep: np.ndarray) -> Candidates:
        """The candidates at indices ``keep``, in that order (owners renumbered)."""
        new_index = np.full(len(self.rows) + 1, -1, dtype=np.int64)  # [-1]: not a candidate
        new_index[keep] = np.arange(len(keep))
        owner = new_index[self.owner]
        return Candidates(self.rows[keep], self.event[keep], self.pt[keep], self.e[keep],
                          self.eta[keep], self.phi[keep], owner)


def _cone_pairs(
    flat: FlatEvents, cands: Candidates, others: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(candidate index, other row, ΔR², not part of the candidate) for every pair of a
    candidate and an ``others`` row (a mask) of the same event."""
    rows = np.flatnonzero(others)
    ia, ib = pairs_within_events(cands.event, flat.event[rows], flat.n_events)
    b = rows[ib]
    dr2 = (cands.eta[ia] - flat.eta[b]) ** 2 + delta_phi(cands.phi[ia], flat.phi[b]) ** 2
    return ia, b, dr2, cands.owner[b] != ia


def relative_isolation(
    flat: FlatEvents, cands: Candidates, radii: tuple[float, ...], iso: Isolation
) -> list[np.ndarray]:
    """Scalar pT sum of visible particles within ΔR < r of each candidate (itself excluded).

    Returns one absolute sum per radius, per candidate.  The particles a
    candidate is made of (the photons of an ECAL cluster) are not its
    isolation; charged pileup inside the tracker is not counted (its tracks
    come from another vertex); neutral pileup is, minus its expected amount
    (see :class:`Isolation`).
    """
    visible = (
        flat.final
        & ~np.isin(np.abs(flat.pid), NEUTRINOS)
        & (flat.pt > iso.pt_min)
        & (np.abs(flat.eta) < 5.0)
        & ~flat.chs_removed
        & ~flat.is_cell  # summed soft pileup: below the threshold particle by particle
    )
    ia, b, dr2, not_self = _cone_pairs(flat, cands, visible)
    n = len(cands.rows)
    if iso.pileup_density is None:
        return [segment_sum(flat.pt[b] * ((dr2 < r * r) & not_self), ia, n) for r in radii]
    tracked = (flat.charge[b] != 0) & (np.abs(flat.eta[b]) < TRACKER_ETA)
    density = iso.pileup_density(cands.event, np.abs(cands.eta))
    out = []
    for r in radii:
        inside = flat.pt[b] * ((dr2 < r * r) & not_self)
        charged = segment_sum(inside * tracked, ia, n)
        neutral = segment_sum(inside * ~tracked, ia, n)
        out.append(charged + np.maximum(neutral - density * np.pi * r * r, 0.0))
    return out


def hadronic_over_em(flat: FlatEvents, cands: Candidates, pt: np.ndarray,
                     radius: float = 0.15) -> np.ndarray:
    """H/E: the hadrons' transverse energy within ``radius`` of each candidate over its pT.

    What lies in the HCAL towers behind an ECAL cluster: large for photons
    inside a jet, ~0 for an isolated photon or electron.  Pileup counts (no
    track-vertex association in the calorimeter).
    """
    hadrons = (flat.final & flat.hadron) | (flat.is_cell & (flat.pid != 22))
    ia, b, dr2, not_self = _cone_pairs(flat, cands, hadrons & (np.abs(flat.eta) < 5.0))
    near = segment_sum(flat.pt[b] * ((dr2 < radius * radius) & not_self), ia, len(cands.rows))
    return near / np.maximum(pt, 1e-9)


def em_clusters(flat: FlatEvents, radius: float, pt_min: float) -> Candidates:
    """Photons clustered into ECAL clusters (anti-kt, ``radius``) above ``pt_min``.

    The ECAL does not resolve photons closer than a few crystals: the two
    photons of an energetic π⁰, and the photons of the π⁰s in a jet's core,
    make one supercluster — which is how jets fake photons (at ΔR = 0.1, 13 %
    of the jets above 25 GeV in tt̄ give a Photon above 25 GeV, as in CMS
    NanoAOD tt̄ simulation).  A cluster's seed is its
    highest-pT photon (prompt or not, its genPartIdx); ``radius`` 0 makes
    every photon its own candidate.
    """
    photons = np.flatnonzero(flat.final & (flat.pid == 22) & ~flat.is_cell
                             & (np.abs(flat.eta) < 3.0))
    if radius <= 0:
        return Candidates.of_rows(flat, photons)
    import awkward as ak
    import fastjet

    from ._quiet import silence_fastjet_banner

    silence_fastjet_banner()
    counts = np.bincount(flat.event[photons], minlength=flat.n_events)
    offsets = np.zeros(flat.n_events + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    particles = ak.Array(ak.contents.ListOffsetArray(
        ak.index.Index64(offsets),
        ak.contents.RecordArray(
            [ak.contents.NumpyArray(np.ascontiguousarray(getattr(flat, k)[photons]))
             for k in ("px", "py", "pz", "e")], ["px", "py", "pz", "E"]),
    ))
    sequence = fastjet.ClusterSequence(
        particles, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    clusters = sequence.inclusive_jets(pt_min)
    index = sequence.constituent_index(pt_min)
    per_event = np.asarray(ak.to_numpy(ak.num(clusters, axis=1)), dtype=np.int64)
    cl_event = np.repeat(np.arange(flat.n_events), per_event)
    px, py, pz, e = (np.asarray(ak.to_numpy(ak.flatten(clusters[f])), dtype=np.float64)
                     for f in ("px", "py", "pz", "E"))
    n_const = np.asarray(ak.to_numpy(ak.flatten(ak.num(index, axis=2))), dtype=np.int64)
    const_cluster = np.repeat(np.arange(len(px)), n_const)
    const_row = photons[offsets[cl_event[const_cluster]]
                        + np.asarray(ak.to_numpy(ak.flatten(index, axis=None)), dtype=np.int64)]
    # the seed: the highest-pT constituent of each cluster
    order = np.lexsort((-flat.pt[const_row], const_cluster))
    first = np.ones(len(order), dtype=bool)
    first[1:] = const_cluster[order][1:] != const_cluster[order][:-1]
    seeds = np.empty(len(px), dtype=np.int64)
    seeds[const_cluster[order][first]] = const_row[order][first]
    owner = np.full(len(flat.pid), -1, dtype=np.int64)
    owner[const_row] = const_cluster
    pt = np.hypot(px, py)
    return Candidates(seeds, cl_event, pt, e, np.arcsinh(pz / np.maximum(pt, 1e-12)),
                      np.arctan2(py, px), owner)


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
    iso03, iso04 = relative_isolation(flat, Candidates.of_rows(flat, cand), (0.3, 0.4), iso)
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
    cfg: EGammaConfig,
    rel_iso: np.ndarray,
    pt: np.ndarray,
    u_id: np.ndarray,
    nonprompt: np.ndarray,
    hoe: np.ndarray,
) -> np.ndarray:
    """Highest cut-based level passed (0 = none); levels are nested by construction."""
    factor = np.where(nonprompt, cfg.nonprompt_id_factor, 1.0)
    level = np.zeros(len(pt), dtype=np.int32)
    for k, (iso, eff) in enumerate(zip(cfg.iso_cut, cfg.id_efficiency, strict=True), start=1):
        passed = (
            (rel_iso < iso + cfg.iso_cut_over_pt / pt)
            & (u_id < eff * factor)
            & (hoe < cfg.hoe_id_max)
        )
        level = np.where(passed & (level == k - 1), k, level)
    return level


def _reconstruct_egamma(
    flat: FlatEvents,
    cfg: EGammaConfig,
    objects: Candidates,
    iso: Isolation,
    rnd: EventRandom,
    genpart_index: np.ndarray,
    n_gauss: int,
) -> tuple[Candidates, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
           np.ndarray, np.ndarray]:
    """Shared electron/photon steps on candidate ``objects``.

    Returns the kept candidates and their reco quantities (pT, relIso03,
    cut-based level, non-prompt flag, the normals, genPartIdx, H/E).
    """
    aeta_all = np.abs(objects.eta)
    accepted = np.flatnonzero(
        (objects.pt > 0.8 * cfg.pt_min)
        & (aeta_all < cfg.eta_max)
        & ~((aeta_all > cfg.gap[0]) & (aeta_all < cfg.gap[1]))
    )
    # candidates in (event, seed row) order: the per-event random draws follow it
    accepted = accepted[np.lexsort((objects.rows[accepted], objects.event[accepted]))]
    cand = objects.subset(accepted)
    counts = np.bincount(cand.event, minlength=flat.n_events)
    u = rnd.uniform(counts, 2)  # efficiency, identification
    g = rnd.normal(counts, n_gauss)  # energy, then type-specific
    aeta = np.abs(cand.eta)
    eff = cfg.efficiency * (
        _turn_on(cand.pt, cfg.turn_on_pt50, cfg.turn_on_width) if cfg.turn_on_pt50 > 0 else 1.0
    )
    scale = np.maximum(1.0 + _ecal_sigma(cfg, cand.e, aeta) * g[:, 0], 0.0)
    pt = cand.pt * scale
    (iso03,) = relative_isolation(flat, cand, (0.3,), iso)
    rel03 = iso03 / np.maximum(pt, 1e-9)
    uses_hoe = np.isfinite(cfg.hoe_max) or np.isfinite(cfg.hoe_id_max)
    hoe = hadronic_over_em(flat, cand, pt) if uses_hoe else np.zeros(len(cand.rows))
    keep = (
        (u[:, 0] < eff)
        & (pt > cfg.pt_min)
        & (rel03 < cfg.preselection_iso)
        & (hoe < cfg.hoe_max)
    )
    sel = np.flatnonzero(keep)[_order(cand.event[keep], pt[keep])]
    kept = cand.subset(sel)
    m1 = flat.m1[kept.rows]
    # from a hadron: a hadron's decay product (a π⁰ photon), or a hadron itself
    nonprompt = flat.hadron[kept.rows] | ((m1 >= 0) & flat.hadron[np.maximum(m1, 0)])
    level = _cut_based(cfg, rel03[sel], pt[sel], u[sel, 1], nonprompt, hoe[sel])
    return (kept, pt[sel], rel03[sel], level, nonprompt, g[sel], genpart_index[kept.rows],
            hoe[sel])


def reconstruct_electrons(
    flat: FlatEvents,
    cfg: EGammaConfig,
    iso: Isolation,
    rnd: EventRandom,
    genpart_index: np.ndarray,
) -> RecoObjects:
    """Electrons: ECAL-like energy resolution, Fall17V2-like cut-based levels (0–4)."""
    electrons = Candidates.of_rows(flat, np.flatnonzero(flat.final & (np.abs(flat.pid) == 11)))
    kept, pt, rel03, level, _, g, gidx, _ = _reconstruct_egamma(
        flat, cfg, electrons, iso, rnd, genpart_index, n_gauss=3
    )
    rows = kept.rows
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
    """Photons: ECAL clusters, resolution, cut-based levels (0–3), an MVA-like score in [−1, 1].

    Candidates are ECAL clusters of photons (:func:`em_clusters`): a prompt
    photon, or the π⁰/η photons of a jet's core — a jet whose energy is mostly
    such a π⁰ system leaves an isolated-looking cluster and fakes a photon.
    Fakes are mostly not isolated (the rest of the jet surrounds them) and have
    hadronic energy behind them (``hoe``); as non-prompt showers they pass the
    cut-based levels less often (``nonprompt_id_factor``) and score lower in the
    MVA (``nonprompt_mva_shift``).  ``genPartFlav`` is 1 when the cluster's seed
    is a prompt photon, else 0; ``genPartIdx`` points to that prompt photon.
    """
    clusters = em_clusters(flat, cfg.cluster_radius, 0.8 * cfg.pt_min)
    kept, pt, rel03, level, nonprompt, g, gidx, hoe = _reconstruct_egamma(
        flat, cfg, clusters, iso, rnd, genpart_index, n_gauss=2
    )
    mva = np.clip(0.9 - 2.5 * rel03 - cfg.nonprompt_mva_shift * nonprompt + 0.15 * g[:, 1],
                  -1.0, 1.0)
    rows = kept.rows
    columns = {
        "pt": pt.astype(np.float32),
        "eta": kept.eta.astype(np.float32),
        "phi": kept.phi.astype(np.float32),
        "mass": np.zeros(len(rows), dtype=np.float32),
        "pfRelIso03_all": rel03.astype(np.float32),
        "hoe": hoe.astype(np.float32),
        "cutBased": level,
        "mvaID": mva.astype(np.float32),
        "electronVeto": np.ones(len(rows), dtype=bool),
        "genPartIdx": np.where(nonprompt, -1, gidx).astype(np.int32),
        "genPartFlav": np.where(nonprompt | (flat.pid[rows] != 22), 0, 1).astype(np.uint8),
    }
    # the other photons of each kept cluster are members of its photon object
    members = np.flatnonzero(kept.owner >= 0)
    members = members[~np.isin(members, rows)]
    return RecoObjects(
        rows, kept.event, rel03 < cfg.isolated, pt * np.cos(kept.phi), pt * np.sin(kept.phi),
        columns, members=members, member_of=kept.owner[members],
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
