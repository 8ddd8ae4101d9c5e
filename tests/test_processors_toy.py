"""Every task on small generated-like NanoAOD files, plus the robustness rules."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from eventlens.errors import ConfigError, InputFileError
from eventlens.pipeline.select import run_selection
from eventlens.pipeline.table import load_table, read_manifest
from eventlens.processors.cutflow import check_balance
from eventlens.processors.registry import load_config
from nanoaod_toy import (
    TASK_PROCESSES,
    TOY_XSEC_PB,
    corrupt_basket,
    event,
    fileset,
    muon_pair,
    obj,
    write_nanoaod,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Missing cross-reference index:RuntimeWarning",
    "ignore:Branch Photon_mass already exists:RuntimeWarning",
)

#: Expected class of each toy process per task (dimuon: by mass window).
EXPECTED = {
    "dimuon": {
        "dy": "z",
        "dy_lowmass": "none",
        "jpsi": "jpsi",
        "psi2s": "psi2s",
        "upsilon": "upsilon",
    },
    "dtw": {"dy": "dy", "wjets": "wjets", "ttbar": "ttbar"},
    "dhjw": {"dy": "dy", "higgs_4mu": "higgs", "jpsi": "jpsi", "wjets": "wjets"},
    "hgg": {"hgg": "signal", "diphoton": "background"},
}


def select(task, fs, out, **kw):
    return run_selection(task, fs, out, status=False, **kw)


@pytest.mark.parametrize("task", sorted(TASK_PROCESSES))
def test_task_on_generated_like_samples(task, toy_samples, tmp_path):
    res = select(task, fileset(toy_samples, TASK_PROCESSES[task]), tmp_path)
    cfg = load_config(task)
    table = load_table(tmp_path)
    for ds, cf in res.cutflow.items():
        check_balance(cf)
        assert cf["read"] == 40
        rows = table[table.dataset == ds]
        assert len(rows) == cf["selected"]
        if len(rows) == 0:
            continue
        labels = np.unique(ak.to_numpy(rows.label), return_counts=True)
        majority = cfg.classes[labels[0][np.argmax(labels[1])]]
        assert majority == EXPECTED[task][ds], (ds, labels)
        if cfg.labels.source == "metadata":  # one class per dataset
            assert len(labels[0]) == 1
    assert res.manifest["classes"] == list(cfg.classes)


def test_weights_are_normalised_to_xsec_times_lumi(toy_samples, tmp_path):
    """Σ weight over all events = σ L; selected events carry their share."""
    lumi = 2500.0
    fs = fileset(toy_samples, ["dy", "jpsi"])
    res = select("dhjw", fs, tmp_path, luminosity_pb=lumi)  # dhjw keeps every toy dy/jpsi event
    table = load_table(tmp_path)
    for ds in ("dy", "jpsi"):
        assert res.cutflow[ds]["selected"] == 40
        total = float(ak.sum(table[table.dataset == ds].weight))
        assert total == pytest.approx(TOY_XSEC_PB[ds] * lumi, rel=1e-6)
        assert res.manifest["datasets"][ds]["sumw_source"] == "Runs.genEventSumw"
    # metadata sumw wins over the Runs tree
    fs["dy"]["metadata"]["sumw"] = 4.0 * 20  # twice the file's Σ genWeight (toy weights ±1)
    res = select("dhjw", fs, tmp_path / "again", luminosity_pb=lumi)
    table = load_table(tmp_path / "again")
    assert res.manifest["datasets"]["dy"]["sumw_source"] == "metadata"
    with uproot.open(toy_samples["dy"]) as f:
        sumw = float(f["Runs"]["genEventSumw"].array()[0])
    got = float(ak.sum(table[table.dataset == "dy"].weight))
    assert got == pytest.approx(TOY_XSEC_PB["dy"] * lumi * sumw / 80.0, rel=1e-6)


def test_dimuon_windows_end_to_end(tmp_path):
    """Pairs just inside and just outside each window edge, through coffea."""
    masses = [
        2.935,
        2.945,
        3.235,
        3.245,
        3.645,
        3.655,
        3.945,
        3.955,
        6.455,
        6.465,
        12.455,
        12.465,
        83.685,
        83.695,
        98.685,
        98.695,
    ]
    want = [
        "none",
        "jpsi",
        "jpsi",
        "none",
        "none",
        "psi2s",
        "psi2s",
        "none",
        "none",
        "upsilon",
        "upsilon",
        "none",
        "none",
        "z",
        "z",
        "none",
    ]
    events = [event(muons=muon_pair(m, pt=max(10.0, m))) for m in masses]
    path = write_nanoaod(tmp_path / "edges.root", events)
    select("dimuon", {"edges": [str(path)]}, tmp_path / "out")
    table = load_table(tmp_path / "out")
    classes = load_config("dimuon").classes
    np.testing.assert_allclose(ak.to_numpy(table.mass), masses, atol=2e-4)
    assert [classes[i] for i in ak.to_numpy(table.label)] == want


def test_nan_and_inf_values_are_counted_not_written(tmp_path):
    good = muon_pair(91.0, pt=60.0)
    events = [
        event(muons=good),
        event(muons=[obj(pt=float("nan")), good[1]]),  # bad at two_good_muons
        event(muons=good, met=(float("inf"), 0.0)),  # bad at finite_objects (MET)
        event(muons=good, gen_weight=float("nan")),  # bad at finite_weight
        event(muons=[good[0], {**good[1], "phi": float("nan")}]),  # bad at finite_objects
        event(muons=good[:1]),  # fails two_good_muons
    ]
    path = write_nanoaod(tmp_path / "nan.root", events)
    fs = {"dy": {"files": {str(path): "Events"}, "metadata": {"process": "dy", "xsec": 1.0}}}
    res = select("dimuon", fs, tmp_path / "out")
    cf = res.cutflow["dy"]
    check_balance(cf)
    assert cf["steps"]["finite_weight"]["bad"] == 1
    assert cf["steps"]["two_good_muons"] == {"bad": 1, "failed": 1, "passed": 3}
    assert cf["steps"]["finite_objects"] == {"bad": 2, "failed": 0, "passed": 1}
    assert load_table(tmp_path / "out").event.tolist() == [1]


def test_met_fallback_and_optional_collection(toy_samples, tmp_path):
    """PFMET instead of MET (NanoAOD v15) and no Electron collection (optional in dtw)."""
    from nanoaod_toy import process_events

    path = write_nanoaod(
        tmp_path / "w.root", process_events("wjets", 20, 5), met_name="PFMET", drop=["Electron"]
    )
    fs = {"wjets": {"files": {str(path): "Events"}, "metadata": {"process": "wjets", "xsec": 1.0}}}
    res = select("dtw", fs, tmp_path / "out")
    assert res.cutflow["wjets"]["selected"] == 20
    notes = " ".join(res.manifest["notes"])
    assert "MET read from PFMET_pt/PFMET_phi" in notes
    assert "no Electron collection, read as empty" in notes
    met = load_table(tmp_path / "out").objects
    assert ak.all(ak.sum(met["type"] == 4, axis=1) == 1)


def test_missing_branch_names_file_and_branch(toy_samples, tmp_path):
    from nanoaod_toy import process_events

    path = write_nanoaod(
        tmp_path / "noid.root", process_events("wjets", 10, 6), drop=["Muon_tightId"]
    )
    fs = {
        "wjets": {"files": {str(path): "Events"}, "metadata": {"process": "wjets", "xsec": 1.0}},
        "ttbar": fileset(toy_samples, ["ttbar"])["ttbar"],
    }
    with pytest.raises(InputFileError, match=r"noid.root: missing branch Muon_tightId"):
        select("dtw", fs, tmp_path / "out")
    res = select("dtw", fs, tmp_path / "out", skip_bad_files=True)
    assert [s["file"] for s in res.manifest["skipped"]] == [str(path)]
    assert res.cutflow["wjets"]["read"] == 0 and res.cutflow["ttbar"]["read"] == 40


def test_unreadable_files(toy_samples, tmp_path):
    garbage = tmp_path / "garbage.root"
    garbage.write_bytes(b"this is not a ROOT file" * 10)
    fs = {"dy": [str(garbage), str(toy_samples["dy"])]}
    with pytest.raises(InputFileError, match=r"garbage.root: not a readable ROOT file"):
        select("dimuon", fs, tmp_path / "a")
    with pytest.raises(InputFileError, match=r"missing.root: no such file"):
        select("dimuon", {"dy": [str(tmp_path / "missing.root")]}, tmp_path / "b")
    res = select("dimuon", fs, tmp_path / "c", skip_bad_files=True)
    assert res.cutflow["dy"]["read"] == 40
    assert "not a readable ROOT file" in res.manifest["skipped"][0]["reason"]


def test_corrupt_basket_mid_file(toy_samples, tmp_path):
    """The file opens, but entries 20-40 cannot be decompressed: caught per chunk."""
    bad = corrupt_basket(toy_samples["jpsi"], tmp_path / "jpsi_bad.root", "Muon_pt", basket=1)
    fs = {"jpsi": {"files": {str(bad): "Events"}, "metadata": {"process": "jpsi", "xsec": 1.0}}}
    with pytest.raises(InputFileError, match=r"jpsi_bad.root: entries 20-40 unreadable"):
        select("dimuon", fs, tmp_path / "a", chunksize=20)
    res = select("dimuon", fs, tmp_path / "b", chunksize=20, skip_bad_files=True)
    cf = res.cutflow["jpsi"]
    check_balance(cf)
    assert cf["read"] == 20
    skipped = res.manifest["skipped"]
    assert (skipped[0]["entry_start"], skipped[0]["entry_stop"]) == (20, 40)
    assert len(load_table(tmp_path / "b")) == cf["selected"]


def test_remote_open_data_error_is_plain(tmp_path):
    """The shipped CMS Open Data fileset: real root:// paths, unreachable from here."""
    from eventlens.config import config_dir
    from eventlens.pipeline.fileset import load_fileset

    path = config_dir() / "filesets" / "cms_opendata_2016.json"
    datasets = load_fileset(path)
    assert set(datasets) == {"DoubleMuon_Run2016H", "dy", "wjets", "ttbar"}
    for ds in datasets.values():
        assert all(f.startswith("root://eospublic.cern.ch//eos/opendata/cms/") for f in ds.files)
        assert "not reachable" in ds.metadata["note"].lower()
        assert ds.name == "DoubleMuon_Run2016H" or ds.metadata["xsec"] > 0
    first = next(iter(datasets["DoubleMuon_Run2016H"].files))
    with pytest.raises(InputFileError) as err:
        select("dimuon", path, tmp_path, timeout=5)
    message = str(err.value)
    assert message.startswith(first)
    assert "XRootD" in message and "\n" not in message


