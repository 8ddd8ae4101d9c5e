"""The pyhf fit: a hand-computable counting experiment, closure with injected signal
strengths, toy pulls, and ``eventlens fit`` end to end."""

from __future__ import annotations

import json
import logging

import hist
import numpy as np
import pytest
from scipy.optimize import brentq

from eventlens.cli import main
from eventlens.stats import build_model, write_histograms
from eventlens.stats.config import FitModel
from eventlens.stats.fit import fit, fit_toys, pyhf_model, run_fit
from eventlens.stats.io import HistogramSet, ProcessInfo
from eventlens.stats.workspace import workspace_spec
from stats_toys import histogram_set, poisson_data

#: The closure model: three regions, signal + two backgrounds, one shape (jes) and
#: one lnN (xsec_dy) systematic.
CLOSURE = FitModel(normalisations={"xsec_dy": {"dy": 0.05}}, mc_stat=False)


def test_counting_experiment_matches_the_hand_computation():
    """One bin, s = 10, b = 100, n = 120: mu = (n - b)/s = 2, HESSE sigma = sqrt(n)/s,
    MINOS = where 2[(s mu + b) - n ln(s mu + b)] rises by 1 above its minimum."""
    s, b, n = 10.0, 100.0, 120.0
    h = (
        hist.Hist.new.StrCat([], growth=True, name="process")
        .StrCat([], growth=True, name="region")
        .StrCat([], growth=True, name="variation")
        .Reg(1, 0, 1, name="x")
        .Weight()
    )
    for proc, w in (("sig", s), ("bkg", b), ("data", n)):
        h.fill(process=proc, region="sr", variation="nominal", x=0.5, weight=w)
    hset = HistogramSet({"x": h}, {"sig": ProcessInfo(signal=True), "data": ProcessInfo(data=True)})
    model = build_model(hset, FitModel(mc_stat=False))
    pdf, data = pyhf_model(workspace_spec(model))
    r = fit(pdf, data, minos=("mu",))
    assert r.converged and r.status["valid_minimum"]
    assert r.value("mu") == pytest.approx(2.0, abs=1e-4)
    assert r.error("mu") == pytest.approx(np.sqrt(n) / s, rel=1e-3)

    def q(mu: float) -> float:  # -2 ln L(mu) - min - 1
        lam, lam0 = s * mu + b, n
        return 2 * ((lam - n * np.log(lam)) - (lam0 - n * np.log(lam0))) - 1.0

    lo, hi = brentq(q, -5.0, 2.0), brentq(q, 2.0, 10.0)
    down, up = r.minos["mu"]
    assert down == pytest.approx(lo - 2.0, abs=2e-3)
    assert up == pytest.approx(hi - 2.0, abs=2e-3)
    assert r.twice_nll == pytest.approx(
        2 * (n - n * np.log(n)) + 2 * np.sum(np.log(np.arange(1, n + 1))), rel=1e-6
    )


@pytest.mark.parametrize("mu_true", [0.5, 1.5])
def test_closure_injected_signal_strength(mu_true):
    """Poisson pseudo-data with mu injected is fitted back within 2 sigma."""
    model = build_model(histogram_set(poisson_data(mu_true, seed=42)), CLOSURE)
    pdf, data = pyhf_model(workspace_spec(model))
    r = fit(pdf, data, minos=("mu",))
    assert r.converged
    down, up = r.minos["mu"]
    sigma = up if r.value("mu") < mu_true else -down
    assert abs(r.value("mu") - mu_true) < 2 * sigma, (r.value("mu"), sigma)
    assert 0.02 < sigma < 0.2  # a real measurement, not a degenerate one


def test_toy_pulls_are_standard_normal():
    """200 toys from the closure model (main and auxiliary data drawn): the pulls
    (mu_hat - mu)/sigma have mean within ±0.2 and width within 0.8-1.2."""
    spec = workspace_spec(build_model(histogram_set(None), CLOSURE))
    toys = fit_toys(spec, mu=1.0, n_toys=200, seed=2024)
    assert toys["converged"].all()
    pulls = (toys["mu_hat"] - 1.0) / toys["mu_err"]
    print(f"toy pulls: mean {pulls.mean():.3f}, width {pulls.std(ddof=1):.3f}")
    assert abs(pulls.mean()) < 0.2, pulls.mean()
    assert 0.8 < pulls.std(ddof=1) < 1.2, pulls.std(ddof=1)
    # same seed -> same toys, bit for bit; another seed -> other toys
    np.testing.assert_array_equal(
        fit_toys(spec, mu=1.0, n_toys=4, seed=5)["mu_hat"],
        fit_toys(spec, mu=1.0, n_toys=4, seed=5)["mu_hat"],
    )
    assert not np.array_equal(
        fit_toys(spec, mu=1.0, n_toys=4, seed=6)["mu_hat"],
        fit_toys(spec, mu=1.0, n_toys=4, seed=5)["mu_hat"],
    )


