"""The m_γγ fit module (eventlens.adversarial.bkgfit, .spurious) on seeded toys.

Toy background: a falling exponential in m_γγ (slope −3 on t = (m − 100)/80),
the shape of the diphoton continuum; toy signal: a Gaussian core at 125 GeV
with σ = 1.5 GeV.  Everything is seeded, so each test is deterministic, and
each can fail: a biased fit, wrong weighted uncertainties or a spurious
signal on a smooth spectrum would all show.
"""

from __future__ import annotations

import numpy as np
import pytest

from eventlens.adversarial import bkgfit, spurious
from eventlens.errors import EventLensError

SIGMA_M = 1.5


def toy_background(rng: np.random.Generator, n: int, slope: float = 3.0) -> np.ndarray:
    t = rng.exponential(1.0 / slope, size=4 * n)
    return 100.0 + 80.0 * t[t < 1.0][:n]


def gaussian_signal() -> np.ndarray:
    return bkgfit.bin_fractions(lambda m: np.exp(-0.5 * ((m - 125.0) / SIGMA_M) ** 2),
                                bkgfit.FIT_EDGES)


def test_histogram_weights_and_effective_counts() -> None:
    h = bkgfit.Histogram.of(np.array([101.0, 101.2, 150.0, 200.0]), np.array([2.0, 2.0, 1.0, 5.0]))
    assert h.total == pytest.approx(5.0)  # 200 GeV is outside the window
    assert h.sumw2.sum() == pytest.approx(9.0)
    assert h.n_effective == pytest.approx(25.0 / 9.0)
    with pytest.raises(EventLensError, match="negative"):
        bkgfit.Histogram.of(np.array([120.0]), np.array([-1.0]))


def test_bin_fractions_integrate_the_density() -> None:
    fr = bkgfit.bin_fractions(lambda m: np.exp(-3.0 * (m - 100.0) / 80.0), bkgfit.FIT_EDGES)
    exact = np.diff(-np.exp(-3.0 * (bkgfit.FIT_EDGES - 100.0) / 80.0)) / (1.0 - np.exp(-3.0))
    np.testing.assert_allclose(fr, exact, rtol=1e-10)


def test_signal_shape_fit_recovers_the_peak() -> None:
    rng = np.random.default_rng(3)
    shape = bkgfit.fit_signal_shape(bkgfit.Histogram.of(rng.normal(125.0, SIGMA_M, 8000)))
    assert shape.valid
    assert shape.values["sig_mu"] == pytest.approx(125.0, abs=0.05)
    assert shape.values["sig_sigma"] == pytest.approx(SIGMA_M, rel=0.05)
    assert shape.fractions.sum() == pytest.approx(1.0)


def test_injected_signal_is_recovered_with_correct_pulls() -> None:
    """20 seeded toys (20 000 background events each, weight 0.5, 400 signal events
    injected): the S + B fit with the function chosen on background-only simulation
    recovers the injected yield — mean pull within 2 standard errors of 0, pull width
    within 30 % of 1, at least 17/20 pulls within ±2."""
    rng = np.random.default_rng(11)
    signal = gaussian_signal()
    weight, n_sig = 0.5, 400
    choice = bkgfit.choose_background(
        bkgfit.Histogram.of(toy_background(rng, 100_000), np.full(100_000, weight / 5)))
    shape = bkgfit.shape_by_name(choice.chosen)
    pulls = []
    for _ in range(20):
        m = np.r_[toy_background(rng, 20_000), rng.normal(125.0, SIGMA_M, n_sig)]
        hist = bkgfit.Histogram.of(m, np.full(m.size, weight))
        f = bkgfit.fit_signal_plus_background(hist, signal, shape)
        assert f.valid
        pulls.append((f.values["n_sig"] - weight * n_sig) / f.errors["n_sig"])
    pulls_a = np.array(pulls)
    assert abs(pulls_a.mean()) < 2.0 / np.sqrt(pulls_a.size), pulls_a
    assert 0.7 < pulls_a.std(ddof=1) < 1.3, pulls_a
    assert (np.abs(pulls_a) < 2.0).sum() >= 17, pulls_a


