"""The histogram contract, the fit-model config, and the three statistics outputs
(combine shapes.root + datacard, pyhf workspace) describing one model."""

from __future__ import annotations

import json

import hist
import numpy as np
import pytest
import uproot

from conftest import REPO
from eventlens.errors import ConfigError, EventLensError, InputFileError
from eventlens.stats import (
    STATS_DIR,
    build_model,
    read_histograms,
    write_histograms,
    write_statistics_inputs,
)
from eventlens.stats.combine import datacard_text
from eventlens.stats.config import FitModel, load_fit_model
from eventlens.stats.fit import pyhf_model
from eventlens.stats.workspace import workspace_spec
from stats_toys import EDGES, JES, REGIONS, YIELDS, histogram_set, poisson_data

MODEL = FitModel(
    luminosity_uncertainty=0.016,
    normalisations={"xsec_dy": {"dy": 0.02}, "xsec_wjets": {"wjets": 0.05}},
    floating=("wjets",),
)


# ---- the contract file ------------------------------------------------------------
def test_histograms_round_trip(tmp_path):
    hset = histogram_set(poisson_data(1.0, seed=1))
    path = write_histograms(tmp_path / "histograms.json", hset)
    back = read_histograms(tmp_path)  # a folder means its histograms.json
    assert back.histograms["mass"] == hset.histograms["mass"]
    assert back.histograms["mass"].axes["mass"].label == "Mass [GeV]"
    assert back.processes == hset.processes
    assert (back.luminosity_pb, back.task, back.real_data) == (1000.0, "dtw", False)
    text = path.read_text()
    assert "pickle" not in text and json.loads(text)["format"] == "eventlens-histograms"


def test_contract_violations_are_one_line_errors(tmp_path):
    wrong = hist.Hist.new.StrCat(["a"], name="dataset").Reg(3, 0, 1, name="x").Weight()
    hset = histogram_set()
    hset.histograms["bad"] = wrong
    with pytest.raises(InputFileError, match=r"'bad' has axes \['dataset', 'x'\]"):
        write_histograms(tmp_path / "h.json", hset)
    double = (
        hist.Hist.new.StrCat([], growth=True, name="process")
        .StrCat([], growth=True, name="region")
        .StrCat([], growth=True, name="variation")
        .Reg(3, 0, 1, name="x")
        .Double()
    )
    with pytest.raises(InputFileError, match="Weight"):
        write_histograms(tmp_path / "h.json", histogram_set().__class__({"x": double}))
    with pytest.raises(InputFileError, match="no such file"):
        read_histograms(tmp_path / "missing.json")
    (tmp_path / "v.json").write_text(json.dumps({"format": "eventlens-histograms", "version": 99}))
    with pytest.raises(InputFileError, match="version 99"):
        read_histograms(tmp_path / "v.json")


# ---- the fit model config ---------------------------------------------------------
def test_fit_model_is_strict(tmp_path):
    path = tmp_path / "fit.yaml"
    path.write_text("signal: ttbar\nfloatting: [wjets]\n")
    with pytest.raises(ConfigError, match=r"fit.yaml: unknown key 'floatting'"):
        load_fit_model(path)
    path.write_text("normalisations: {xsec: {dy: 1.5}}\n")
    with pytest.raises(ConfigError, match=r"'normalisations.xsec.dy' = 1.5"):
        load_fit_model(path)
    path.write_text("poi_bounds: [2, 1]\n")
    with pytest.raises(ConfigError, match="poi_bounds"):
        load_fit_model(path)
    path.write_text("samples: {a: [dy], b: [dy, wjets]}\n")
    with pytest.raises(ConfigError, match=r"'dy' is in both 'samples.a' and 'samples.b'"):
        load_fit_model(path)


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "fit").glob("*.yaml")), ids=str)
def test_shipped_fit_models_load(path):
    model = load_fit_model(path)
    assert model.signal and model.luminosity_uncertainty > 0


def test_model_errors_name_what_is_wrong():
    hset = histogram_set(poisson_data(1.0, seed=1))
    with pytest.raises(ConfigError, match="signal 'higgs' is not a simulated process"):
        build_model(hset, MODEL, signal="higgs")
    with pytest.raises(ConfigError, match="'floating' names 'qcd', not a background"):
        build_model(hset, FitModel(floating=("qcd",)))
    with pytest.raises(ConfigError, match=r"'normalisations\.x\.qcd': no simulated process"):
        build_model(hset, FitModel(normalisations={"x": {"qcd": 0.1}}))
    with pytest.raises(ConfigError, match="shape systematic 'jer'"):
        build_model(hset, FitModel(shape_systematics=("jer",)))
    with pytest.raises(ConfigError, match="rebin 2 does not divide the 5 bins"):
        build_model(hset, FitModel(rebin=2))
    # data where the simulation predicts nothing cannot be fitted
    zero = histogram_set(poisson_data(1.0, seed=1))
    h = zero.histograms["mass"]
    region = h.axes["region"].index("dy")
    h.view(flow=False).value[:, region, :, -1] = 0.0
    data = (h.axes["process"].index("data"), region, h.axes["variation"].index("nominal"), -1)
    h.view(flow=False).value[data] = 3.0
    with pytest.raises(EventLensError, match=r"region dy: 3 observed events in bin \[160, 200\)"):
        build_model(zero, MODEL)


