"""The parametric detector on hand-made generator events (no Pythia): MET of lost muons,
fake photons from π⁰ systems, pileup overlay.  Expectations are computed by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from generate_toys import flat_events, generator_columns

from eventlens.generate.config import DetectorConfig, MuonConfig
from eventlens.generate.detector import simulate_flat


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