def test_process_outside_the_classes_is_kept_as_other(toy_samples, tmp_path):
    """A full analysis fileset (here: H->4mu in a DTW run) runs in one go: the dataset is
    selected under its own name with label -1 ("other"), and a note says so."""
    fs = fileset(toy_samples, ["dy", "higgs_4mu"])
    res = select("dtw", fs, tmp_path / "a")
    assert res.manifest["datasets"]["higgs_4mu"]["class"] == -1
    assert res.manifest["datasets"]["dy"]["class"] == 0
    assert any("'higgs_4mu' is not a class of task dtw" in n for n in res.manifest["notes"])
    rows = load_table(tmp_path / "a")
    labels = np.asarray(rows.label[rows.dataset == "higgs_4mu"]).tolist()
    assert labels and set(labels) == {-1}
    assert "higgs_4mu" in list(res.hists["mass"].axes["dataset"])


def test_config_errors_before_processing(toy_samples, tmp_path):
    bad_meta = {"dy": {"files": [str(toy_samples["dy"])], "metadata": {"dataset": "x"}}}
    with pytest.raises(ConfigError, match="reserved by coffea"):
        select("dimuon", bad_meta, tmp_path / "b")


def test_output_folder_is_not_silently_reused(toy_samples, tmp_path):
    fs = fileset(toy_samples, ["jpsi"])
    select("dimuon", fs, tmp_path)
    with pytest.raises(FileExistsError, match="--overwrite"):
        select("dimuon", fs, tmp_path)
    (tmp_path / "tables" / "stale.parquet").write_bytes(b"")
    (tmp_path / "my_notes.txt").write_text("mine")  # not eventlens': carried over
    res = select("dimuon", fs, tmp_path, overwrite=True, luminosity_pb=1.0)
    assert not (tmp_path / "tables" / "stale.parquet").exists()
    assert (tmp_path / "my_notes.txt").read_text() == "mine"
    assert read_manifest(tmp_path)["luminosity_pb"] == 1.0
    assert res.manifest["rows"] == len(load_table(tmp_path))
    assert not tmp_path.with_name(tmp_path.name + ".incomplete").exists()


