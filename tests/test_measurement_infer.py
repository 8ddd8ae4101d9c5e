"""The histogram contract through ``eventlens infer`` (issue 15), end to end.

The shipped DTW CNN on toy generator-like NanoAOD plus the real CMS files (2018
DoubleMuon data, v12 tt̄): ``histograms.json`` and the combine/pyhf inputs are written,
are identical for the iterative and futures executors, hold every variation, agree with
the nominal inference histograms; the lumi mask and trigger steps on real data.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from conftest import REPO
from nanoaod_toy import TASK_PROCESSES, fileset

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Missing cross-reference index:RuntimeWarning"),
]

MODEL = REPO / "onnx_models" / "dtw_compact_cnn.onnx"


@pytest.fixture(scope="module")
def mixed(toy_samples, nanoaod_dir):
    fs = fileset(toy_samples, TASK_PROCESSES["dtw"])
    fs["DoubleMuon2018"] = {"files": {str(nanoaod_dir / "nano_dimuon.root"): "Events"}}
    fs["tt_v12"] = {
        "files": {str(nanoaod_dir / "nano_tt_v12.root"): "Events"},
        "metadata": {"process": "ttbar", "xsec": 831.76},
    }
    return fs


@pytest.fixture(scope="module")
def runs(mixed, tmp_path_factory):
    from eventlens.pipeline.infer import run_inference

    base = tmp_path_factory.mktemp("measure")
    for executor in ("iterative", "futures"):
        run_inference(
            MODEL, mixed, base / executor, executor=executor, workers=2, chunksize=50, status=False
        )
    return base


def test_histograms_identical_across_executors(runs):
    a = json.loads((runs / "iterative" / "histograms.json").read_text())
    b = json.loads((runs / "futures" / "histograms.json").read_text())
    assert a == b
    for name in ("stats/datacard.txt", "stats/workspace.json"):
        assert (runs / "iterative" / name).read_bytes() == (runs / "futures" / name).read_bytes()
    import uproot  # a ROOT file carries its own UUID and date: compare the histograms

    with (uproot.open(runs / "iterative" / "stats" / "shapes.root") as fa,
          uproot.open(runs / "futures" / "stats" / "shapes.root") as fb):
        hists = fa.keys(filter_classname="TH1*")
        assert hists == fb.keys(filter_classname="TH1*") and hists
        for key in hists:
            assert fa[key].values(flow=True).tolist() == fb[key].values(flow=True).tolist()


def test_contract_processes_and_variations(runs):
    from eventlens.processors.registry import load_config
    from eventlens.processors.systematics import EventWeights, shape_variations
    from eventlens.stats import read_histograms

    hset = read_histograms(runs / "iterative")
    assert set(hset.histograms) == {"mass", "score", "mass_cutbased", "mass_inclusive"}
    h = hset.histograms["mass"]
    assert sorted(h.axes["process"]) == ["data", "dy", "ttbar", "wjets"]
    assert list(h.axes["region"]) == ["dy", "wjets", "ttbar"]
    cfg = load_config("dtw")
    want = ["nominal", *EventWeights(cfg).variations(), *(v.label for v in shape_variations(cfg))]
    assert list(h.axes["variation"]) == want
    assert {"muon_idUp", "electron_idDown", "btag_lightUp"} <= set(want)  # both lepton SFs
    assert hset.info("data").data
    assert hset.real_data  # DoubleMuon is collision data, not pseudo-data
    assert hset.info("ttbar").signal and not hset.info("dy").signal
    data = h[{"process": "data"}]
    assert data[{"variation": "nominal"}].values(flow=True).sum() > 0
    assert all(
        data[{"variation": v}].values(flow=True).sum() == 0 for v in want if v != "nominal"
    )
    # every simulated process gets every variation; the real tt̄ file's JES shifts change it
    tt = h[{"process": "ttbar"}]
    nominal = tt[{"variation": "nominal"}].values(flow=True)
    assert not np.array_equal(tt[{"variation": "jesUp"}].values(flow=True), nominal)
    assert tt[{"variation": "btag_bcUp"}].values(flow=True).sum() != nominal.sum()
    # the real tt̄ file has selected electrons: their ID SF moves the yield
    assert tt[{"variation": "electron_idUp"}].values(flow=True).sum() > nominal.sum()


def test_nominal_agrees_with_the_inference_histograms(runs):
    from eventlens.pipeline.infer import read_inference
    from eventlens.stats import read_histograms

    inference = read_inference(runs / "iterative")["hists"]["mass"]
    contract = read_histograms(runs / "iterative").histograms
    datasets = {"dy": ["dy"], "wjets": ["wjets"], "ttbar": ["ttbar", "tt_v12"],
                "data": ["DoubleMuon2018"]}
    for proc, names in datasets.items():
        for region in ("dy", "wjets", "ttbar"):
            want = sum(
                inference[{"dataset": n, "truth": sum, "predicted": region}].values(flow=True)
                for n in names
            )
            got = contract["mass"][{"process": proc, "region": region, "variation": "nominal"}]
            np.testing.assert_allclose(got.values(flow=True), want, rtol=1e-12)
        inclusive = contract["mass_inclusive"][{"process": proc, "variation": "nominal"}]
        total = sum(
            contract["mass"][{"process": proc, "region": r, "variation": "nominal"}].values(
                flow=True
            )
            for r in ("dy", "wjets", "ttbar")
        )
        np.testing.assert_allclose(inclusive[{"region": "all"}].values(flow=True), total)


def test_statistics_inputs_are_written_and_valid(runs):
    import pyhf
    import uproot

    out = runs / "iterative"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["statistics"]["workspace"] == "stats/workspace.json"
    pyhf.Workspace(json.loads((out / "stats" / "workspace.json").read_text()))
    with uproot.open(out / "stats" / "shapes.root") as f:
        keys = {k.split(";")[0] for k in f.keys()}  # noqa: SIM118 - a ROOT directory
    assert {"ttbar/ttbar", "ttbar/data_obs", "ttbar/ttbar_jesUp"} <= keys
    card = (out / "stats" / "datacard.txt").read_text()
    assert "jes shape" in " ".join(card.split())


def test_variation_counts_add_up(runs):
    summary = json.loads((runs / "iterative" / "summary.json").read_text())
    counts = summary["variations"]
    assert set(counts) == {"jesUp", "jesDown", "jerUp", "met_unclusteredUp",
                           "met_unclusteredDown", "muon_scaleUp", "muon_scaleDown"}
    for c in counts.values():
        assert c["same_picture"] + c["classified"] == c["selected"]
        assert c["same_picture"] <= c["shared"] <= c["selected"]
    # a 0.2 % muon scale almost never changes a 32x32 picture; JER (5-15 %) often does
    assert counts["muon_scaleUp"]["fraction_classified"] < counts["jerUp"]["fraction_classified"]


def test_nominal_only_when_shapes_are_off(mixed, tmp_path):
    from eventlens.cli import main
    from eventlens.stats import read_histograms

    fs = tmp_path / "fs.json"
    fs.write_text(json.dumps({k: mixed[k] for k in ("ttbar", "dy")}))
    args = ["infer", "--model", str(MODEL), "--fileset", str(fs), "-o", str(tmp_path / "o")]
    assert main([*args, "--no-shapes"]) == 0
    variations = list(read_histograms(tmp_path / "o").histograms["mass"].axes["variation"])
    assert "jesUp" not in variations and "muon_idUp" in variations


# ---- lumi mask and triggers on real data -------------------------------------------------
def _config(tmp_path, data_block):
    cfg = yaml.safe_load((REPO / "configs" / "selection" / "dtw.yaml").read_text())
    cfg["data"] = data_block
    path = tmp_path / "dtw_data.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_lumi_mask_and_triggers_on_real_data(nanoaod_dir, tmp_path):
    import uproot

    from eventlens.pipeline.select import run_selection

    paths = ["HLT_IsoMu24", "HLT_Mu17_TrkIsoVVL_Mu8_TrkIsoVVL_DZ_Mass8"]
    data_file = nanoaod_dir / "nano_dimuon.root"
    arrays = uproot.open(data_file)["Events"].arrays(
        ["run", "luminosityBlock", *paths], library="np"
    )
    (run_number,) = set(arrays["run"].tolist())
    (lumi,) = set(arrays["luminosityBlock"].tolist())
    fired = int((arrays[paths[0]] | arrays[paths[1]]).sum())
    n = len(arrays["run"])
    fs = {
        "data": {"files": {str(data_file): "Events"}},
        "dy": {"files": {str(nanoaod_dir / "nano_dy.root"): "Events"},
               "metadata": {"process": "dy", "xsec": 6077.0}},
    }
    for mask, certified in (([[lumi, lumi]], n), ([[1, lumi - 1]], 0)):
        (tmp_path / "golden.json").write_text(json.dumps({str(run_number): mask}))
        config = _config(tmp_path, {"lumi_mask": "golden.json", "triggers": paths})
        out = tmp_path / f"sel_{certified}"
        run_selection("dtw", fs, out, status=False, config=config)
        cutflow = json.loads((out / "cutflow.json").read_text())
        steps = cutflow["data"]["steps"]
        assert {"lumi_mask", "trigger"} <= set(steps)  # (their order: the unit tests)
        assert steps["lumi_mask"] == {"bad": 0, "failed": n - certified, "passed": certified}
        assert steps["trigger"]["passed"] == (fired if certified else 0)
        sim = cutflow["dy"]["steps"]
        assert sim["lumi_mask"]["failed"] == 0 and sim["trigger"]["failed"] == 0


def test_missing_trigger_branch_in_data_is_one_line(nanoaod_dir, tmp_path):
    from eventlens.errors import InputFileError
    from eventlens.pipeline.select import run_selection

    config = _config(tmp_path, {"triggers": ["HLT_NotAPath"]})
    fs = {"data": {"files": {str(nanoaod_dir / "nano_dimuon.root"): "Events"}}}
    with pytest.raises(InputFileError, match=r"no trigger branch HLT_NotAPath .*data\.triggers"):
        run_selection("dtw", fs, tmp_path / "out", status=False, config=config)
