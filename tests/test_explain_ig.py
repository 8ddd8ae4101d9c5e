"""Integrated Gradients on image models, and the pixel → object bookkeeping.

Tolerance stated here and in docs/explain.md: with n_steps = 200
(Gauss–Legendre), |Σ attributions − (f(x) − f(baseline))| ≤ 1e-2 · |f(x) −
f(baseline)| + 1e-4 per event and class (the absolute 1e-4 covers classes whose
score barely moves).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventlens.explain import Explainer, ExplainOptions
from eventlens.explain.gradients import integrated_gradients
from eventlens.explain.pixels import object_index_maps, object_sums
from eventlens.render import RenderConfig
from eventlens.render.batch import render_flat
from explain_toys import SMALL, OneChannel, busy_events, image_model, small_cnn

torch.set_num_threads(1)

REL_TOL, ABS_TOL = 1e-2, 1e-4


def test_ig_completeness_small_cnn():
    model = image_model(small_cnn())
    flat = busy_events()
    x = model.inputs(flat)
    r = integrated_gradients(model, x, model.baseline(), n_steps=200)
    change = r.scores - r.baseline_scores[None, :]
    assert np.abs(change).max() > 0.1  # the test is not trivial: the scores do move
    total = r.attributions.reshape(*r.attributions.shape[:2], -1).sum(-1)
    # captum's delta is exactly the completeness residual …
    np.testing.assert_allclose(total - change, r.delta, atol=1e-5)
    # … and it is within the stated tolerance.
    assert (np.abs(r.delta) <= REL_TOL * np.abs(change) + ABS_TOL).all(), r.delta


@pytest.mark.parametrize("score", ["probability", "logit"])
def test_ig_books_balance_per_object(score):
    """Σ objects + unassigned = f(x) − f(b) + residual; unlit pixels get nothing."""
    model = image_model(small_cnn(), score=score)
    flat = busy_events()
    explanations = Explainer(model, ExplainOptions(method="ig", n_steps=32)).explain_flat(
        flat, [{"label": "ttbar"}] * flat.n_events)
    for ex in explanations:
        lhs = ex.attributions.sum(0) + ex.unassigned
        np.testing.assert_allclose(lhs, ex.scores - ex.baseline_scores + ex.residual, atol=1e-5)
        np.testing.assert_allclose(ex.unassigned, 0.0, atol=1e-7)
    # The jet outside the canvas is not drawn, gets nothing, and is not ranked.
    last = explanations[-1]
    assert not last.in_input[0] and np.all(last.attributions[0] == 0)
    assert [r["name"] for r in last.ranking(0)] == ["MET"]


@pytest.mark.parametrize("channel", ["bjet", "met", "muon"])
def test_one_channel_model_attributes_only_that_kind(channel):
    config = SMALL
    model = image_model(OneChannel(config.channels.index(channel), config.n_channels))
    flat = busy_events()
    for method in ("ig", "shapley"):
        explanations = Explainer(model, ExplainOptions(method=method, n_steps=32)).explain_flat(
            flat, [{"label": None}] * flat.n_events)
        seen_kind = False
        for ex in explanations:
            for i, kind in enumerate(ex.kinds):
                if kind == channel and ex.in_input[i]:
                    seen_kind = True
                else:
                    assert np.all(ex.attributions[i] == 0.0), (method, ex.descriptions[i])
            np.testing.assert_allclose(ex.unassigned, 0.0, atol=1e-7)
        assert seen_kind
        # And that kind carries the whole score change (up to IG's residual).
        for ex in explanations:
            own = sum(ex.attributions[i] for i, k in enumerate(ex.kinds) if k == channel)
            np.testing.assert_allclose(own, ex.scores - ex.baseline_scores + ex.residual,
                                       atol=1e-5)


@pytest.mark.parametrize("overlap", ["max", "add", "over"])
def test_every_lit_pixel_has_exactly_one_owner(overlap):
    config = RenderConfig(height=32, width=32, overlap=overlap)
    flat = busy_events()
    images = render_flat(flat, config)[0]
    index = object_index_maps(flat, config)
    # Every lit pixel has an owner (one per pixel, by construction of the map) and nobody
    # owns an unlit pixel — except with "over", where an object also owns the pixels of
    # other channels it paints back to 0 (it did change them: it erased what was there).
    assert np.all(index[images > 0] > 0)
    if overlap != "over":
        np.testing.assert_array_equal(images > 0, index > 0)
    rng = np.random.default_rng(1)
    for e in range(flat.n_events):
        n = int(flat.offsets[e + 1] - flat.offsets[e])
        attr = rng.normal(size=(3, *config.shape))
        per_object, unassigned, n_pixels = object_sums(attr, index[e], n)
        np.testing.assert_allclose(per_object.sum(0) + unassigned,
                                   attr.reshape(3, -1).sum(1), rtol=1e-12, atol=1e-12)
        assert n_pixels.sum() == int((index[e] > 0).sum())
        # Unassigned is exactly the unlit pixels' sum.
        np.testing.assert_allclose(unassigned, (attr * (index[e] == 0)).reshape(3, -1).sum(1),
                                   atol=1e-12)


def test_overlap_owner_is_the_object_drawn_last():
    """Two identical outlines in one channel: the later object owns every shared pixel."""
    from explain_toys import JET, flat_events

    flat = flat_events([[(JET, 50, 0.0, 0.0, 0.0), (JET, 50, 0.0, 0.0, 0.0)]])
    index = object_index_maps(flat, SMALL)
    assert set(np.unique(index[0])) == {0, 2}


def test_seed_rgb_baseline_is_white():
    config = RenderConfig.seed_rgb(height=32, width=32, radius_scale=1.5)
    model = image_model(OneChannel(0, 3), config)
    base = model.baseline()
    assert base.shape == config.shape and np.all(base == 1.0)
    ex = Explainer(model, ExplainOptions(method="ig", n_steps=32)).explain_flat(
        busy_events(), [{"label": None}] * 4)[0]
    np.testing.assert_allclose(ex.unassigned, 0.0, atol=1e-7)
