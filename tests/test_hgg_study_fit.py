"""`eventlens hgg-study` with the background fit, end to end on the two-photon toy table.

Real training (FCN, ANN at λ = 0 and 3, a few epochs), a separate background-only
toy table as the fit sample, every fit block, the Markdown and the figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _toy_table(path: Path, n: int, seed: int, background_only: bool = False) -> Path:
    from eventlens.adversarial.toy import hgg_toy_events
    from eventlens.training.toy import write_table

    events = hgg_toy_events(n, seed)
    if background_only:
        keep = events["label"] == 0
        idx = np.flatnonzero(keep)
        counts = np.diff(events["offsets"])[idx]
        flat = np.concatenate([np.arange(events["offsets"][i], events["offsets"][i + 1])
                               for i in idx])
        offsets = np.zeros(idx.size + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        events = {**{k: v[idx] for k, v in events.items() if k not in ("offsets", "columns")},
                  "offsets": offsets, "columns": {k: v[flat] for k, v in events["columns"].items()}}
    write_table(path, events, "hgg", ["background", "signal"])
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["luminosity_pb"] = 1000.0  # unit weights = 1 fb⁻¹ worth of toy events
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def _config(tmp: Path, name: str, table: Path) -> Path:
    data = yaml.safe_load((REPO / f"configs/train/{name}.yaml").read_text())
    data["table"] = str(table)
    data["training"].update({"epochs": 4, "batch_size": 256})
    if "adversary" in data:
        data["adversary"].update({"pretrain_classifier_epochs": 1, "pretrain_adversary_epochs": 1})
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
@pytest.mark.integration
def test_hgg_study_writes_the_fit_blocks(tmp_path: Path) -> None:
    from eventlens.adversarial.study import StudyPlan, run_study

    table = _toy_table(tmp_path / "table", 4000, seed=4)
    fit_table = _toy_table(tmp_path / "fit", 12000, seed=5, background_only=True)
    plan = StudyPlan(fcn_config=_config(tmp_path, "hgg_fcn", table),
                     ann_config=_config(tmp_path, "hgg_ann", table), lambdas=(0.0, 3.0),
                     fit_table=fit_table)
    results = run_study(table, tmp_path / "study", plan, progress=False)
    saved = json.loads((tmp_path / "study" / "results.json").read_text())
    for name in ("fcn", "ann_lambda_0", "ann_lambda_3"):
        fit = saved["runs"][name]["fit"]
        assert set(fit["working_points"]) == {"0.7", "0.5", "0.3", "0.1"}
        for wp in fit["working_points"].values():
            if "skipped" in wp:
                continue
            for key in ("spurious_signal", "spurious_over_stat", "passes_spurious_criterion",
                        "expected_significance"):
                assert key in wp, key
            assert wp["expected_significance"] <= wp["expected_significance_no_systematic"] + 1e-6
            assert "cross_check" in wp  # the test split's background
        assert fit["best"] in fit["working_points"]
    info = saved["fit_summary"]["samples"]
    assert info["fit_table_background_events"] == int(
        json.loads((fit_table / "manifest.json").read_text())["rows"])
    # normalised to the training table's background: 1 fb⁻¹ of toy → 138 fb⁻¹
    assert info["fit_table_background_yield_used"] == pytest.approx(info["background_yield_table"])
    assert "hypothesis" in saved["fit_summary"]
    inclusive = saved["fit_summary"]["inclusive"]  # no cut, unsculpted: no spurious signal
    assert abs(inclusive["spurious_signal"]) < 3 * inclusive["spurious_signal_mc_error"]
    assert "agreement_with_table" in inclusive
    md = (tmp_path / "study" / "results.md").read_text()
    assert "Background fit: spurious signal" in md and "Hypothesis" in md
    figures = {Path(p).name for p in results["figures"]}
    assert {"significance.png", "fit_eps50.png"} <= figures


def test_publish_copies_results_and_figures_and_keeps_the_readme(tmp_path: Path) -> None:
    from eventlens.adversarial.study import publish
    from eventlens.errors import EventLensError

    out, docs = tmp_path / "study", tmp_path / "docs"
    (out / "figures").mkdir(parents=True)
    docs.mkdir()
    (docs / "README.md").write_text("how it was made")
    with pytest.raises(EventLensError, match="run the study first"):
        publish(out, docs)
    (out / "results.json").write_text("{}")
    (out / "results.md").write_text("# r")
    (out / "figures" / "significance.png").write_bytes(b"png")
    written = publish(out, docs)
    assert {p.relative_to(docs).as_posix() for p in written} == {
        "results.json", "results.md", "figures/significance.png"}
    assert (docs / "README.md").read_text() == "how it was made"
    assert (docs / "figures" / "significance.png").read_bytes() == b"png"


def test_study_reuses_a_plain_run_whose_best_epoch_is_not_the_last(tmp_path, monkeypatch):
    """A plain (early-stopping) run saves best.pt at its best epoch with finished = False;
    whether the run ended is last.pt's state, so the study reuses it."""
    from eventlens.adversarial import study
    from eventlens.adversarial.config import load

    train, _ = load(REPO / "configs/train/hgg_fcn.yaml")
    for name in ("best.pt", "last.pt", "test_predictions.npz"):
        (tmp_path / name).write_bytes(b"")
    stored = {"best.pt": {"config": train.to_dict(), "finished": False},
              "last.pt": {"config": train.to_dict(), "finished": True}}
    monkeypatch.setattr(study, "load_checkpoint", lambda path: stored[Path(path).name])
    assert study._same_run(tmp_path, train, None)
    stored["last.pt"]["finished"] = False  # interrupted: retrain
    assert not study._same_run(tmp_path, train, None)
