"""ONNX export: every registry model trains a few steps, exports, and onnxruntime agrees;
model cards are complete and reject a renderer config that differs."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from eventlens.errors import EventLensError
from eventlens.modelcard import ModelCard, ModelCardError, RenderConfigMismatch, load_model_card
from eventlens.models import MODEL_NAMES
from eventlens.render.config import RenderConfig
from eventlens.training.toy import write_dtw_like_table
from train_helpers import config

CASES = [(name, None) for name in MODEL_NAMES] + [
    ("compact_cnn", {"style": "seed_rgb", "height": 32, "width": 32}),  # uint8 RGB pictures
]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    return write_dtw_like_table(tmp_path_factory.mktemp("dtw"), 240, seed=2)


@pytest.fixture(scope="module")
def exported(table, tmp_path_factory):
    """Train every case for one short epoch, evaluate, export; {case id: (run dir, onnx)}."""
    from eventlens.export import export_checkpoint
    from eventlens.training.evaluate import evaluate_run
    from eventlens.training.loop import fit

    out = {}
    base = tmp_path_factory.mktemp("exports")
    for name, render in CASES:
        key = name + ("_rgb" if render else "")
        extra = {"render": render} if render else {}
        n_train = 32 if name == "inception_v3" else 64  # the full InceptionV3: keep it short
        cfg = config(
            table,
            name,
            task="dtw",
            limits={"train": n_train, "val": 16, "test": 24},
            evaluation={"signal": ["ttbar"]},
            **extra,
        )
        run = base / key
        fit(cfg, run, progress=False, evaluate=False)
        evaluate_run(run, plots=False)  # figures are covered by test_train
        out[key] = (
            run,
            export_checkpoint(run / "best.pt", base / "onnx" / f"{key}.onnx", threads=1),
            base / "onnx" / f"{key}.onnx",
        )
    return out


@pytest.mark.parametrize("key", [n + ("_rgb" if r else "") for n, r in CASES])
def test_export_matches_torch(exported, key):
    """The export itself asserts ≤ 1e-4; here: the card records it, the file is single and
    the batch axis is dynamic, on fresh inputs."""
    import onnxruntime as ort

    from eventlens.export import example_inputs, rebuild_model
    from eventlens.training.checkpoint import load_checkpoint

    run, card, onnx_path = exported[key]
    assert card.onnx.max_abs_diff <= card.onnx.tolerance
    assert card.onnx.opset == 20 and not list(onnx_path.parent.glob("*.data"))
    ckpt = load_checkpoint(run / "best.pt")
    ort.set_default_logger_severity(3)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    x = example_inputs(ckpt, 7, seed=99)
    assert x.dtype == np.float32
    logits, probs = sess.run(None, {"input": x})
    with torch.no_grad():
        ref = rebuild_model(ckpt)(torch.from_numpy(x)).numpy()
    rtol = 1e-4 if key.startswith("inception") else 0.0
    assert np.max(np.abs(logits - ref)) <= 1e-4 + rtol * np.max(np.abs(ref))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_model_card_is_complete(exported):
    _, written, onnx_path = exported["compact_cnn"]
    loaded = load_model_card(onnx_path)
    assert loaded == written  # written and read by the same code
    on_disk = json.loads(onnx_path.with_suffix(".json").read_text())
    keys = {f.name for f in dataclasses.fields(ModelCard)} - {"path", "decorrelation"}
    assert set(on_disk) == keys and loaded.to_dict() == on_disk
    assert loaded.task == "dtw" and loaded.classes == ("ttbar", "wjets", "dy")
    assert loaded.input.shape == ("batch", 6, 32, 32) and loaded.input.kind == "image"
    assert on_disk["input"]["shape"] == ["batch", 6, 32, 32]
    assert loaded.render_config_digest == RenderConfig(height=32, width=32).digest()
    assert loaded.selection_hash and loaded.selection["config"]["toy"] is True
    n_test = sum(loaded.training_data["events"]["test"].values())
    assert 0 < n_test <= 24 and loaded.metrics["n_events"] == n_test
    assert loaded.training_data["seed"] == 3
    assert "efficiency" in loaded.metrics["signal_vs_background"]
    assert loaded.eventlens_version and loaded.model.name == "compact_cnn"
    table_card = load_model_card(exported["ffn"][2])
    assert table_card.render_config is None and table_card.input.kind == "table"
    assert len(table_card.input.feature_names) == table_card.input.shape[1]
    rgb = load_model_card(exported["compact_cnn_rgb"][2])
    assert rgb.input.dtype == "float32" and rgb.input.render_dtype == "uint8"


def test_mismatched_render_config_is_rejected(exported, tmp_path):
    _, _, onnx_path = exported["compact_cnn"]
    card = load_model_card(onnx_path)
    card.check_render_config(RenderConfig(height=32, width=32))  # the training config: fine
    card.check_render_config(RenderConfig(height=32, width=32).to_dict())
    with pytest.raises(RenderConfigMismatch) as err:
        card.check_render_config(RenderConfig(height=64, width=64, overlap="add"))
    msg = str(err.value)
    for field in ("height: model 32, in use 64", "overlap: model 'max', in use 'add'", "width"):
        assert field in msg
    assert set(err.value.differences) == {"height", "width", "overlap", "radius_scale"}
    with pytest.raises(RenderConfigMismatch, match="channels"):
        card.check_render_config(RenderConfig(height=32, width=32, channels=("muon", "jet")))
    load_model_card(exported["ffn"][2]).check_render_config(RenderConfig())  # tables: no images
    # A card whose render config was edited no longer matches its digest.
    bad = json.loads(Path(card.path).read_text())
    bad["render_config"]["height"] = 48
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ModelCardError, match="digest"):
        load_model_card(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ModelCardError, match="not an eventlens model card"):
        load_model_card(tmp_path / "old.json")


def test_export_refuses_a_bad_target(exported, tmp_path):
    from eventlens.export import export_checkpoint

    run, _, _ = exported["hgg_fcn"]
    with pytest.raises(EventLensError, match=r"must end in \.onnx"):
        export_checkpoint(run / "best.pt", tmp_path / "model.pt")


def test_modelcard_module_needs_no_torch():
    code = (
        "import sys, eventlens.modelcard; "
        "bad = [m for m in ('torch', 'onnxruntime', 'ROOT') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_verify_rejects_an_unfaithful_export():
    from eventlens.export import ExportError, _Deployable, verify
    from eventlens.models import build_model

    torch.manual_seed(0)
    module = _Deployable(build_model("hgg_fcn", input_shape=(8,), n_classes=2)).eval()
    x = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)

    class Session:
        def __init__(self, shift: float) -> None:
            self.shift = shift

        def run(self, names, feed):
            with torch.no_grad():
                logits, probs = module(torch.from_numpy(feed["input"]))
            return [logits.numpy() + self.shift, probs.numpy()]

    assert verify(Session(0.0), module, x, rtol=0.0)["max_abs_diff"] == 0.0
    with pytest.raises(ExportError, match=r"differs from torch by 0\.001"):
        verify(Session(1e-3), module, x, rtol=0.0)
