"""eventlens compare: the per-lepton-channel table (DTW) and shipped model cards as inputs."""

from __future__ import annotations

import json

import pytest

from eventlens.errors import InputFileError
from eventlens.resources import models_dir
from eventlens.training.compare import load_metrics, results_table


def _run(name: str, acc: float, channels: dict | None) -> dict:
    test = {"n_events": 10, "accuracy": acc, "balanced_accuracy": acc, "macro_f1": acc,
            "macro_auc": 0.9, "classes": ["dy", "wjets", "ttbar"],
            "signal_vs_background": {"signal": ["ttbar"], "efficiency": 0.95}}
    if channels is not None:
        test["by_channel"] = channels
        test["dilepton_share"] = {"dy": 0.5, "wjets": 0.0, "ttbar": 0.25}
    return {"task": "dtw", "run_dir": f"runs/{name}", "test": test, "test_split_digest": "d",
            "model": {"name": "compact_cnn", "params": {}, "n_parameters": 1000},
            "render_config": {"height": 32, "width": 32, "channels": ["e", "mu"]},
            "epochs_trained": 3, "best_epoch": 2}


def test_results_page_has_a_lepton_channel_table():
    channels = {
        "e": {"n_events": 4, "share": 0.4, "accuracy": 0.75, "signal_vs_background": 0.9},
        "mu": {"n_events": 5, "share": 0.5, "accuracy": 1.0, "signal_vs_background": None},
        "emu": {"n_events": 1, "share": 0.1, "accuracy": 0.0, "signal_vs_background": None},
    }
    text = results_table([_run("cnn", 0.9, channels), _run("old", 0.8, None)])
    assert "test events e 4 (40.0 %), μ 5 (50.0 %), eμ 1 (10.0 %)" in text
    assert "dy 50.0 %, wjets 0.0 %, ttbar 25.0 %" in text
    assert "| model | e | μ | eμ |" in text
    assert "| `cnn` (compact_cnn) | 75.0 % / 90.0 % | 100.0 % / – | 0.0 % / – |" in text
    assert "`old`" in text.split("| model | e |")[0]  # in the main table only


def test_a_model_card_stands_for_its_run(tmp_path):
    (m,) = load_metrics([models_dir() / "dimuon_compact_cnn.json"])
    card = json.loads((models_dir() / "dimuon_compact_cnn.json").read_text())
    assert m["task"] == "dimuon" and m["test"]["accuracy"] == card["metrics"]["accuracy"]
    assert m["test"]["classes"] == card["classes"] and m["card"]
    text = results_table([m])
    assert "`dimuon_compact_cnn` (compact_cnn 16-32-64-128)" in text
    card["metrics"] = None
    empty = tmp_path / "x.json"
    empty.write_text(json.dumps(card))
    with pytest.raises(InputFileError, match="has no test metrics"):
        load_metrics([empty])