def test_measurement_pulls_and_impacts():
    model = build_model(histogram_set(poisson_data(1.0, seed=7)), CLOSURE)
    meas = run_fit(workspace_spec(model))
    s = meas.summary()
    assert s["status"]["converged"] and s["status"]["expected_converged"]
    assert s["mu_err_down"] > 0 and s["mu_err_up"] > 0
    assert s["expected"]["mu_err"] == pytest.approx(s["mu_err"], rel=0.2)
    assert {p: v["type"] for p, v in s["parameters"].items()} == {
        "jes": "shape",
        "mu": "poi",
        "xsec_dy": "lnN",
    }
    jes = s["parameters"]["jes"]
    assert jes["pull"] == pytest.approx(jes["value"]) and 0 < jes["constraint"] <= 1.0001
    ranked = [row["parameter"] for row in s["impacts"]]
    assert sorted(ranked) == ["jes", "xsec_dy"]
    for row in s["impacts"]:
        # a single parameter's impact never exceeds the total uncertainty
        assert abs(row["postfit_up"]) <= s["mu_err"] * 1.01
        assert np.sign(row["postfit_up"]) == -np.sign(row["postfit_down"])
    # jes raises the ttbar yield: pulling it up lowers mu
    jes_row = next(r for r in s["impacts"] if r["parameter"] == "jes")
    assert jes_row["postfit_up"] < 0 < jes_row["postfit_down"]


@pytest.mark.integration
def test_eventlens_fit_end_to_end(tmp_path):
    write_histograms(tmp_path / "histograms.json", histogram_set(poisson_data(1.0, seed=3)))
    model_yaml = tmp_path / "model.yaml"
    model_yaml.write_text(
        "signal: ttbar\nluminosity_uncertainty: 0.016\n"
        "normalisations: {xsec_dy: {dy: 0.02}}\nfloating: [wjets]\n"
    )
    assert main(["fit", str(tmp_path), "--model", str(model_yaml)]) == 0
    out = tmp_path / "fit"
    s = json.loads((out / "fit.json").read_text())
    assert s["signal"] == "ttbar" and s["data"] == "observed" and s["status"]["converged"]
    assert abs(s["mu"] - 1.0) < 3 * s["mu_err"]
    assert {"mu", "mu_err", "mu_err_up", "mu_err_down", "expected", "impacts"} <= set(s)
    assert s["parameters"]["norm_wjets"]["pull"] is None  # floating: no pre-fit width
    assert any(p.startswith("staterror_") for p in s["parameters"])
    for name in ("shapes.root", "datacard.txt", "workspace.json"):
        assert (out / name).stat().st_size > 0
    plots = {p.name for p in (out / "plots").iterdir()}
    for stem in ("prefit_ttbar", "postfit_wjets", "pulls", "impacts"):
        assert f"{stem}.png" in plots and f"{stem}.pdf" in plots

    # blinded: the Asimov data give back mu = 1 with the expected uncertainty
    assert (
        main(
            [
                "fit",
                str(tmp_path),
                "--model",
                str(model_yaml),
                "--asimov",
                "--no-plots",
                "--no-impacts",
                "-o",
                str(tmp_path / "asimov"),
            ]
        )
        == 0
    )
    a = json.loads((tmp_path / "asimov" / "fit.json").read_text())
    assert a["data"] == "asimov" and a["mu"] == pytest.approx(1.0, abs=1e-3)
    assert a["mu_err"] == pytest.approx(s["expected"]["mu_err"], rel=1e-3)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_eventlens_fit_bad_input_is_one_line(tmp_path):
    handler = _Errors()
    logging.getLogger("eventlens").addHandler(handler)  # the CLI's error logger
    try:
        assert main(["fit", str(tmp_path)]) == 2
        write_histograms(tmp_path / "histograms.json", histogram_set(poisson_data(1.0, seed=3)))
        assert main(["fit", str(tmp_path), "--signal", "qcd"]) == 2
    finally:
        logging.getLogger("eventlens").removeHandler(handler)
    assert handler.messages[0].endswith(
        "histograms.json: no such file (an infer run writes "
        "histograms.json; see eventlens.stats.io)"
    )
    assert handler.messages[1].startswith("signal 'qcd' is not a simulated process")
    assert all("\n" not in m for m in handler.messages)
