"""Every task on the real CMS NanoAOD files (2018 DoubleMuon data, DY MC, the
uproot-written v12 tt̄ file with per-branch counters, an empty file)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot

from eventlens.errors import InputFileError
from eventlens.pipeline.select import run_selection
from eventlens.pipeline.table import TABLE_SCHEMA, load_table, table_files
from eventlens.processors.cutflow import check_balance
from eventlens.processors.labels import window_labels
from eventlens.processors.registry import load_config, task_names

# NanoAODSchema's notes on cross-references the processors do not use
pytestmark = pytest.mark.filterwarnings(
    "ignore:Missing cross-reference index:RuntimeWarning",
    "ignore:Branch Photon_mass already exists:RuntimeWarning",
)

DY_XSEC, TT_XSEC = 6077.22, 833.9
DATA, DY, EMPTY, TT = "nano_dimuon.root", "nano_dy.root", "nano_dy_empty.root", "nano_tt_v12.root"


def real_fileset(d, task):
    """Real files labelled sensibly for each task (data has no class)."""
    dy = {
        "files": {str(d / DY): "Events", str(d / EMPTY): "Events"},
        "metadata": {"process": "dy", "xsec": DY_XSEC},
    }
    fs = {"DoubleMuon2018": [str(d / DATA)], "dy": dy}
    if task in ("dimuon", "dtw"):
        fs["ttbar"] = {
            "files": {str(d / TT): "Events"},
            "metadata": {"process": "ttbar", "xsec": TT_XSEC},
        }
    if task == "hgg":  # DY (→ fake photons) stands in for the background class
        dy["metadata"] = {"label": "background", "xsec": DY_XSEC}
    return fs


@pytest.fixture(scope="module")
def real_runs(nanoaod_dir, tmp_path_factory):
    """One iterative run per task, made on first use."""
    cache = {}

    def get(task):
        if task not in cache:
            out = tmp_path_factory.mktemp(f"real_{task}")
            cache[task] = run_selection(task, real_fileset(nanoaod_dir, task), out, status=False)
        return cache[task]

    return get


TASKS = task_names()


@pytest.mark.parametrize("task", TASKS)
def test_real_files_every_event_accounted(real_runs, task):
    res = real_runs(task)
    entries = {"DoubleMuon2018": 40, "dy": 40, "ttbar": 200}
    for ds, cf in res.cutflow.items():
        check_balance(cf)
        assert cf["read"] == entries[ds], ds
        assert res.manifest["datasets"][ds]["entries"] == entries[ds]
    assert (
        res.manifest["datasets"]["dy"]["files"] == 2
    )  # the empty file is counted, read as 0 events
    selected = sum(cf["selected"] for cf in res.cutflow.values())
    assert res.manifest["rows"] == selected
    assert sum(f["rows"] for f in res.manifest["files"]) == selected


@pytest.mark.parametrize("task", TASKS)
def test_real_tables_have_the_documented_layout(real_runs, task):
    res = real_runs(task)
    for path in table_files(res.output_dir):
        assert pq.read_schema(path).remove_metadata() == TABLE_SCHEMA
    table = load_table(res.output_dir)
    assert len(table) == res.manifest["rows"]
    if len(table) == 0:
        return
    flat = ak.flatten(table.objects)
    for field in ("pt", "eta", "phi", "mass", "btag"):
        assert np.isfinite(ak.to_numpy(flat[field])).all()
    data = table[table.dataset == "DoubleMuon2018"]
    assert (ak.to_numpy(data.weight) == 1.0).all()
    if task != "dimuon":
        assert (ak.to_numpy(data.label) == -1).all()
    # weighted histogram total == table weight total
    h = res.hists["mass"]
    for ds in ("DoubleMuon2018", "dy"):
        want = float(ak.sum(table[table.dataset == ds].weight))
        got = float(h[{"dataset": ds}].sum(flow=True).value) if ds in h.axes["dataset"] else 0.0
        assert got == pytest.approx(want, rel=1e-9)


def test_real_dimuon_mass_and_labels(real_runs, nanoaod_dir):
    res = real_runs("dimuon")
    cfg = load_config("dimuon")
    table = load_table(res.output_dir)
    mu = table.objects
    assert ak.all(ak.num(mu) == 2)
    assert ak.all(mu["type"] == 1)  # mu.type is awkward's type attribute, not the field
    assert ak.all(mu.charge[:, 0] * mu.charge[:, 1] < 0)
    # the stored pair reproduces the stored mass (massive-muon formula, float32 inputs)
    pt, eta, phi, m = (ak.to_numpy(mu[f]).astype(np.float64) for f in ("pt", "eta", "phi", "mass"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    mass = np.sqrt(e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2)
    np.testing.assert_allclose(ak.to_numpy(table.mass), mass, rtol=2e-5)
    assert (ak.to_numpy(table.label) == window_labels(ak.to_numpy(table.mass), cfg)).all()
    # the real data hold Z candidates: some events must be labelled Z
    assert (ak.to_numpy(table.label[table.dataset == "DoubleMuon2018"]) == 4).sum() > 0
    # MC weights: genWeight × σ × L / Σw from the Runs tree (genEventSumw_ in this old file)
    dy = table[table.dataset == "dy"]
    with uproot.open(nanoaod_dir / DY) as f:
        sumw = float(f["Runs"]["genEventSumw_"].array(library="np").sum())
        ev = f["Events"].arrays(["event", "genWeight"], library="np")
    gw = dict(zip(ev["event"].tolist(), ev["genWeight"].tolist(), strict=True))
    want = [gw[int(i)] * DY_XSEC * cfg.luminosity_pb / sumw for i in ak.to_numpy(dy.event)]
    np.testing.assert_allclose(ak.to_numpy(dy.weight), want, rtol=1e-12)
    assert res.manifest["datasets"]["dy"]["sumw_source"] == "Runs.genEventSumw"


def test_real_v12_file_with_per_branch_counters(real_runs):
    res = real_runs("dtw")
    assert res.cutflow["ttbar"]["read"] == 200
    table = load_table(res.output_dir)
    tt = table[table.dataset == "ttbar"]
    assert len(tt) > 0 and (ak.to_numpy(tt.label) == 2).all()
    # jets, a lepton and MET are in every dtw event
    types = ak.to_numpy(ak.flatten(tt.objects["type"]))
    assert {0, 1}.intersection(types) and 3 in types and 4 in types
    # no Runs tree in this file: Σ genWeight of Events is the documented fallback
    assert res.manifest["datasets"]["ttbar"]["sumw_source"] == "Events.genWeight"


def test_real_empty_file_alone(nanoaod_dir, tmp_path):
    res = run_selection("dimuon", {"empty": [str(nanoaod_dir / EMPTY)]}, tmp_path, status=False)
    assert res.cutflow["empty"]["read"] == 0
    assert res.manifest["rows"] == 0 and res.manifest["files"] == []
    assert len(load_table(tmp_path)) == 0


def test_real_missing_collection_names_file_and_branch(nanoaod_dir, tmp_path):
    """The v12 tt̄ file has no photons: hgg cannot run on it."""
    fs = {"tt": {"files": {str(nanoaod_dir / TT): "Events"}, "metadata": {"label": "background"}}}
    with pytest.raises(InputFileError, match=r"nano_tt_v12.root: no Photon collection"):
        run_selection("hgg", fs, tmp_path, status=False)