def test_weights_scale_yields_not_precision() -> None:
    """The effective-count likelihood: weights ×3 give yields and errors ×3, the same
    significance of the fitted signal."""
    rng = np.random.default_rng(5)
    m = np.r_[toy_background(rng, 10_000), rng.normal(125.0, SIGMA_M, 300)]
    signal = gaussian_signal()
    f1 = bkgfit.fit_signal_plus_background(bkgfit.Histogram.of(m), signal, bkgfit.Exponential())
    f3 = bkgfit.fit_signal_plus_background(bkgfit.Histogram.of(m, np.full(m.size, 3.0)), signal,
                                           bkgfit.Exponential())
    assert f3.values["n_sig"] == pytest.approx(3 * f1.values["n_sig"], rel=1e-3)
    assert f3.errors["n_sig"] == pytest.approx(3 * f1.errors["n_sig"], rel=1e-3)


def test_unsculpted_background_has_no_spurious_signal() -> None:
    """A smooth background through the whole category chain: S_spur compatible with 0."""
    rng = np.random.default_rng(7)
    n_b, n_s = 60_000, 6000
    sig = spurious.Events(rng.uniform(size=n_s), rng.normal(125.0, SIGMA_M, n_s),
                          np.full(n_s, 0.1))
    m_b = toy_background(rng, n_b)
    bkg = spurious.Events(rng.uniform(size=n_b), m_b, np.full(n_b, 2.0))
    fits = spurious.run_fit(sig, bkg, efficiencies=(0.5,))
    wp = fits["working_points"]["0.5"]
    assert abs(wp["spurious_signal"]) < 2.0 * wp["spurious_signal_mc_error"], wp
    assert wp["expected_significance"] <= wp["expected_significance_no_systematic"]
    assert fits["best"] == "0.5"


def test_sculpted_background_gives_a_spurious_signal() -> None:
    """A cut that enriches background near 125 GeV (a 4 GeV-wide bump, 3 % of the
    category) must give a significant, failing spurious signal: the test can fail."""
    rng = np.random.default_rng(8)
    n_b, n_s = 60_000, 6000
    sig = spurious.Events(rng.uniform(size=n_s), rng.normal(125.0, SIGMA_M, n_s),
                          np.full(n_s, 0.1))
    m_b = np.r_[toy_background(rng, n_b), rng.normal(125.0, 4.0, 1800)]
    score = np.r_[rng.uniform(size=n_b), rng.uniform(0.5, 1.0, 1800)]
    bkg = spurious.Events(score, m_b, np.full(m_b.size, 2.0))
    wp = spurious.run_fit(sig, bkg, efficiencies=(0.5,))["working_points"]["0.5"]
    assert wp["spurious_signal"] > 5.0 * wp["spurious_signal_mc_error"], wp
    assert wp["spurious_verdict"] == "fail"
    assert not wp["passes_spurious_criterion"]


def test_asimov_significance_matches_the_counting_limit() -> None:
    """Without profiling freedom beyond a fixed-shape background, Z is the binned
    Asimov formula; the spurious-signal systematic lowers it as S/√(σ² + S_spur²)."""
    signal = gaussian_signal()
    shape = bkgfit.Exponential()
    b_total, s_exp = 50_000.0, 400.0
    bkg_fit = bkgfit.Fit(values={"n_bkg": b_total, "bkg_a": -3.0}, errors={}, cost=0.0,
                         n_free=2, n_bins=160, valid=True, shapes={"bkg": "exponential"})
    b = b_total * bkgfit.bin_fractions(lambda m: shape.density(m, -3.0), bkgfit.FIT_EDGES)
    s = s_exp * signal
    z_formula = np.sqrt(2 * np.sum((s + b) * np.log1p(s / b) - s))
    z = bkgfit.asimov_significance(s_exp, b, signal, shape, bkg_fit)["z"]
    assert 0.9 * z_formula < z <= z_formula * 1.001
    sigma = bkgfit.expected_signal_error(b, signal, shape, bkg_fit)
    assert z == pytest.approx(s_exp / sigma, rel=0.05)
    spur = sigma  # a systematic as large as the statistical error: Z / √2
    z_syst = bkgfit.asimov_significance(s_exp, b, signal, shape, bkg_fit, spurious=spur)["z"]
    assert z_syst == pytest.approx(z / np.sqrt(2.0), rel=0.05)


def test_verdict_uses_the_mc_band() -> None:
    assert spurious.verdict(1.0, 1.0, 10.0) == "pass"
    assert spurious.verdict(-20.0, 2.0, 10.0) == "fail"
    assert spurious.verdict(9.0, 2.0, 10.0) == "undecided"


