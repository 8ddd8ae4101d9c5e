"""Figure text: registry labels with a combining macron, the task mass axis title,
and the data/simulation ratio that hides empty bins."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eventlens.plotting.labels import mass_axis_label, mpl_label
from eventlens.plotting.report import mass_definition
from eventlens.plotting.spectra import ratio_points
from eventlens.plotting.style import pyplot
from eventlens.processors.registry import all_tasks


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tt̄ (semi-μ)", r"$t\bar{t}$ (semi-μ)"),
        ("bb̄H", r"$b\bar{b}H$"),
        ("pp̄ → tt̄", r"$p\bar{p}$ → $t\bar{t}$"),
        ("ν̄", r"$\bar{ν}$"),
        (r"$\nu$ + ν̄", r"$\nu$ + $\bar{ν}$"),
        ("$tt̄$", r"$t\bar{t}$"),
        ("DY Z/γ*→μμ", "DY Z/γ*→μμ"),
        ("ttbar", "ttbar"),
    ],
)
def test_mpl_label(text, expected):
    assert mpl_label(text) == expected


def test_mpl_label_renders_a_bar_not_an_f():
    plt = pyplot()
    fig, ax = plt.subplots()
    text = ax.text(0, 0, mpl_label("tt̄ (semi-μ)"))
    fig.canvas.draw()  # mathtext parses
    assert "\u0304" not in text.get_text()
    plt.close(fig)


def test_mass_axis_label_by_task():
    assert mass_axis_label("dtw") == r"$m_{\ell\ell}$ or $m_{T}(\ell, p_{T}^{miss})$ [GeV]"
    assert mass_axis_label("dimuon") == mass_axis_label("dhjw") == r"$m_{\mu\mu}$ [GeV]"
    assert mass_axis_label("hgg", "whatever") == r"$m_{\gamma\gamma}$ [GeV]"
    plt = pyplot()
    fig, ax = plt.subplots()
    for name, task in all_tasks().items():  # every task names its mass, in valid mathtext
        assert mass_axis_label(name, "ignored") == task.axis_label
        ax.set_xlabel(task.axis_label)
        fig.canvas.draw()
    plt.close(fig)


def test_mass_axis_label_falls_back_to_the_definition():
    definition = "invariant mass of the leading opposite-charge muon pair [GeV]; 0 without one"
    assert (
        mass_axis_label("newtask", definition)
        == "Invariant mass of the leading opposite-charge muon pair [GeV]"
    )
    assert mass_axis_label("newtask", "mass of the bb̄ pair") == r"Mass of the $b\bar{b}$ pair [GeV]"
    assert mass_axis_label(None) == mass_axis_label("newtask", "") == "Mass [GeV]"


def test_mass_definition_from_the_manifest(tmp_path):
    assert mass_definition(tmp_path) is None
    (tmp_path / "manifest.json").write_text(json.dumps({"mass_definition": "m [GeV]"}))
    assert mass_definition(tmp_path) == "m [GeV]"
    assert mass_definition(tmp_path / "inference.json") == "m [GeV]"


def test_ratio_hides_bins_without_simulation_or_data():
    data = np.array([4.0, 0.0, 1.0, 0.0, 9.0])
    sim = np.array([2.0, 3.0, 0.0, 0.0, 9.0])
    ratio, err = ratio_points(data, data, sim)
    assert np.isnan(ratio[1:4]).all() and np.isnan(err[1:4]).all()
    assert ratio[[0, 4]] == pytest.approx([2.0, 1.0])
    assert err[[0, 4]] == pytest.approx([1.0, 1.0 / 3.0])