def test_simulation_without_xsec_keeps_bare_genweight(toy_samples, tmp_path):
    fs = {"jpsi": {"files": [str(toy_samples["jpsi"])], "metadata": {"process": "jpsi"}}}
    res = select("dhjw", fs, tmp_path)
    assert res.manifest["datasets"]["jpsi"]["weight_mode"] == "genWeight"
    assert set(np.abs(ak.to_numpy(load_table(tmp_path).weight))) == {1.0}
    assert any("no xsec" in n for n in res.manifest["notes"])


@pytest.mark.integration
def test_dimuon_on_the_project_generator(generated_sample, tmp_path):
    """Real Pythia 8 + detector files (the same samples the generator tests use)."""
    fs = {
        p: {
            "files": {str(generated_sample(p, n)): "Events"},
            "metadata": {"process": p, "xsec": 1.0},
        }
        for p, n in (("jpsi", 600), ("dy", 800))
    }
    res = select("dimuon", fs, tmp_path)
    classes = load_config("dimuon").classes
    table = load_table(tmp_path)
    for ds, want in (("jpsi", "jpsi"), ("dy", "z")):
        check_balance(res.cutflow[ds])
        labels = ak.to_numpy(table[table.dataset == ds].label)
        assert np.mean(labels == classes.index(want)) > 0.75, (ds, np.bincount(labels))
        # Runs.genEventSumw normalises: the selected weights are a fraction of σ·L
        assert res.manifest["datasets"][ds]["sumw_source"] == "Runs.genEventSumw"
        assert 0 < float(ak.sum(table[table.dataset == ds].weight)) <= 1.0 * 1000.0 * 1.001
