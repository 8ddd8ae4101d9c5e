"""The parametric detector on hand-made generator events (no Pythia): MET of lost muons,
fake photons from π⁰ systems, pileup overlay.  Expectations are computed by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from eventlens.generate.config import DetectorConfig, MuonConfig
from eventlens.generate.detector import PileupInput, simulate_flat
from eventlens.generate.pileup import PileupLibrary, PileupSettings, overlay, soft_cells
from generate_toys import flat_events, generator_columns


def _simulate(events, config=None, seed=1):
    flat = flat_events(events)
    return simulate_flat(flat, generator_columns(flat.n_events), seed, 7,
                         np.arange(1, flat.n_events + 1), 1, config or DetectorConfig())


def _muon_and_pion(muon_eta: float, n: int = 60):
    """A 40 GeV muon recoiling against a 40 GeV charged pion: no true MET."""
    return [[{"pid": 13, "pt": 40.0, "eta": muon_eta, "phi": 0.0, "mass": 0.1057},
             {"pid": 211, "pt": 40.0, "eta": -0.3, "phi": np.pi, "mass": 0.1396}]] * n


def test_a_muon_lost_to_reconstruction_keeps_its_track_in_met():
    lost = DetectorConfig(muon=dataclasses.replace(MuonConfig(), efficiency=0.0))
    out = _simulate(_muon_and_pion(0.5), lost)
    assert out.collections["Muon"][0].sum() == 0  # not reconstructed ...
    met = out.scalars["MET_pt"]
    assert np.median(met) < 10  # ... but its track balances the pion (was ~40 GeV)
    # the track is a charged hadron in a jet of its own: no muon energy fraction
    counts, jets = out.collections["Jet"]
    assert np.all(counts == 2)
    near_phi0 = np.abs(jets["phi"]) < 0.5
    assert np.all(jets["muEF"][near_phi0] == 0) and np.all(jets["chHEF"][near_phi0] > 0.99)

    found = _simulate(_muon_and_pion(0.5))  # efficiency 97 %: an isolated muon, not a jet
    n_mu = found.collections["Muon"][0]
    assert n_mu.mean() > 0.85
    assert np.median(found.scalars["MET_pt"][n_mu == 1]) < 10
    assert np.all(found.collections["Jet"][0][n_mu == 1] == 1)


def test_a_muon_beyond_the_tracker_is_missing_energy():
    out = _simulate(_muon_and_pion(2.7))  # no muon chambers, no track
    assert out.collections["Muon"][0].sum() == 0
    assert np.median(out.scalars["MET_pt"]) == pytest.approx(40, abs=8)


# --------------------------------------------------------------------------- fake photons


def _pi0_jet(pt_pi0: float, opening: float, hadrons: float, phi: float = 1.0):
    """A π⁰ → γγ (photons ``opening`` apart in φ, equal pT) plus charged pions of total pT
    ``hadrons`` 0.15 in η away from it: a jet whose leading particle is the π⁰."""
    half = pt_pi0 / 2
    g1 = (half, 0.5, phi - opening / 2)
    g2 = (half, 0.5, phi + opening / 2)
    vec = sum(np.array([p * np.cos(f), p * np.sin(f), p * np.sinh(e), p * np.cosh(e)])
              for p, e, f in (g1, g2))
    pt = float(np.hypot(vec[0], vec[1]))
    mass = float(np.sqrt(max(vec[3] ** 2 - vec[0] ** 2 - vec[1] ** 2 - vec[2] ** 2, 0.0)))
    particles = [
        {"pid": 111, "status": -83, "pt": pt, "eta": float(np.arcsinh(vec[2] / pt)),
         "phi": float(np.arctan2(vec[1], vec[0])), "mass": mass, "daughters": (1, 2)},
        {"pid": 22, "pt": g1[0], "eta": g1[1], "phi": g1[2], "mother": 0},
        {"pid": 22, "pt": g2[0], "eta": g2[1], "phi": g2[2], "mother": 0},
    ]
    for k in range(4 if hadrons > 0 else 0):
        particles.append({"pid": 211 if k % 2 else -211, "pt": hadrons / 4, "eta": 0.65,
                          "phi": phi + 0.05 * (k - 1.5), "mass": 0.1396})
    return particles


def test_a_merged_pi0_is_one_photon_candidate_and_a_fake():
    prompt = {"pid": 22, "pt": 50.0, "eta": -0.8, "phi": -2.0}
    events = [[*_pi0_jet(40.0, 0.02, 0.0), prompt]] * 40  # an isolated π⁰: one photon
    out = _simulate(events)
    counts, ph = out.collections["Photon"]
    fake = ph["genPartFlav"] == 0
    assert np.all(counts <= 2) and fake.sum() >= 30  # one candidate per π⁰, ~95 % efficient
    assert np.all(ph["genPartIdx"][fake] == -1) and np.all(ph["genPartIdx"][~fake] >= 0)
    assert ph["pt"][fake].mean() == pytest.approx(40, rel=0.05)  # the π⁰'s energy
    # isolated either way, but a non-prompt shower: lower MVA, cut-based levels pass less often
    assert np.median(ph["mvaID"][fake]) < np.median(ph["mvaID"][~fake]) - 0.3
    assert (ph["cutBased"][fake] >= 1).mean() < (ph["cutBased"][~fake] >= 1).mean()


def test_resolved_pi0_photons_stay_separate():
    out = _simulate([_pi0_jet(40.0, 0.35, 0.0)] * 20)  # 0.35 apart: two clusters of 20 GeV
    counts, ph = out.collections["Photon"]
    assert counts.mean() > 1.5 and np.all(ph["pt"] < 25)


def test_a_pi0_inside_a_jet_is_a_non_isolated_fake_and_stays_in_the_jet():
    out = _simulate([_pi0_jet(30.0, 0.02, 20.0)] * 40)  # 20 GeV of pions within ΔR 0.3
    counts, ph = out.collections["Photon"]
    assert counts.sum() >= 30
    assert np.all(ph["pfRelIso03_all"] == pytest.approx(20 / ph["pt"], rel=1e-3))
    assert np.all(ph["cutBased"] == 0)  # relIso ~0.7 fails every level
    jets = out.collections["Jet"][1]
    assert np.median(jets["pt"]) == pytest.approx(50, rel=0.2)  # the π⁰ is clustered too
    assert np.median(jets["neEmEF"]) == pytest.approx(0.6, abs=0.05)


# --------------------------------------------------------------------------- pileup overlay



def _library(interactions):
    """A hand-made library: ``[(particles, (trk_px, trk_py, trk_sumpt), n_tracks), ...]`` with
    particles ``(pid, pt, eta, phi, charge)``."""
    counts = [len(parts) for parts, _, _ in interactions]
    flat = [p for parts, _, _ in interactions for p in parts]
    pid, pt, eta, phi, charge = (np.array(c, dtype=float) for c in zip(*flat, strict=True))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    mass = np.where(np.abs(pid) == 13, 0.1057, 0.0)
    return PileupLibrary(
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        pid=pid.astype(np.int32), charge=charge.astype(np.int8),
        px=px.astype(np.float32), py=py.astype(np.float32), pz=pz.astype(np.float32),
        e=np.sqrt(px**2 + py**2 + pz**2 + mass**2).astype(np.float32),
        trk_px=np.array([t[0] for _, t, _ in interactions], np.float32),
        trk_py=np.array([t[1] for _, t, _ in interactions], np.float32),
        trk_sumpt=np.array([t[2] for _, t, _ in interactions], np.float32),
        n_tracks=np.array([n for _, _, n in interactions], np.int16),
    )


LIBRARY = _library([
    ([(22, 3.0, 1.0, 0.3, 0), (130, 2.0, 3.5, -1.0, 0)], (4.0, 0.0, 10.0), 12),
    ([(130, 4.0, -0.5, 2.0, 0), (-11, 6.0, 0.2, 1.0, 1)], (0.0, -3.0, 6.0), 2),
])


def test_overlay_appends_flagged_pileup_and_keeps_the_hard_event():
    flat = flat_events([[{"pid": 23, "status": -22, "pt": 5.0, "eta": 0.1, "phi": 0.0,
                          "mass": 91.0, "daughters": (1, 2)},
                         {"pid": 13, "pt": 40.0, "eta": 0.5, "phi": 0.0, "mother": 0},
                         {"pid": -13, "pt": 40.0, "eta": -0.3, "phi": 3.0, "mother": 0}]] * 30)
    settings = PileupSettings(mu=6.0, sigma_z_cm=3.5)
    merged, info = overlay(flat, LIBRARY, settings, 1, 7, np.arange(1, 31), 4)
    assert merged.n_events == 30 and info.n_pu.sum() > 100
    assert np.array_equal(merged.counts, 3 + 2 * info.n_pu)  # 2 stored particles each
    for i in range(30):
        rows = np.arange(merged.offsets[i], merged.offsets[i + 1])
        assert merged.pid[rows[:3]].tolist() == [23, 13, -13]  # hard event first, in order
        assert merged.m1[rows[1]] == rows[0] and merged.d1[rows[0]] == rows[1]
        assert not merged.is_pileup[rows[:3]].any() and merged.is_pileup[rows[3:]].all()
    pu = merged.is_pileup
    assert np.all(merged.m1[pu] == -1) and np.all(merged.status[pu] == 1)
    # pT is kept, azimuths are turned, the positron is charged in the tracker: CHS removes it
    assert sorted(set(np.round(merged.pt[pu], 3))) == [2.0, 3.0, 4.0, 6.0]
    assert len(set(np.round(merged.phi[pu & (merged.pid == 22)], 6))) > 10
    assert np.array_equal(merged.chs_removed, pu & (merged.pid == -11))
    # vertex displacement: PU vertex - PV, both ~ N(0, 3.5 cm)
    assert 3.5 < np.std(merged.vz[pu]) / 10 < 7.0
    # vertices: interactions with ≥ 4 tracks (the first kind) plus the primary
    n_first = info.n_vertices - 1
    assert np.all(n_first <= info.n_pu) and 0.3 < n_first.sum() / info.n_pu.sum() < 0.7


def test_overlay_depends_on_the_event_number_only():
    flat = flat_events([[{"pid": 211, "pt": 10.0, "eta": 0.0, "phi": 0.0}]] * 6)
    settings = PileupSettings(mu=3.0)
    whole, info = overlay(flat, LIBRARY, settings, 5, 7, np.arange(11, 17), 4)
    half = flat_events([[{"pid": 211, "pt": 10.0, "eta": 0.0, "phi": 0.0}]] * 3)
    a, ia = overlay(half, LIBRARY, settings, 5, 7, np.arange(11, 14), 4)
    b, ib = overlay(half, LIBRARY, settings, 5, 7, np.arange(14, 17), 4)
    assert np.array_equal(whole.px, np.concatenate([a.px, b.px]))
    assert np.array_equal(info.n_pu, np.concatenate([ia.n_pu, ib.n_pu]))
    other, _ = overlay(flat, LIBRARY, settings, 6, 7, np.arange(11, 17), 4)
    assert not np.array_equal(whole.px, other.px)


def test_poisson_mean_and_branches():
    flat = flat_events([[{"pid": 211, "pt": 10.0, "eta": 0.0, "phi": 0.0}]] * 400)
    out = simulate_flat(flat, generator_columns(400), 1, 7, np.arange(1, 401), 1,
                        DetectorConfig(), PileupInput(LIBRARY, PileupSettings(mu=20.0)))
    n_pu = out.scalars["Pileup_nPU"]
    assert n_pu.mean() == pytest.approx(20, abs=4 * np.sqrt(20 / 400))
    assert n_pu.var() == pytest.approx(20, rel=0.25)  # Poisson
    assert np.all(out.scalars["Pileup_nTrueInt"] == 20)
    assert np.all(out.scalars["PV_npvs"] >= 1) and np.all(out.scalars["PV_npvs"] <= n_pu + 1)
    # MET counts the CHS-removed charged pileup: ΣET grows by nPU x ~8 GeV of tracks on average
    no_pu = simulate_flat(flat, generator_columns(400), 1, 7, np.arange(1, 401), 1,
                          DetectorConfig())
    grown = out.scalars["MET_sumEt"].mean() - no_pu.scalars["MET_sumEt"].mean()
    assert grown > 20 * 8.0


def test_no_pileup_and_mu_zero_give_the_same_events():
    events = _muon_and_pion(0.5, 10)
    flat = flat_events(events)
    a = simulate_flat(flat, generator_columns(10), 1, 7, np.arange(1, 11), 1, DetectorConfig())
    b = simulate_flat(flat, generator_columns(10), 1, 7, np.arange(1, 11), 1, DetectorConfig(),
                      PileupInput(LIBRARY, PileupSettings(mu=0.0)))
    for name, value in a.scalars.items():
        assert np.array_equal(value, b.scalars[name]), name
    for name, (counts, columns) in a.collections.items():
        assert np.array_equal(counts, b.collections[name][0])
        for key, col in columns.items():
            assert np.array_equal(col, b.collections[name][1][key]), (name, key)


def test_a_pileup_muon_is_displaced_in_z_and_not_tight():
    library = _library([([(13, 30.0, 0.2, 1.0, -1)], (0.0, 0.0, 0.0), 10)])
    flat = flat_events([[{"pid": 211, "pt": 10.0, "eta": -1.0, "phi": -2.0}]] * 200)
    out = simulate_flat(flat, generator_columns(200), 1, 7, np.arange(1, 201), 1,
                        DetectorConfig(), PileupInput(library, PileupSettings(mu=1.0)))
    counts, mu = out.collections["Muon"]
    assert counts.sum() > 80
    assert np.all(mu["genPartIdx"] == -1)  # GenPart holds the hard interaction only
    assert np.median(np.abs(mu["dz"])) > 2.0  # cm: another vertex
    assert mu["tightId"].mean() < 0.2


def test_soft_pileup_is_summed_into_cells_that_conserve_momentum():
    soft = [(22, 0.2, 0.30 + 0.01 * k, 0.50 + 0.01 * k, 0) for k in range(6)]
    soft += [(130, 0.3, -2.0, -1.0, 0), (22, 0.45, 4.6, 3.0, 0), (11, 0.3, 0.1, 0.1, -1)]
    library = _library([([*soft, (130, 5.0, 1.0, 1.0, 0)], (0.0, 0.0, 0.0), 5)])
    flat = flat_events([[{"pid": 211, "pt": 10.0, "eta": 0.0, "phi": 0.0}]] * 20)
    merged, info = overlay(flat, library, PileupSettings(mu=2.0), 3, 7, np.arange(1, 21), 4)
    pu, cell = merged.is_pileup, merged.is_cell
    assert np.all(pu[cell]) and not cell[~pu].any()
    # the electron and the 5 GeV hadron stay particles; nothing soft is left as a particle
    particles = pu & ~cell
    assert set(np.abs(merged.pid[particles])) == {11, 130}
    assert np.all((merged.pt[particles] >= 0.5) | (np.abs(merged.pid[particles]) == 11))
    # six photons 0.01 apart share a cell (or two at a boundary): far fewer rows than particles
    n_soft = 8 * info.n_pu
    n_cells = np.bincount(merged.event[cell], minlength=20)
    assert np.all(n_cells <= n_soft) and n_cells.sum() < 0.75 * n_soft.sum()
    assert set(merged.pid[cell]) <= {22, 130}


def test_soft_cells_conserve_each_events_momentum_and_energy():
    rng = np.random.default_rng(4)
    n = 600
    pt, eta, phi = rng.uniform(0.05, 1.0, n), rng.uniform(-4.9, 4.9, n), rng.uniform(-3, 3, n)
    pid = rng.choice([22, 130, 211, 11], n)
    pu = {"pid": pid, "charge": np.where(np.isin(pid, (211, 11)), 1.0, 0.0),
          "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
          "e": pt * np.cosh(eta), "vz": rng.normal(0, 30, n)}
    event = np.sort(rng.integers(0, 5, n))
    out, out_event = soft_cells(pu, event, 5)
    assert np.all(np.diff(out_event) >= 0)  # still grouped by event
    for k in ("px", "py", "pz", "e"):
        assert np.allclose(np.bincount(out_event, out[k], 5), np.bincount(event, pu[k], 5))
    kept = ~out["cell"]
    soft = (pt < 0.5) & (pid != 11)
    assert kept.sum() == (~soft).sum()  # hard particles and electrons untouched
    assert out["cell"].sum() < soft.sum()
    assert np.all(out["charge"][out["cell"]] == 0)