# ---- the model in three files -------------------------------------------------------
@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("stats")
    hset = histogram_set(poisson_data(1.0, seed=1))
    model = write_statistics_inputs(hset, out, MODEL)
    return out, hset, model


def test_files_written(written):
    out, _, _ = written
    assert sorted(p.name for p in (out / STATS_DIR).iterdir()) == [
        "datacard.txt",
        "shapes.root",
        "workspace.json",
    ]
    assert read_histograms(out).histograms["mass"].axes["region"].size == 3


def test_shapes_root_opens_in_pyroot(written):
    """combine's layout: <region>/<process>, <region>/<process>_<syst>Up/Down, data_obs."""
    import ROOT

    out, _, _ = written
    f = ROOT.TFile.Open(str(out / STATS_DIR / "shapes.root"))
    assert f and not f.IsZombie()
    for region in REGIONS:
        d = f.Get(region)
        assert d and d.InheritsFrom("TDirectory")
        names = sorted(k.GetName() for k in d.GetListOfKeys())
        expected = ["data_obs", "dy", "ttbar", "wjets"]
        expected += [f"{p}_jes{s}" for p in JES for s in ("Up", "Down")]
        assert names == sorted(expected)
        h = f.Get(f"{region}/ttbar")
        assert h.InheritsFrom("TH1") and h.GetNbinsX() == len(EDGES) - 1
        assert h.GetXaxis().GetXmax() == EDGES[-1]
        assert h.Integral() == pytest.approx(sum(YIELDS[region]["ttbar"]))
        assert h.GetBinError(1) == pytest.approx(np.sqrt(0.05 * YIELDS[region]["ttbar"][0]))
    f.Close()


def test_workspace_valid_and_equal_to_shapes(written):
    """pyhf's nominal yields are shapes.root's histograms; at jes = ±1 σ pyhf
    reproduces the Up/Down templates (normsys × normalised histosys)."""
    import pyhf

    out, _, _ = written
    spec = json.loads((out / STATS_DIR / "workspace.json").read_text())
    pyhf.Workspace(spec)  # schema validation
    pdf, data = pyhf_model(spec)
    init = np.asarray(pdf.config.suggested_init(), dtype=float)
    by_sample = np.asarray(pdf.main_model.expected_data(init, return_by_sample=True))
    up = init.copy()
    up[pdf.config.par_names.index("jes")] = 1.0
    by_sample_up = np.asarray(pdf.main_model.expected_data(up, return_by_sample=True))
    with uproot.open(out / STATS_DIR / "shapes.root") as f:
        for channel in pdf.config.channels:
            sl = pdf.config.channel_slices[channel]
            np.testing.assert_allclose(
                np.asarray(data)[: pdf.config.nmaindata][sl], f[f"{channel}/data_obs"].values()
            )
            for i, sample in enumerate(pdf.config.samples):
                np.testing.assert_allclose(by_sample[i][sl], f[f"{channel}/{sample}"].values())
                key = f"{channel}/{sample}_jesUp"
                expect = f[key].values() if key in f else f[f"{channel}/{sample}"].values()
                np.testing.assert_allclose(by_sample_up[i][sl], expect, rtol=1e-12)


def test_datacard_matches_model(written):
    out, _, _ = written
    text = (out / STATS_DIR / "datacard.txt").read_text()
    lines = [ln.split() for ln in text.splitlines() if ln and not ln.startswith(("#", "-"))]
    rows = {ln[0]: ln[1:] for ln in lines if ln[0] in ("imax", "jmax", "observation", "rate")}
    assert rows["imax"][0] == "3" and rows["jmax"][0] == "2"
    assert "shapes * * shapes.root $CHANNEL/$PROCESS $CHANNEL/$PROCESS_$SYSTEMATIC" in text
    bins = next(ln[1:] for ln in lines if ln[0] == "bin" and len(ln) > 4)
    procs = [ln[1:] for ln in lines if ln[0] == "process"]
    assert procs[0][:3] == ["ttbar", "dy", "wjets"] and procs[1][:3] == ["0", "1", "2"]
    with uproot.open(out / STATS_DIR / "shapes.root") as f:
        for b, p, rate in zip(bins, procs[0], rows["rate"], strict=True):
            assert float(rate) == pytest.approx(f[f"{b}/{p}"].values().sum(), rel=1e-5)
        assert [float(x) for x in rows["observation"]] == pytest.approx(
            [f[f"{r}/data_obs"].values().sum() for r in REGIONS]
        )
    syst = {ln[0]: ln[1:] for ln in lines if len(ln) > 1 and ln[1] in ("lnN", "shape")}
    # lumi on every non-floating process; wjets floats: rateParam instead
    assert syst["lumi"][1:4] == ["1.016", "1.016", "-"]
    assert syst["xsec_wjets"][1:4] == ["-", "-", "1.05"]
    assert syst["jes"][1:4] == ["1", "-", "1"]
    assert "norm_wjets rateParam * wjets 1 [0,10]" in text
    assert text.rstrip().endswith("* autoMCStats 0")


