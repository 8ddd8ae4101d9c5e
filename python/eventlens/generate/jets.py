"""Anti-kt jets with FastJet, their flavour, resolution, jet ID and b-tag score.

One ``fastjet.ClusterSequence`` call clusters a whole batch (FastJet's awkward
interface), and everything per jet afterwards is computed from the
constituent indices with ``np.bincount``:

- flavour: the last b and c hadrons are added as *ghosts* (momentum × 1e-18),
  so they end up in a jet without changing it; ``hadronFlavour`` is 5 if a b
  ghost is in the jet, else 4 for a c ghost, else 0 (the CMS definition);
- jet ID: CMS Run-2 tight / tight-lepton-veto criteria on the jet's energy
  fractions, computed from its constituents;
- resolution: σ/pT = N/pT ⊕ S/√pT ⊕ C, times a factor that grows with |η|;
- b tag: a score drawn from Beta(a, 1) ("tagged") with probability f_flavour
  or else from Beta(1, a), with f chosen so that the efficiency at the working
  point is exactly the configured b/c/light value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np

from ._quiet import silence_fastjet_banner
from .config import JetConfig
from .particles import TRACKER_ETA, FlatEvents, last_of_kind, segment_sum
from .randoms import EventRandom

GHOST_SCALE = 1e-18

# constituent categories (PF-candidate-like)
CH_HAD, NE_HAD, CH_EM, NE_EM, MUON = range(5)


@dataclass
class Jets:
    """The Jet collection (sorted by pT per event) and what MET needs from clustering."""

    event: np.ndarray
    px: np.ndarray  # smeared, before the pileup offset correction (what MET uses)
    py: np.ndarray
    columns: dict[str, np.ndarray]
    unclustered_px: np.ndarray  # per event: clustered inputs not in a kept jet
    unclustered_py: np.ndarray
    unclustered_sumet: np.ndarray


def btag_mixture_fraction(efficiency: float, wp: float, concentration: float) -> float:
    """Probability of the "tagged" Beta(a,1) component that gives ``efficiency`` above ``wp``."""
    p_high = 1.0 - wp**concentration  # P(Beta(a,1) > wp)
    p_low = (1.0 - wp) ** concentration  # P(Beta(1,a) > wp)
    return float(np.clip((efficiency - p_low) / (p_high - p_low), 0.0, 1.0))


def resolution(cfg: JetConfig, pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """Relative jet pT resolution; larger at low pT and at large |η|."""
    rel = np.sqrt((cfg.noise / pt) ** 2 + cfg.stochastic**2 / pt + cfg.constant**2)
    edges = np.array([e for e, _ in cfg.eta_factor])
    factors = np.array([f for _, f in cfg.eta_factor])
    return rel * factors[np.minimum(np.searchsorted(edges, abs_eta), len(factors) - 1)]


def _categories(flat: FlatEvents, rows: np.ndarray, pf_muon: np.ndarray | None) -> np.ndarray:
    """PF-like category per particle; charged particles outside the tracker look neutral.

    ``pf_muon`` (per generator row) marks the muons particle flow identifies;
    other muons' tracks are charged hadrons.  ``None``: every muon is a PF muon.
    """
    apid = np.abs(flat.pid[rows])
    in_tracker = np.abs(flat.eta[rows]) < TRACKER_ETA
    charged = (flat.charge[rows] != 0) & in_tracker
    is_muon = (apid == 13) if pf_muon is None else (apid == 13) & pf_muon[rows]
    return np.select(
        [is_muon, (apid == 11) & charged, (apid == 22) | (apid == 11), charged],
        [MUON, CH_EM, NE_EM, CH_HAD],
        NE_HAD,
    )


def _jet_id(
    aeta: np.ndarray, frac: dict[int, np.ndarray], n_const: np.ndarray, n_charged: np.ndarray
) -> np.ndarray:
    """NanoAOD Jet_jetId: bit 1 tight, bit 2 tight-lepton-veto (so 0, 2 or 6)."""
    nhf, nemf, chf = frac[NE_HAD], frac[NE_EM], frac[CH_HAD]
    muf, cemf = frac[MUON], frac[CH_EM]
    n_neutral = n_const - n_charged
    central = (nhf < 0.90) & (nemf < 0.90) & (n_const > 1) & (chf > 0) & (n_charged > 0)
    edge = (nhf < 0.90) & (nemf < 0.99) & (n_charged > 0)
    transition = (nemf > 0.01) & (nemf < 0.99) & (n_neutral > 1)
    forward = (nemf < 0.90) & (nhf > 0.2) & (n_neutral > 10)
    tight = np.select([aeta <= 2.6, aeta <= 2.7, aeta <= 3.0], [central, edge, transition], forward)
    lepton_veto = np.where(aeta <= 2.7, (muf < 0.8) & (cemf < 0.8), True)
    return (2 * tight + 4 * (tight & lepton_veto)).astype(np.int32)


def cluster_jets(
    flat: FlatEvents,
    inputs: np.ndarray,
    cfg: JetConfig,
    rnd: EventRandom,
    pf_muon: np.ndarray | None = None,
    offset: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Jets:
    """Cluster ``inputs`` (generator rows) per event, then smear, tag and identify the jets.

    ``pf_muon``: which generator rows are identified muons (for the jets' muon
    energy fraction); see :func:`_categories`.  ``offset(jet_event, |η|)``:
    the pileup pT a jet collects on average (GeV), subtracted from its
    momentum like CMS's L1 (FastJet offset) correction; the jet threshold
    applies to the corrected pT, ``Jet_rawFactor`` = 1 − raw/corrected, and
    MET keeps the uncorrected jets (type-1 MET leaves the offset out).
    """
    import fastjet

    silence_fastjet_banner()
    n_ev = flat.n_events
    ghosts_b = last_of_kind(flat, flat.b_hadron)
    ghosts_c = last_of_kind(flat, flat.c_hadron) & ~ghosts_b
    ghost_rows = np.flatnonzero(ghosts_b | ghosts_c)
    rows = np.concatenate([inputs, ghost_rows])
    is_ghost = np.concatenate([np.zeros(len(inputs), bool), np.ones(len(ghost_rows), bool)])
    order = np.lexsort((rows, is_ghost, flat.event[rows]))
    rows, is_ghost = rows[order], is_ghost[order]
    ev = flat.event[rows]
    counts = np.bincount(ev, minlength=n_ev)
    offsets = np.zeros(n_ev + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    scale = np.where(is_ghost, GHOST_SCALE, 1.0)
    px, py, pz, e = (
        flat.px[rows] * scale,
        flat.py[rows] * scale,
        flat.pz[rows] * scale,
        flat.e[rows] * scale,
    )
    particles = ak.Array(
        ak.contents.ListOffsetArray(
            ak.index.Index64(offsets),
            ak.contents.RecordArray(
                [ak.contents.NumpyArray(x) for x in (px, py, pz, e)], ["px", "py", "pz", "E"]
            ),
        )
    )
    sequence = fastjet.ClusterSequence(
        particles, fastjet.JetDefinition(fastjet.antikt_algorithm, cfg.radius)
    )
    raw = sequence.inclusive_jets(cfg.raw_pt_min)
    index = sequence.constituent_index(cfg.raw_pt_min)

    jets_per_event = np.asarray(ak.to_numpy(ak.num(raw, axis=1)), dtype=np.int64)
    jet_event = np.repeat(np.arange(n_ev), jets_per_event)
    jpx, jpy, jpz, je = (
        np.asarray(ak.to_numpy(ak.flatten(raw[f])), dtype=np.float64)
        for f in ("px", "py", "pz", "E")
    )
    n_const_all = np.asarray(ak.to_numpy(ak.flatten(ak.num(index, axis=2))), dtype=np.int64)
    const_jet = np.repeat(np.arange(len(jpx)), n_const_all)
    const_row = offsets[jet_event[const_jet]] + np.asarray(
        ak.to_numpy(ak.flatten(index, axis=None)), dtype=np.int64
    )

    # Deterministic per-event jet order (raw pT descending) before drawing random numbers.
    raw_pt = np.hypot(jpx, jpy)
    order = np.lexsort((-raw_pt, jet_event))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    jpx, jpy, jpz, je, raw_pt, jet_event = (
        a[order] for a in (jpx, jpy, jpz, je, raw_pt, jet_event)
    )
    const_jet = rank[const_jet]
    n_jets = len(jpx)

    # Per-jet constituent sums.
    real = ~is_ghost[const_row]
    src = rows[const_row]
    cat = _categories(flat, src, pf_muon)
    energy = np.where(real, flat.e[src], 0.0)
    frac = {k: segment_sum(energy * (cat == k), const_jet, n_jets) / je for k in range(5)}
    n_const = segment_sum(real.astype(float), const_jet, n_jets).astype(np.int64)
    tracked = real & np.isin(cat, (CH_HAD, CH_EM, MUON)) & (np.abs(flat.eta[src]) < TRACKER_ETA)
    n_charged = segment_sum(tracked.astype(float), const_jet, n_jets).astype(np.int64)
    has_b = segment_sum((~real & ghosts_b[src]).astype(float), const_jet, n_jets) > 0
    has_c = segment_sum((~real & ghosts_c[src]).astype(float), const_jet, n_jets) > 0
    flavour = np.where(has_b, 5, np.where(has_c, 4, 0)).astype(np.int32)

    # Response, b-tag: one normal and two uniforms per jet, in raw-pT order.
    per_event = np.bincount(jet_event, minlength=n_ev)
    g = rnd.normal(per_event, 1)[:, 0]
    u = rnd.uniform(per_event, 2)
    aeta_raw = np.abs(np.arcsinh(jpz / np.maximum(raw_pt, 1e-12)))
    factor = np.maximum(1.0 + resolution(cfg, raw_pt, aeta_raw) * g, 0.0)
    pt_uncorrected = raw_pt * factor
    if offset is not None:
        subtracted = offset(jet_event, aeta_raw)
        l1 = np.clip(1.0 - subtracted / np.maximum(pt_uncorrected, 1e-9), 0.0, 1.0)
    else:
        l1 = np.ones(n_jets)
    factor = factor * l1
    pt = raw_pt * factor
    eta = np.arcsinh(jpz / np.maximum(raw_pt, 1e-12))
    phi = np.arctan2(jpy, jpx)
    mass = np.sqrt(np.maximum(je**2 - jpx**2 - jpy**2 - jpz**2, 0.0)) * factor
    fractions = np.array(
        [
            btag_mixture_fraction(eff, cfg.btag_wp, cfg.btag_concentration)
            for eff in cfg.btag_efficiency
        ]
    )
    f_jet = np.where(flavour == 5, fractions[0], np.where(flavour == 4, fractions[1], fractions[2]))
    f_jet = np.where(np.abs(eta) < cfg.btag_eta_max, f_jet, 0.0)
    root = u[:, 1] ** (1.0 / cfg.btag_concentration)
    btag = np.where(u[:, 0] < f_jet, root, 1.0 - root)
    jet_id = _jet_id(np.abs(eta), frac, n_const, n_charged)

    keep = (pt > cfg.pt_min) & (np.abs(eta) < cfg.eta_max)
    out_order = np.flatnonzero(keep)[np.lexsort((-pt[keep], jet_event[keep]))]

    # Unclustered energy for MET: all real inputs minus the constituents of kept jets.
    real_rows = rows[~is_ghost]
    in_kept = real & keep[const_jet]
    ev_in = flat.event[real_rows]
    ev_k = flat.event[src[in_kept]]
    unc_px = segment_sum(flat.px[real_rows], ev_in, n_ev) - segment_sum(
        flat.px[src[in_kept]], ev_k, n_ev
    )
    unc_py = segment_sum(flat.py[real_rows], ev_in, n_ev) - segment_sum(
        flat.py[src[in_kept]], ev_k, n_ev
    )
    unc_et = segment_sum(flat.pt[real_rows], ev_in, n_ev) - segment_sum(
        flat.pt[src[in_kept]], ev_k, n_ev
    )

    o = out_order
    columns = {
        "pt": pt[o].astype(np.float32),
        "rawFactor": np.where(l1 > 0, 1.0 - 1.0 / np.maximum(l1, 1e-9), 0.0)[o].astype(np.float32),
        "eta": eta[o].astype(np.float32),
        "phi": phi[o].astype(np.float32),
        "mass": mass[o].astype(np.float32),
        "btagDeepFlavB": btag[o].astype(np.float32),
        "hadronFlavour": flavour[o],
        "jetId": jet_id[o],
        "nConstituents": n_const[o].astype(np.int32),
        "chHEF": frac[CH_HAD][o].astype(np.float32),
        "neHEF": frac[NE_HAD][o].astype(np.float32),
        "chEmEF": frac[CH_EM][o].astype(np.float32),
        "neEmEF": frac[NE_EM][o].astype(np.float32),
        "muEF": frac[MUON][o].astype(np.float32),
    }
    return Jets(
        event=jet_event[o],
        px=(pt_uncorrected * np.cos(phi))[o],
        py=(pt_uncorrected * np.sin(phi))[o],
        columns=columns,
        unclustered_px=unc_px,
        unclustered_py=unc_py,
        unclustered_sumet=np.maximum(unc_et, 0.0),
    )
