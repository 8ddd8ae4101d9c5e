"""The real data path: `eventlens select` output (coffea processors) → `eventlens train`.

The other tests train on tables written by :mod:`eventlens.training.toy`; this one
trains on what the processors actually write, from the processor tests' small
NanoAOD-like files, so a change of the table layout or manifest on either side
shows up here.
"""

from __future__ import annotations

import json

import pytest
import yaml

nanoaod_toy = pytest.importorskip("nanoaod_toy")
pytest.importorskip("coffea")


@pytest.mark.integration
def test_train_on_a_selected_table(tmp_path):
    from eventlens.cli import main

    processes = nanoaod_toy.TASK_PROCESSES["dtw"]
    samples = {
        p: nanoaod_toy.write_process(tmp_path, p, 80, seed=i + 1) for i, p in enumerate(processes)
    }
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps(nanoaod_toy.fileset(samples, processes)))
    table = tmp_path / "table"
    assert main(["select", "dtw", "--fileset", str(fileset), "-o", str(table)]) == 0

    config = tmp_path / "dtw_compact_cnn.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "task": "dtw",
                "table": str(table),
                "threads": 1,
                "model": {"name": "compact_cnn"},
                "render": {
                    "height": 32,
                    "width": 32,
                    "channels": ["electron", "muon", "jet", "bjet", "met"],
                },
                "training": {"epochs": 1, "batch_size": 32},
                "evaluation": {"signal": ["ttbar"]},
            }
        )
    )
    run = tmp_path / "run"
    assert main(["train", str(config), "-o", str(run), "--no-progress"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    manifest = json.loads((table / "manifest.json").read_text())
    assert metrics["test"]["classes"] == manifest["classes"]
    data = metrics["data"]
    assert data["selection"]["hash"] == manifest["selection_config_sha256"]
    assert data["selection"]["config"]["task"] == "dtw"
    assert sum(sum(c.values()) for c in data["events"].values()) == manifest["rows"]
    assert set(data["datasets"]) == set(manifest["classes"])