def test_processes_without_yield_and_untouched_systematics_left_out():
    hset = histogram_set(poisson_data(1.0, seed=2))
    view = hset.histograms["mass"].view(flow=False)
    h = hset.histograms["mass"]
    p, r = h.axes["process"].index("dy"), h.axes["region"].index("ttbar")
    view.value[p, r] = 0.0  # no DY in the ttbar region, in any variation
    model = build_model(hset, FitModel())
    assert list(model.region("ttbar").templates) == ["ttbar", "wjets"]
    assert "jes" not in model.region("dy").templates["dy"].variations
    card = datacard_text(model)
    assert "lumi" not in card  # no luminosity uncertainty configured
    spec = workspace_spec(model)
    ttbar_channel = next(c for c in spec["channels"] if c["name"] == "ttbar")
    assert [s["name"] for s in ttbar_channel["samples"]] == ["ttbar", "wjets"]


def test_one_sided_variation_is_mirrored():
    hset = histogram_set(poisson_data(1.0, seed=3))
    h = hset.histograms["mass"]
    view = h.view(flow=False)
    view.value[:, :, h.axes["variation"].index("jesDown")] = 0.0  # only Up filled
    model = build_model(hset, FitModel())
    t = model.region("ttbar").templates["ttbar"]
    up, down = t.variations["jes"]
    np.testing.assert_allclose(down, 2 * t.nominal - up)


def test_without_data_the_observation_is_asimov():
    model = build_model(histogram_set(None), FitModel())
    assert model.observation == "asimov"
    for r in model.regions:
        np.testing.assert_allclose(r.observed, model.prediction(r, 1.0))


def test_default_fit_model_is_the_tasks(tmp_path):
    """fit_model=None: configs/fit/<task>.yaml (dtw floats W+jets, 1.6 % luminosity)."""
    model = write_statistics_inputs(histogram_set(poisson_data(1.0, seed=4)), tmp_path, None)
    assert model.signal == "ttbar" and model.floating == ["wjets"]
    assert model.lnn["lumi"] == {"ttbar": 1.016, "dy": 1.016}


def test_rebin_and_flow():
    hset = histogram_set(poisson_data(1.0, seed=5))
    h = hset.histograms["mass"]
    h.fill(process="dy", region="dy", variation="nominal", mass=500.0, weight=7.0)  # overflow
    plain = build_model(hset, FitModel())
    merged = build_model(hset, FitModel(rebin=5, include_flow=True))
    t, m = plain.region("dy").templates["dy"], merged.region("dy").templates["dy"]
    np.testing.assert_allclose(m.nominal, [t.nominal.sum() + 7.0])
    np.testing.assert_allclose(merged.region("dy").edges, [EDGES[0], EDGES[-1]])
    np.testing.assert_allclose(m.variance, [t.variance.sum() + 49.0])


def test_samples_sum_processes_into_one_fit_sample():
    """``samples:`` sums datasets (tt̄ of both lepton flavours) into one fit sample: the
    grouped model equals the ungrouped one with the members' yields and variances added;
    a member the run lacks is skipped; data cannot join a sample."""
    from eventlens.stats.model import group_processes

    hset = histogram_set(poisson_data(1.0, seed=4))
    fm = FitModel(samples={"bkg": ("dy", "wjets", "absent")}, floating=("bkg",))
    model = build_model(hset, fm)
    h = hset.histograms["mass"]
    for region in model.regions:
        one = {"region": hist.loc(region.name), "variation": hist.loc("nominal")}
        dy = h[{**one, "process": hist.loc("dy")}]
        wj = h[{**one, "process": hist.loc("wjets")}]
        t = region.templates["bkg"]
        np.testing.assert_allclose(t.nominal, dy.values() + wj.values())
        np.testing.assert_allclose(t.variance, dy.variances() + wj.variances())
        assert set(region.templates) == {"ttbar", "bkg"}
    grouped = group_processes(hset, fm.samples)
    assert list(grouped.histograms["mass"].axes["process"]) == ["bkg", "ttbar", "data"]
    assert grouped.histograms["mass"].sum().value == pytest.approx(h.sum().value)
    assert not grouped.info("bkg").signal and grouped.info("ttbar").signal
    assert FitModel(samples={"s": ("ttbar",)}).members("s") == ("ttbar",)
    assert FitModel().members("ttbar") == ("ttbar",)
    with pytest.raises(ConfigError, match="data process"):
        build_model(hset, FitModel(samples={"x": ("dy", "data")}))
