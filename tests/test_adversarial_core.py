"""Adversarial decorrelation (eventlens.adversarial): gradient reversal, posterior, metrics.

Fast unit tests on tensors and arrays; the end-to-end runs are in
test_adversarial_training.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from eventlens.adversarial.core import joint_step, scale_mass, signal_score
from eventlens.adversarial.grl import reverse_gradient
from eventlens.adversarial.posterior import MixtureAdversary, mixture_log_prob, weighted_nll
from eventlens.adversarial.sculpting import (
    distance_correlation,
    jensen_shannon,
    passing_fraction,
    sculpting_report,
    shape,
    threshold_at_efficiency,
)


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _classifier_grads(lam: float | None) -> list[torch.Tensor]:
    """Gradient of the adversary's loss w.r.t. the classifier, through (or without) reversal."""
    torch.manual_seed(0)
    clf = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    adv = MixtureAdversary(1, (16,), 3)
    x = torch.randn(32, 4)
    m01 = torch.rand(32)
    d = signal_score(clf(x), 1)
    if lam is not None:
        d = reverse_gradient(d, lam)
    weighted_nll(adv.log_prob(d, m01)).backward()
    return [p.grad.clone() for p in clf.parameters()]


def test_gradient_reversal_flips_the_classifier_gradient():
    plain = _classifier_grads(None)
    assert all(g.abs().sum() > 0 for g in plain)
    for lam in (1.0, 2.5):
        reversed_ = _classifier_grads(lam)
        for g, r in zip(plain, reversed_, strict=True):
            torch.testing.assert_close(r, -lam * g, rtol=1e-5, atol=1e-7)
            assert (torch.sign(r[g.abs() > 1e-9]) == -torch.sign(g[g.abs() > 1e-9])).all()
    assert all((g == 0).all() for g in _classifier_grads(0.0))


def test_reversal_is_identity_forward_and_rejects_negative_lambda():
    x = torch.randn(5, requires_grad=True)
    assert torch.equal(reverse_gradient(x, 3.0), x)
    with pytest.raises(ValueError, match="lambda"):
        reverse_gradient(x, -1.0)


