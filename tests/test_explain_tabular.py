"""Feed-forward (padded object table) models: features in σ units, slots → objects."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventlens.explain import Explainer, ExplainOptions, load_explainable
from eventlens.explain.naming import describe_object, object_kinds, object_names
from eventlens.explain.tabular import sigma_units, slot_objects
from eventlens.models.features import FFN_DEFAULT_SPEC, featurise
from eventlens.training.table import read_table
from eventlens.training.toy import dtw_like_events, write_dtw_like_table
from explain_toys import CLASSES, write_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ffn_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("ffn")
    table = write_dtw_like_table(root / "table", 240, seed=3)
    ckpt = write_checkpoint(root / "best.pt", table, "ffn", {"hidden": [32, 32], "dropout": 0.0})
    return ckpt, table


def test_slots_hold_the_objects_featurise_puts_there():
    ev = dtw_like_events(120, seed=2)
    x = featurise(ev["offsets"], ev["columns"], FFN_DEFAULT_SPEC).reshape(
        120, FFN_DEFAULT_SPEC.n_slots, -1)
    slots = slot_objects(ev["offsets"], ev["columns"], FFN_DEFAULT_SPEC)
    pt = FFN_DEFAULT_SPEC.features.index("pt")
    for i in range(120):
        for s in range(FFN_DEFAULT_SPEC.n_slots):
            obj = slots[i, s]
            if obj < 0:
                assert np.all(x[i, s] == 0)
            else:
                assert x[i, s, pt] == ev["columns"]["pt"][ev["offsets"][i] + obj]


@pytest.mark.parametrize("baseline", ["mean", "empty"])
def test_ffn_ig_features_sigma_and_balance(ffn_checkpoint, baseline):
    ckpt, table_path = ffn_checkpoint
    model = load_explainable(ckpt, threads=1)
    assert model.input_kind == "table" and model.classes == CLASSES
    table = read_table(table_path)
    # ReLU kinks: IG on an MLP converges ~1/n_steps (measured), so more steps than for the CNN.
    explainer = Explainer(model, ExplainOptions(method="ig", n_steps=400, table_baseline=baseline))
    explanations = list(explainer.explain(table, np.arange(4)))
    mean = model.module.standardise.mean.double().numpy()
    std = model.module.standardise.std.double().numpy()
    for ex in explanations:
        f = ex.features
        assert f is not None and len(f.names) == FFN_DEFAULT_SPEC.n_features
        # σ units are the model's own standardisation.
        np.testing.assert_allclose(f.sigma, sigma_units(f.values, mean, std))
        np.testing.assert_allclose(f.sigma, (f.values - mean) / np.where(std < 1e-6, 1, std))
        # Features → slots → objects + empty slots: nothing lost.
        np.testing.assert_allclose(ex.attributions.sum(0) + ex.unassigned,
                                   f.attributions.sum(1), atol=1e-6)
        change = ex.scores - ex.baseline_scores
        assert np.all(np.abs(ex.residual) <= 1e-2 * np.abs(change) + 1e-4), ex.residual
        if baseline == "empty":  # empty slots equal the baseline: they get nothing
            np.testing.assert_allclose(ex.unassigned, 0.0, atol=1e-7)
        ranked = f.ranked(ex.predicted, top=3)
        assert abs(ranked[0]["attribution"]) >= abs(ranked[-1]["attribution"])
        assert "σ" in ex.text()


def test_ffn_object_shapley_is_complete(ffn_checkpoint):
    ckpt, table_path = ffn_checkpoint
    model = load_explainable(ckpt, threads=1)
    table = read_table(table_path)
    explanations = list(Explainer(model, ExplainOptions(method="shapley")).explain(
        table, np.arange(6)))
    for ex in explanations:
        np.testing.assert_allclose(ex.residual, 0.0, atol=1e-9)
        np.testing.assert_allclose(ex.attributions.sum(0), ex.scores - ex.baseline_scores,
                                   atol=1e-9)


def test_names_follow_physics_conventions():
    types = np.array([3, 3, 3, 1, 4, 0])
    btag = np.array([0.9, 0.1, 0.95, 0.0, 0.0, 0.0])
    pt = np.array([40.0, 100.0, 85.0, 30.0, 62.0, 25.0])
    kinds = object_kinds(types, btag, 0.2783)
    assert kinds == ["bjet", "jet", "bjet", "muon", "met", "electron"]
    names = object_names(kinds, pt)
    assert names == ["b-jet 2", "jet 1", "b-jet 1", "muon 1", "MET", "electron 1"]
    assert describe_object("b-jet 1", "bjet", 85.0, 0.4) == "b-jet 1 (pT 85 GeV, η +0.4)"
    assert describe_object("MET", "met", 62.0, 0.0) == "MET (62 GeV)"


def test_ffn_onnx_spec_sigma_and_shapley(ffn_checkpoint, tmp_path):
    """The exported graph explains like the checkpoint: same slot order, σ, object Shapley."""
    from eventlens.export import export_checkpoint

    ckpt, table_path = ffn_checkpoint
    onnx_path = tmp_path / "ffn.onnx"
    export_checkpoint(ckpt, onnx_path, threads=1, check_events=4)
    torch_model = load_explainable(ckpt, threads=1)
    onnx_model = load_explainable(onnx_path, threads=1)
    # The card's slots are a JSON object (sorted keys): the order must come back right.
    assert onnx_model.spec == torch_model.spec
    np.testing.assert_allclose(onnx_model.feature_mean, torch_model.feature_mean)
    table = read_table(table_path)
    rows = np.arange(3)
    a = list(Explainer(torch_model, ExplainOptions(method="shapley")).explain(table, rows))
    b = list(Explainer(onnx_model, ExplainOptions(method="shapley", feature_samples=4)).explain(
        table, rows))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.attributions, y.attributions, atol=1e-5)
        np.testing.assert_allclose(x.features.sigma, y.features.sigma, atol=1e-9)
        assert y.details["feature_method"] == "shapley_sampling"
        # Shapley value sampling per feature is complete too (each order telescopes).
        f = y.features
        np.testing.assert_allclose(f.attributions.sum(1), y.scores - f.baseline_scores,
                                   atol=1e-5)
        np.testing.assert_allclose(f.residual, 0.0, atol=1e-5)
