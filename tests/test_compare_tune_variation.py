"""``eventlens compare --tune-variation``: the shipped models' metrics on a test set of another
Pythia tune, as extra columns of the results table (tiny FFN on synthetic DTW-like tables)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from eventlens.cli import main
from eventlens.training.toy import dtw_like_events, write_table
from train_helpers import config

pytestmark = pytest.mark.integration

CLASSES = ["ttbar", "wjets", "dy"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trained and evaluated DTW-like FFN run, and a variation table (other events)."""
    root = tmp_path_factory.mktemp("tune")
    nominal = write_table(root / "nominal", dtw_like_events(600, seed=1), "dtw", CLASSES, 2)
    variation = write_table(root / "monash", dtw_like_events(300, seed=7), "dtw", CLASSES, 2)
    manifest = json.loads((variation / "manifest.json").read_text())
    for entry in manifest.get("datasets", {}).values():  # as make-samples --tune monash records
        entry.setdefault("metadata", {})["tune"] = "monash"
    (variation / "manifest.json").write_text(json.dumps(manifest))
    cfg = config(nominal, task="dtw", model="ffn", evaluation={"signal": ["ttbar"]},
                 training={"epochs": 2, "batch_size": 32})
    path = root / "dtw_ffn.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    run = root / "run"
    assert main(["train", str(path), "-o", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--no-plots"]) == 0
    return run, variation


def _independent_accuracy(run, table):
    """Accuracy of the run's best model on every labelled event of ``table``, computed here."""
    from eventlens.training.checkpoint import load_checkpoint
    from eventlens.training.config import TrainConfig
    from eventlens.training.setup import predict, prepare
    from eventlens.training.table import read_table

    ckpt = load_checkpoint(run / "best.pt")
    cfg = TrainConfig.from_dict(ckpt["config"])
    data = read_table(table)
    setup = prepare(cfg, table=data)
    setup.model.load_state_dict(ckpt["state_dict"])
    idx = np.flatnonzero(data.label >= 0)
    logits = predict(setup.model, setup.maker, idx, 64)
    return float(np.mean(logits.argmax(axis=1) == data.label[idx])), len(idx)


def test_tune_variation_columns(trained, tmp_path):
    run, variation = trained
    out = tmp_path / "results.md"
    assert main(["compare", str(run), "-o", str(out), "--tune-variation",
                 f"dtw={variation}"]) == 0
    text = out.read_text()
    assert "tune var. acc. (Δ)" in text and "tune var. S-vs-B (Δ)" in text
    assert f"--tune-variation dtw={variation}" in text  # the command that made the page
    assert "tune monash" in text
    accuracy, n = _independent_accuracy(run, variation)
    assert f"{n} labelled events" in text
    nominal = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    row = next(line for line in text.splitlines() if line.startswith("| `run`"))
    cells = [c.strip() for c in row.split("|")]
    assert cells[10] == f"{100 * accuracy:.1f} % ({100 * (accuracy - nominal):+.1f})"
    assert re.fullmatch(r"\d+\.\d % \([+-]\d+\.\d\)", cells[11])

    cached = list((variation / "tune_variation").glob("run-*.json"))
    assert len(cached) == 1
    before = cached[0].stat().st_mtime_ns
    assert main(["compare", str(run), "-o", str(out), "--tune-variation",
                 f"dtw={variation}"]) == 0
    assert cached[0].stat().st_mtime_ns == before  # reused, not recomputed


def _said(capsys):
    out = capsys.readouterr()
    return " ".join((out.out + out.err).split())  # rich wraps long lines


def test_tune_variation_bad_input_is_one_line(trained, tmp_path, capsys):
    run, variation = trained
    out = tmp_path / "r.md"
    assert main(["compare", str(run), "-o", str(out), "--tune-variation",
                 f"dimuon={variation}"]) == 2
    assert "none of the runs is of task 'dimuon'" in _said(capsys)
    assert main(["compare", str(run), "-o", str(out), "--tune-variation",
                 f"dtw={tmp_path}"]) == 2
    assert "no manifest.json" in _said(capsys)
    other = write_table(tmp_path / "two", dtw_like_events(90, seed=3), "dtw",
                        ["ttbar", "wjets", "zz"], 1)
    assert main(["compare", str(run), "-o", str(out), "--tune-variation", f"dtw={other}"]) == 2
    assert "differ from the run's" in _said(capsys)
    assert not out.exists()
