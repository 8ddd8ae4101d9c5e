"""Figures from the inference histograms: every file is produced, numbers are right."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_objects
from eventlens.inference.hists import book
from eventlens.plotting import (
    confusion_from_hist,
    plot_confusion,
    plot_gallery,
    plot_mass_per_class,
    plot_roc,
    roc_from_hist,
)
from eventlens.render import RenderConfig, render

CLASSES = ["dy", "wjets", "ttbar"]


@pytest.fixture
def filled():
    h = book(CLASSES, 30, (60.0, 120.0))
    rng = np.random.default_rng(0)
    for truth, name in enumerate(CLASSES):
        n = 1000
        pred = np.where(rng.random(n) < 0.8, truth, rng.integers(0, 3, n))
        h["mass"].fill(
            dataset=name,
            truth=truth,
            predicted=np.array(CLASSES)[pred],
            mass=rng.normal(91, 10, n),
            weight=2.0,
        )
        for k, cls in enumerate(CLASSES):
            h["score"].fill(
                dataset=name,
                truth=truth,
                cls=cls,
                weight=2.0,
                score=np.full(n, 0.95 if k == truth else 0.05),
            )
    h["mass"].fill(dataset="data", truth=-1, predicted="dy", mass=rng.normal(91, 5, 300))
    return h


def test_confusion_and_roc_numbers(filled):
    cm = confusion_from_hist(filled["mass"])
    assert cm.shape == (3, 3)
    assert np.allclose(cm.sum(axis=1), 2000.0), "weighted, data (truth -1) excluded"
    assert np.all(np.diag(cm) > 0.8 * 2000)
    fpr, tpr, area = roc_from_hist(filled["score"], "ttbar")
    assert area == pytest.approx(1.0), "perfectly separated scores"
    assert tpr[-1] == pytest.approx(1.0) and fpr[-1] == pytest.approx(1.0)


def test_every_figure_is_written(filled, tmp_path):
    files = plot_mass_per_class(
        filled["mass"],
        {"DY": ["dy"], "W+jets": ["wjets"], "tt": ["ttbar"]},
        tmp_path / "mass",
        data=["data"],
        lumi=10.0,
    )
    names = {f.name for f in files}
    for cls in [*CLASSES, "all"]:
        assert {f"mass_predicted_{cls}.png", f"mass_predicted_{cls}.pdf"} <= names
    roc_files, aucs = plot_roc(filled["score"], tmp_path / "roc")
    assert set(aucs) == set(CLASSES)
    files += roc_files
    files += plot_confusion(confusion_from_hist(filled["mass"]), CLASSES, tmp_path / "cm", True)
    config = RenderConfig()
    images = render(random_objects(8, seed=1), config)
    files += plot_gallery({"a": images[:4], "b": images[4:]}, config, tmp_path / "gallery")
    for f in files:
        assert f.exists() and f.stat().st_size > 1000, f
