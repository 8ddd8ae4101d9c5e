"""The README's main command: `eventlens demo` runs the whole chain; a second run reuses it."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_runs_end_to_end_and_reuses(tmp_path):
    from eventlens.cli import main

    out = tmp_path / "demo"
    args = ["demo", "-o", str(out), "--events-per-process", "150", "--epochs", "1"]
    assert main(args) == 0
    index = (out / "index.md").read_text()
    for stage in (
        "generate training samples",
        "select (coffea)",
        "train the compact CNN",
        "export to ONNX",
        "infer in the coffea loop",
        "fit (pyhf)",
        "plot",
    ):
        assert stage in index
    assert "## Measurement" in index and "μ(ttbar)" in index and "injected **1**" in index
    assert (out / "infer" / "histograms.json").exists()
    for fig in (
        "mass_predicted_all",
        "confusion_normalised",
        "roc",
        "gallery_predicted",
        "training_loss",
    ):
        assert (out / "figures" / f"{fig}.png").exists() and (
            out / "figures" / f"{fig}.pdf"
        ).exists()
    card = json.loads((out / "model" / "dtw_demo.json").read_text())
    assert card["task"] == "dtw" and card["metrics"]["n_events"] > 0
    model_time = (out / "model" / "dtw_demo.onnx").stat().st_mtime
    # second run: everything but inference, fit and plots reused; another injected mu
    assert main([*args, "--inject-mu", "1.5"]) == 0
    assert (out / "model" / "dtw_demo.onnx").stat().st_mtime == model_time
    index = (out / "index.md").read_text()
    assert "pseudo-data" in index and "injected **1.5**" in index
