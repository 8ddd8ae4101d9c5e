"""Object Shapley values and occlusion: remove objects, redraw, re-score."""

from __future__ import annotations

import numpy as np
import torch

from eventlens.explain import Explainer, ExplainOptions
from eventlens.explain.removal import object_occlusion, object_shapley, subset_events
from explain_toys import busy_events, image_model, small_cnn

torch.set_num_threads(1)


def _event(flat, e):
    lo, hi = int(flat.offsets[e]), int(flat.offsets[e + 1])
    return {k: v[lo:hi] for k, v in flat.columns.items()}


def test_subset_events_keep_order():
    cols = _event(busy_events(), 0)
    masks = np.array([[True, False, True, True, False, True], [False] * 6])
    sub = subset_events(cols, masks)
    assert sub.offsets.tolist() == [0, 4, 4]
    np.testing.assert_array_equal(sub.columns["pt"], cols["pt"][[0, 2, 3, 5]])


def test_exact_shapley_is_complete_and_sampled_agrees():
    model = image_model(small_cnn())
    cols = _event(busy_events(), 0)
    players = np.arange(len(cols["pt"]))
    exact = object_shapley(model, cols, players, max_exact=10)
    assert exact.exact and exact.evaluations == 2 ** len(players)
    np.testing.assert_allclose(exact.attributions.sum(0), exact.scores - exact.empty_scores,
                               atol=1e-12)
    sampled = object_shapley(model, cols, players, max_exact=0, n_permutations=200,
                             rng=np.random.default_rng(0))
    assert not sampled.exact
    # Every sampled order telescopes: complete to rounding, whatever the sample.
    np.testing.assert_allclose(sampled.residual, 0.0, atol=1e-12)
    # Deterministic (seeded), and close to the exact values.
    assert np.abs(sampled.attributions - exact.attributions).max() < 0.05


def test_empty_coalition_is_the_empty_image():
    model = image_model(small_cnn())
    cols = _event(busy_events(), 1)
    r = object_shapley(model, cols, np.arange(len(cols["pt"])))
    empty = model.predict(model.baseline()[None])[0]
    np.testing.assert_allclose(r.empty_scores, empty, atol=1e-6)


def test_occlusion_is_leave_one_out():
    model = image_model(small_cnn())
    cols = _event(busy_events(), 2)
    n = len(cols["pt"])
    r = object_occlusion(model, cols, np.arange(n))
    for i in range(n):
        keep = np.ones((1, n), dtype=bool)
        keep[0, i] = False
        without = model.predict(model.inputs(subset_events(cols, keep)))[0]
        # float32 convolutions differ by ~1e-7 between batch sizes
        np.testing.assert_allclose(r.attributions[i], r.scores - without, atol=1e-6)
    np.testing.assert_allclose(r.residual,
                               r.attributions.sum(0) - (r.scores - r.empty_scores), atol=1e-12)


def test_shapley_and_ig_agree_on_the_sign_of_big_contributions():
    """Two different methods, one story: where an object matters a lot, same direction."""
    model = image_model(small_cnn())
    flat = busy_events()
    ids = [{"label": None}] * flat.n_events
    ig = Explainer(model, ExplainOptions(method="ig", n_steps=64)).explain_flat(flat, ids)
    sh = Explainer(model, ExplainOptions(method="shapley")).explain_flat(flat, ids)
    for a, b in zip(ig, sh, strict=True):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
        big = np.abs(b.attributions) > 0.1
        assert np.all(np.sign(a.attributions[big]) == np.sign(b.attributions[big]))