def test_joint_step_gives_classifier_clf_minus_lambda_adv_and_adversary_adv():
    """A joint step moves the classifier along ∇(L_clf − λ L_adv), the adversary along ∇L_adv."""
    torch.manual_seed(1)
    clf = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2))
    adv = MixtureAdversary(1, (8,), 2)
    x, y, m01 = torch.randn(40, 3), torch.randint(0, 2, (40,)), torch.rand(40)
    w = torch.ones(40)
    lam = 2.0
    bkg = y == 0
    # Reference gradients, computed without reversal.
    logits = clf(x)
    l_clf = nn.functional.cross_entropy(logits, y)
    l_adv = weighted_nll(adv.log_prob(signal_score(logits, 1)[bkg], m01[bkg]), w[bkg])
    g_clf = torch.autograd.grad(l_clf, list(clf.parameters()), retain_graph=True)
    g_adv_c = torch.autograd.grad(l_adv, list(clf.parameters()), retain_graph=True)
    g_adv_a = torch.autograd.grad(l_adv, list(adv.parameters()))
    expect_c = [a - lam * b for a, b in zip(g_clf, g_adv_c, strict=True)]

    seen: dict[str, list[torch.Tensor]] = {}

    class Spy(torch.optim.SGD):
        def __init__(self, params: object, key: str) -> None:
            super().__init__(params, lr=0.0)
            self.key = key

        def step(self, closure: object = None) -> None:
            seen[self.key] = [p.grad.clone() for g in self.param_groups for p in g["params"]]

    joint_step(clf, adv, Spy(clf.parameters(), "clf"), Spy(adv.parameters(), "adv"), x, y, m01,
               w, lam, signal_index=1)
    for got, want in zip(seen["clf"], expect_c, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    for got, want in zip(seen["adv"], g_adv_a, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


def test_mixture_posterior_is_normalised_on_the_unit_interval():
    torch.manual_seed(2)
    adv = MixtureAdversary(1, (16, 8), 5)
    grid = torch.linspace(0, 1, 20001)
    for d in (0.05, 0.5, 0.93):
        with torch.no_grad():
            p = torch.exp(adv.log_prob(torch.full((grid.numel(),), d), grid))
        integral = float(torch.trapezoid(p, grid))
        assert integral == pytest.approx(1.0, abs=2e-3)


def test_mixture_log_prob_matches_a_truncated_gaussian():
    mean, width = torch.tensor([[0.3]]), torch.tensor([[0.2]])
    m = torch.tensor([0.45])
    z = (0.45 - 0.3) / 0.2
    norm = 0.5 * (math.erf((1 - 0.3) / 0.2 / math.sqrt(2)) - math.erf(-0.3 / 0.2 / math.sqrt(2)))
    expect = -0.5 * z * z - math.log(0.2 * math.sqrt(2 * math.pi)) - math.log(norm)
    got = float(mixture_log_prob(torch.zeros(1, 1), mean, width, m))
    assert got == pytest.approx(expect, rel=1e-5)


def test_scale_mass_maps_the_window_to_unit_interval():
    m = torch.tensor([100.0, 140.0, 180.0])
    torch.testing.assert_close(scale_mass(m, (100.0, 180.0)), torch.tensor([0.0, 0.5, 1.0]))


# ---- metrics ----------------------------------------------------------------
def test_jsd_of_known_distributions():
    assert jensen_shannon([0.2, 0.3, 0.5], [2, 3, 5]) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint: 1 bit
    # p = (1, 0), q = (½, ½): m = (¾, ¼); ½·log2(4/3) + ½·(½·log2(2/3) + ½·log2 2)
    expect = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5)
    assert jensen_shannon([1, 0], [0.5, 0.5]) == pytest.approx(expect, rel=1e-12)
    p, q = np.array([0.1, 0.4, 0.5]), np.array([0.3, 0.3, 0.4])
    assert jensen_shannon(p, q) == pytest.approx(jensen_shannon(q, p))
    scipy_distance = pytest.importorskip("scipy.spatial.distance")
    assert jensen_shannon(p, q) == pytest.approx(scipy_distance.jensenshannon(p, q, base=2) ** 2)


def test_jsd_rejects_bad_input():
    with pytest.raises(ValueError, match="shapes"):
        jensen_shannon([1, 0], [1, 0, 0])
    with pytest.raises(ValueError, match="empty"):
        jensen_shannon([0, 0], [1, 0])
    with pytest.raises(ValueError, match="negative"):
        jensen_shannon([-1, 2], [1, 0])


def test_threshold_gives_the_requested_signal_efficiency():
    rng = np.random.default_rng(0)
    s = rng.random(10_000)
    for eff in (0.5, 0.3, 0.1):
        cut = threshold_at_efficiency(s, None, eff)
        assert passing_fraction(s, None, cut) == pytest.approx(eff, abs=1e-4)
    w = np.where(s > 0.5, 3.0, 1.0)  # weights count
    cut = threshold_at_efficiency(s, w, 0.5)
    assert passing_fraction(s, w, cut) == pytest.approx(0.5, abs=1e-3)
    ties = np.array([0.9, 0.9, 0.9, 0.1])
    assert passing_fraction(ties, None, threshold_at_efficiency(ties, None, 0.5)) == 0.75


def test_distance_correlation_sees_a_peak_pearson_misses():
    rng = np.random.default_rng(1)
    m = rng.uniform(-1, 1, 3000)
    peaked = np.exp(-(m**2) / 0.05)  # symmetric: Pearson ≈ 0
    assert abs(np.corrcoef(m, peaked)[0, 1]) < 0.05
    assert distance_correlation(m, peaked) > 0.3
    assert distance_correlation(m, rng.random(3000)) < 0.06


def test_sculpting_report_sees_a_mass_cut_and_not_a_random_cut():
    rng = np.random.default_rng(2)
    n = 20_000
    sig = np.arange(n) < n // 2
    mass = np.where(sig, rng.normal(125, 2, n), 100 + rng.exponential(30, n))
    mass = np.clip(mass, 100, 179.9)
    sculpting = np.exp(-((mass - 125) ** 2) / 50) + 0.1 * rng.random(n)
    blind = np.where(sig, rng.normal(1, 1, n), rng.normal(-1, 1, n))
    a = sculpting_report(sculpting, sig, mass)
    b = sculpting_report(blind, sig, mass)
    assert a["working_points"]["0.5"]["jsd"] > 10 * b["working_points"]["0.5"]["jsd"]
    wp = b["working_points"]["0.5"]
    assert wp["eps_s"] == pytest.approx(0.5, abs=1e-3)
    assert wp["background_rejection"] == pytest.approx(1 / wp["eps_b"])
    assert wp["jsd"] < 3 * wp["jsd_random_cut"]  # a mass-blind cut sits at the statistical floor
    assert 0.5 < b["auc"] < 1.0
    assert shape(mass, None).sum() == pytest.approx(1.0)


def test_adversary_input_is_the_probability_or_its_log_odds():
    from eventlens.adversarial.core import adversary_input

    logits = torch.tensor([[0.3, -1.2, 2.0], [4.0, 0.0, -3.0]])
    p = torch.softmax(logits, dim=1)[:, 2]
    torch.testing.assert_close(adversary_input(logits, 2, "probability"), p)
    torch.testing.assert_close(adversary_input(logits, 2, "logit"), torch.log(p / (1 - p)))
    two = torch.tensor([[0.5, 30.0]])  # saturated: D = 1 − 1e-13, the log-odds stay finite
    assert float(adversary_input(two, 1, "logit")) == pytest.approx(29.5, rel=1e-5)
    with pytest.raises(ValueError, match="probability or logit"):
        adversary_input(logits, 2, "odds")