def test_sample_agreement_sees_a_different_spectrum() -> None:
    """Two samples of one spectrum agree (χ² p-value not tiny, small pulls); a sample
    with a bump at 125 GeV is flagged in the window fraction and the shape χ²."""
    rng = np.random.default_rng(9)
    a = spurious.Events(rng.uniform(size=40_000), toy_background(rng, 40_000),
                        np.full(40_000, 0.5))
    b = spurious.Events(rng.uniform(size=4000), toy_background(rng, 4000), np.full(4000, 5.0))
    same = spurious.sample_agreement(a, b, {"0.5": 0.5})["cuts"]
    assert same["none"]["shape"]["p_value"] > 0.001
    assert abs(same["0.5"]["window_fraction"]["pull"]) < 3
    assert same["none"]["eps_b"]["fit_sample"] == pytest.approx(1.0)
    assert same["0.5"]["eps_b"]["pull"] is not None and abs(same["0.5"]["eps_b"]["pull"]) < 3
    m_c = np.r_[toy_background(rng, 4000), rng.normal(125.0, 3.0, 400)]
    c = spurious.Events(rng.uniform(size=m_c.size), m_c, np.full(m_c.size, 5.0))
    other = spurious.sample_agreement(a, c, {"0.5": 0.5})["cuts"]
    assert other["none"]["window_fraction"]["pull"] < -5
    assert other["none"]["shape"]["p_value"] < 1e-6


def test_agreement_with_an_empty_passing_sample_has_a_finite_pull() -> None:
    """No test events pass a tight cut: the pooled error still gives a finite pull."""
    rng = np.random.default_rng(10)
    a = spurious.Events(rng.uniform(size=20_000), toy_background(rng, 20_000),
                        np.full(20_000, 1.0))
    b = spurious.Events(rng.uniform(size=200), toy_background(rng, 200), np.full(200, 100.0))
    cut = float(np.sort(b.score)[-1])  # nothing of b passes, 0.0x % of a does
    eps = spurious.sample_agreement(a, b, {"tight": cut})["cuts"]["tight"]["eps_b"]
    assert eps["test_split"] == 0.0
    assert eps["pull"] is not None and abs(eps["pull"]) < 3


def _vanishing_at_100(rng: np.random.Generator, n: int) -> np.ndarray:
    """A spectrum ∝ t²·exp(−4t): zero at 100 GeV, like a cut that removes low masses."""
    t = rng.gamma(3.0, 1.0 / 4.0, size=4 * n)
    return 100.0 + 80.0 * t[t < 1.0][:n]


def test_higher_bernstein_orders_never_fit_worse() -> None:
    """Degree elevation starts order n+1 at order n's minimum: the F-test's 2ΔNLL ≥ 0,
    also for a spectrum that vanishes at the low edge (where c_0 = 0)."""
    rng = np.random.default_rng(12)
    choice = bkgfit.choose_background(bkgfit.Histogram.of(_vanishing_at_100(rng, 20_000)))
    for step in choice.ftest:
        assert step["two_delta_nll"] >= -1e-6, choice.ftest
    for order in bkgfit.BERNSTEIN_ORDERS:
        values = choice.fits[f"bernstein_{order}"].values
        coefficients = [values[f"bkg_c{k}"] for k in range(order + 1)]
        assert max(coefficients) == pytest.approx(1.0, rel=0.5)  # anchored at the peak
        assert min(coefficients) >= 0.0


def test_errors_do_not_depend_on_round_off() -> None:
    """A 1e-12 relative change of every weight moves the fitted signal's uncertainty (on
    the simulation and for Asimov data) by < 0.5 %: profile-likelihood errors, not
    Hesse's at a bound."""
    rng = np.random.default_rng(13)
    m = _vanishing_at_100(rng, 20_000)
    signal = gaussian_signal()
    out = []
    for mult in (1.0, 1.0 + 1e-12):
        hist = bkgfit.Histogram.of(m, np.full(m.size, 2.0 * mult))
        choice = bkgfit.choose_background(hist)
        shape = bkgfit.shape_by_name(choice.chosen)
        b_fit = choice.fits[choice.chosen]
        f = bkgfit.fit_signal_plus_background(hist, signal, shape, b_fit)
        b = bkgfit.expected_bins(b_fit, hist.edges, {"bkg": shape})
        out.append((f.errors["n_sig"], bkgfit.expected_signal_error(b, signal, shape, b_fit)))
    assert out[1][0] == pytest.approx(out[0][0], rel=5e-3)
    assert out[1][1] == pytest.approx(out[0][1], rel=5e-3)
