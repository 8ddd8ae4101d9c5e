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
        "plot",
    ):
        assert stage in index
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
    assert main(args) == 0  # second run: everything but inference and plots reused
    assert (out / "model" / "dtw_demo.onnx").stat().st_mtime == model_time
    assert "pseudo-data" in (out / "index.md").read_text()
