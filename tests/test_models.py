"""The model registry, the compact CNN's geometry and the padded object table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventlens.models import MODEL_NAMES, build_model, model_info
from eventlens.models.features import TableSpec, featurise
from eventlens.objects import ObjectType
from train_helpers import TINY_PARAMS


def test_registry_lists_every_required_model():
    assert set(MODEL_NAMES) >= {
        "compact_cnn",
        "resnet50",
        "densenet121",
        "inception_v3",
        "mobilenet_v2",
        "ffn",
        "hgg_fcn",
    }
    kinds = {name: model_info(name).input_kind for name in MODEL_NAMES}
    assert kinds["ffn"] == kinds["hgg_fcn"] == "table"
    assert {kinds[n] for n in MODEL_NAMES if n not in ("ffn", "hgg_fcn")} == {"image"}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_build_for_any_channels_and_classes(name):
    torch.manual_seed(0)
    if model_info(name).input_kind == "image":
        shape: tuple[int, ...] = (5, 32, 32)
    else:
        shape = (model_info(name).default_table_spec.n_features,)
    params = TINY_PARAMS.get(name, {})  # a small model needs no tiny variant
    model = build_model(name, input_shape=shape, n_classes=4, params=params).eval()
    with torch.no_grad():
        out = model(torch.rand(2, *shape))
    assert out.shape == (2, 4)
    assert torch.isfinite(out).all()


def test_registry_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match=r"unknown model 'vgg'.*compact_cnn"):
        build_model("vgg", input_shape=(6, 32, 32), n_classes=2)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['depth'\]"):
        build_model("compact_cnn", input_shape=(6, 32, 32), n_classes=2, params={"depth": 3})
    with pytest.raises(ValueError, match="takes image input"):
        build_model("resnet50", input_shape=(78,), n_classes=2)


def test_compact_cnn_is_small_enough_to_ship():
    model = build_model("compact_cnn", input_shape=(6, 64, 64), n_classes=5)
    size_mb = sum(p.numel() for p in model.parameters()) * 4 / 1e6
    assert size_mb < 5.0


def test_compact_cnn_sees_phi_as_a_circle():
    """Rolling the image along φ by a multiple of the total pooling stride (8) leaves the
    output unchanged: the convolutions pad circularly in φ.  Rolling along η does not."""
    torch.manual_seed(1)
    model = build_model("compact_cnn", input_shape=(3, 32, 32), n_classes=3).eval()
    x = (torch.rand(4, 3, 32, 32) > 0.9).float()
    with torch.no_grad():
        ref = model(x)
        rolled_phi = model(torch.roll(x, shifts=8, dims=2))
        rolled_eta = model(torch.roll(x, shifts=8, dims=3))
    torch.testing.assert_close(rolled_phi, ref, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(rolled_eta, ref, atol=1e-3)


def test_stem_adapts_to_small_canvases():
    from eventlens.models.vision import _stem_stride

    assert _stem_stride("auto", 224, 224) == 4
    assert _stem_stride("auto", 64, 64) == 2
    assert _stem_stride("auto", 32, 32) == 1
    small = build_model(
        "resnet50", input_shape=(6, 32, 32), n_classes=2, params=TINY_PARAMS["resnet50"]
    )
    assert isinstance(small.maxpool, torch.nn.Identity) and small.conv1.stride == (1, 1)
    big = build_model(
        "resnet50", input_shape=(3, 224, 224), n_classes=2, params=TINY_PARAMS["resnet50"]
    )
    assert big.conv1.kernel_size == (7, 7) and not isinstance(big.maxpool, torch.nn.Identity)


def _flat(events: list[list[tuple[int, float, float, float, float, int, float]]]):
    counts = [len(e) for e in events]
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    rows = np.array([o for e in events for o in e], dtype=np.float64).reshape(-1, 7)
    names = ("type", "pt", "eta", "phi", "mass", "charge", "btag")
    return offsets, {n: rows[:, i].astype(np.float32) for i, n in enumerate(names)}


def test_featurise_pads_and_orders_by_pt():
    mu, jet, met, ph = (
        int(ObjectType.MUON),
        int(ObjectType.JET),
        int(ObjectType.MET),
        int(ObjectType.PHOTON),
    )
    offsets, cols = _flat(
        [
            [
                (mu, 20.0, 0.5, 0.1, 0.1, -1, 0.0),
                (jet, 40.0, 1.0, 2.0, 5.0, 0, 0.9),
                (mu, 50.0, -1.0, -0.5, 0.1, 1, 0.0),
                (met, 30.0, 0.0, 3.0, 0.0, 0, 0.0),
                (mu, 5.0, 0.0, 0.0, 0.1, 1, 0.0),
            ],  # third muon: beyond the 2 slots
            [],
            [(ph, 60.0, 0.2, 1.0, 0.0, 0, 0.0)],
        ]
    )
    spec = TableSpec(
        slots=(("muon", 2), ("jet", 1), ("met", 1)),
        features=("pt", "eta", "phi", "energy", "charge", "btag"),
    )
    x = featurise(offsets, cols, spec).reshape(3, 4, 6)
    assert x.shape == (3, 4, 6) and spec.n_features == 24
    np.testing.assert_allclose(x[0, 0, [0, 1, 4]], [50.0, -1.0, 1.0])  # leading muon first
    np.testing.assert_allclose(x[0, 1, [0, 4]], [20.0, -1.0])
    np.testing.assert_allclose(x[0, 2, [0, 5]], [40.0, 0.9])
    np.testing.assert_allclose(x[0, 2, 3], np.sqrt((40 * np.cosh(1.0)) ** 2 + 25), rtol=1e-6)
    np.testing.assert_allclose(x[0, 3, [0, 2]], [30.0, 3.0])
    assert not x[1].any() and not x[2].any()  # empty event; photons are not in the spec
    assert spec.feature_names()[:2] == ["muon0_pt", "muon0_eta"]
    assert TableSpec.from_dict(spec.to_dict()) == spec


def test_table_models_standardise_inside_the_model():
    model = build_model("hgg_fcn", input_shape=(8,), n_classes=2)
    model.standardise.set(np.full(8, 3.0), np.r_[np.full(7, 2.0), 0.0])
    x = torch.full((1, 8), 5.0)
    np.testing.assert_allclose(model.standardise(x).numpy(), [[1.0] * 7 + [2.0]])
    assert "standardise.mean" in model.state_dict()
