"""``eventlens explain`` end to end: checkpoint (IG) and exported ONNX model (object Shapley)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eventlens.cli import main
from eventlens.explain import Explainer, ExplainOptions, load_explainable
from eventlens.training.table import read_table
from eventlens.training.toy import write_dtw_like_table
from explain_toys import SMALL, write_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    table = write_dtw_like_table(root / "table", 240, seed=5)
    ckpt = write_checkpoint(root / "run" / "best.pt", table, "compact_cnn",
                            {"widths": [8, 16, 16, 16]}, render=SMALL)
    return root, table, ckpt


@pytest.fixture(scope="module")
def toy_onnx(toy_run):
    from eventlens.export import export_checkpoint

    root, _, ckpt = toy_run
    path = root / "onnx" / "toy_dtw.onnx"
    export_checkpoint(ckpt, path, threads=1, check_events=4)
    return path


def _run(args):
    return main(["-q", "explain", "--threads", "1", *map(str, args)])


def test_cli_checkpoint_ig(toy_run):
    root, table, ckpt = toy_run
    out = root / "out_ig"
    assert _run(["--model", ckpt, "--table", table, "--events", 6, "-o", out,
                 "--figures", 1, "--n-steps", 16]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"]["split"] == "the model's test split"
    assert summary["settings"]["method"] == "integrated_gradients"
    assert summary["settings"]["baseline"].startswith("empty event")
    assert set(summary["summary"]["per_class"]) == {"ttbar", "wjets", "dy"}
    assert all(pc["n_events"] == 2 for pc in summary["summary"]["per_class"].values())
    events = sorted((out / "events").glob("*.json"))
    assert len(events) == 6
    rows = set()
    for path in events:
        rec = json.loads(path.read_text())
        rows.add(rec["row"])
        for cls, b in rec["balance"].items():
            assert b["objects"] + b["unassigned"] == pytest.approx(
                b["score_minus_baseline"] + b["residual"], abs=1e-5), cls
        assert rec["text"].startswith("Called ")
    table_obj = read_table(table)
    assert all(table_obj.label[r] >= 0 for r in rows)
    assert len(list((out / "figures").glob("*.png"))) == 1
    assert (out / "summary_kinds.png").exists()
    page = (out / "summary.md").read_text()
    assert "Which objects drive each class" in page and "driver" in page
    # An existing run is not replaced silently.
    assert _run(["--model", ckpt, "--table", table, "--events", 2, "-o", out]) == 2


def test_onnx_shapley_matches_the_checkpoint(toy_run, toy_onnx):
    _, table_path, ckpt = toy_run
    table = read_table(table_path)
    rows = np.arange(5)
    torch_model = load_explainable(ckpt, threads=1)
    onnx_model = load_explainable(toy_onnx, threads=1)
    assert onnx_model.backend == "onnx" and not onnx_model.differentiable
    options = ExplainOptions(method="shapley")
    a = list(Explainer(torch_model, options).explain(table, rows))
    b = list(Explainer(onnx_model, options).explain(table, rows))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.attributions, y.attributions, atol=2e-5)
        np.testing.assert_allclose(y.residual, 0.0, atol=1e-9)


def test_cli_onnx_auto_and_ig_via_card(toy_run, toy_onnx):
    root, table, _ = toy_run
    out = root / "out_onnx"
    assert _run(["--model", toy_onnx, "--table", table, "--events", 3, "-o", out,
                 "--figures", 1]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["method"] == "object_shapley"
    assert summary["summary"]["completeness"]["max_abs_residual"] < 1e-9
    out_ig = root / "out_onnx_ig"
    assert _run(["--model", toy_onnx, "--method", "ig", "--table", table, "--events", 3,
                 "-o", out_ig, "--figures", 0, "--n-steps", 16]) == 0
    summary = json.loads((out_ig / "summary.json").read_text())
    assert summary["settings"]["gradients_from"] == "checkpoint recorded in the model card"
    assert summary["torch_vs_onnx_max_abs_diff"] <= 1e-4
