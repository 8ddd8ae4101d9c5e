"""The m_γγ-only reference of the hgg study (eventlens.adversarial.sculpting), on synthetic data.

Signal: a Gaussian at 125 GeV; background: flat in 100–180 GeV.  The likelihood
ratio is then a decreasing function of |m - 125|, so with 1 GeV bins its AUC is
P(background shell further out) + ½ P(same shell) = 1 - (2 E[⌊|X|⌋] + 1)/80,
X ~ N(0, σ) (shells |m - 125| in [k, k+1) hold 2/80 of the background each).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from eventlens.adversarial.sculpting import (
    MASS_RATIO_BINS,
    mass_likelihood_ratio,
    mass_only_auc,
    mass_reference,
    sculpting_report,
    window_auc,
)
from eventlens.training.metrics import roc_auc

SIGMA = 2.0


def _peak_on_flat(n_sig: int = 20_000, n_bkg: int = 40_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    mass = np.r_[rng.normal(125.0, SIGMA, n_sig), rng.uniform(100.0, 180.0, n_bkg)]
    sig = np.r_[np.ones(n_sig, bool), np.zeros(n_bkg, bool)]
    weight = np.where(sig, 0.0005, 0.35)  # physics-like weights: constant per class
    return mass, sig, weight


def _expected_binned_auc(sigma: float) -> float:
    mean_floor = sum(math.erfc(k / (sigma * math.sqrt(2.0))) for k in range(1, 40))
    return 1.0 - (2.0 * mean_floor + 1.0) / 80.0


def test_mass_only_auc_of_a_peak_on_a_flat_background_is_the_hand_computed_value():
    mass, sig, weight = _peak_on_flat()
    expected = _expected_binned_auc(SIGMA)  # 0.9593 for σ = 2 GeV
    assert expected == pytest.approx(0.9593, abs=5e-4)
    auc = mass_only_auc(mass, sig, weight)
    assert auc == pytest.approx(expected, abs=0.004)
    # constant per-class weights do not change it; the continuous |m - 125| cut is as good
    assert mass_only_auc(mass, sig, None) == pytest.approx(auc, abs=1e-9)
    distance = roc_auc(-np.abs(mass - 125.0), sig, weight)
    assert distance == pytest.approx(1.0 - SIGMA * math.sqrt(2.0 / math.pi) / 40.0, abs=0.004)
    assert abs(auc - distance) < 0.004


def test_identical_shapes_give_one_half():
    rng = np.random.default_rng(1)
    mass = rng.uniform(100.0, 180.0, 5_000)
    both = np.r_[mass, mass]
    sig = np.r_[np.ones(mass.size, bool), np.zeros(mass.size, bool)]
    assert mass_only_auc(both, sig) == pytest.approx(0.5, abs=1e-12)
    # independent samples of one shape: above 0.5 only by the in-sample fluctuation
    # of the 80 bins' ratios, which shrinks with the sample (~1/sqrt(events per bin))
    for n, excess in ((5_000, 0.08), (100_000, 0.02)):
        two = rng.uniform(100.0, 180.0, 2 * n)
        is_sig = np.r_[np.ones(n, bool), np.zeros(n, bool)]
        assert 0.5 <= mass_only_auc(two, is_sig) < 0.5 + excess


def test_likelihood_ratio_per_event_and_out_of_range_events():
    mass = np.array([100.0, 100.5, 101.5, 179.9, 180.0, 99.0, 181.0])
    sig = np.array([True, True, False, False, True, True, False])
    ratio = mass_likelihood_ratio(mass, sig, bins=np.array([100.0, 101.0, 102.0, 180.0]))
    # bins: [100, 101) 2 sig / 0 bkg -> inf; [101, 102) 0 / 1 -> 0; [102, 180] 1/3 over 1/2
    np.testing.assert_allclose(ratio, [np.inf, np.inf, 0.0, 2 / 3, 2 / 3, -1.0, -1.0])
    with pytest.raises(ValueError):
        mass_likelihood_ratio(mass, np.zeros(mass.size, bool))


def test_windows_keep_little_mass_information_and_match_the_report():
    mass, sig, weight = _peak_on_flat()
    ref = mass_reference(mass, sig, weight)
    assert ref["auc_mass_only"] == pytest.approx(mass_only_auc(mass, sig, weight, MASS_RATIO_BINS))
    wide, narrow = ref["windows"]["120-130"], ref["windows"]["124-126"]
    assert ref["auc_mass_only"] > wide["auc_mass_only"] > narrow["auc_mass_only"] > 0.5
    assert narrow["auc_mass_only"] < 0.6  # σ = 2 GeV: flat-ish inside ±1 GeV
    assert wide["signal_fraction"] == pytest.approx(0.9876, abs=0.005)  # P(|X| <= 2.5σ)
    assert wide["n_background"] + wide["n_signal"] == int(((mass >= 120) & (mass <= 130)).sum())
    # a score that knows only the mass has the window's mass-only separation there
    score = mass_likelihood_ratio(mass, sig, weight)
    report = sculpting_report(score, sig, mass, weight)
    assert report["auc"] == pytest.approx(ref["auc_mass_only"])
    assert report["auc_mass_windows"]["120-130"] == report["auc_signal_window"]
    assert report["auc_signal_window"] == window_auc(score, sig, mass, weight, (120.0, 130.0))
    # a mass-blind score: 0.5 everywhere, whatever the window
    blind = np.random.default_rng(2).random(mass.size)
    for key, auc in sculpting_report(blind, sig, mass, weight)["auc_mass_windows"].items():
        assert auc == pytest.approx(0.5, abs=0.05), key


def test_study_reuses_a_run_stored_with_the_old_table_spec_spelling(tmp_path, monkeypatch):
    """Runs saved when TableSpec.to_dict wrote ``slots`` as a mapping stay reusable;
    a real configuration change still is not."""
    from pathlib import Path

    from eventlens.adversarial import study
    from eventlens.adversarial.config import load

    repo = Path(__file__).resolve().parents[1]
    train, adv = load(repo / "configs/train/hgg_ann.yaml")
    stored = train.to_dict()
    stored["features"]["slots"] = {k: n for k, n in stored["features"]["slots"]}
    for name in ("best.pt", "test_predictions.npz"):
        (tmp_path / name).write_bytes(b"")
    ckpt = {"config": stored, "adversary": adv.to_dict(), "finished": True}
    monkeypatch.setattr(study, "load_checkpoint", lambda path: ckpt)
    assert study._same_run(tmp_path, train, adv)
    assert not study._same_run(tmp_path, train.replace(seed=train.seed + 1), adv)
    assert not study._same_run(tmp_path, train, adv.replace(lam=adv.lam + 1))
