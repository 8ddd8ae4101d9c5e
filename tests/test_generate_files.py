"""The files the generator writes: NanoAOD layout, readers (coffea, RDataFrame), clusters,
reproducibility.  Real Pythia with the default configuration (MPI on), small samples."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import awkward as ak
import numpy as np
import pytest
import uproot

import eventlens
from eventlens.generate import GenerationRequest, generate, load_registry
from eventlens.generate.nanoaod import read_metadata
from eventlens.generate.registry import settings_hash
from eventlens.generate.run import sample_settings

pytestmark = pytest.mark.integration

#: Branch -> ROOT type name as uproot reports it (CMS NanoAOD v9 names and types;
#: counters are Int_t because uproot writes them so).
EXPECTED_TYPES = {
    "run": "uint32_t", "luminosityBlock": "uint32_t", "event": "uint64_t", "genWeight": "float",
    "nMuon": "int32_t", "Muon_pt": "float[]", "Muon_eta": "float[]", "Muon_phi": "float[]",
    "Muon_mass": "float[]", "Muon_charge": "int32_t[]", "Muon_pfRelIso04_all": "float[]",
    "Muon_tightId": "bool[]", "Muon_mediumId": "bool[]", "Muon_looseId": "bool[]",
    "Muon_dxy": "float[]", "Muon_dz": "float[]", "Muon_genPartIdx": "int32_t[]",
    "nElectron": "int32_t", "Electron_pt": "float[]", "Electron_charge": "int32_t[]",
    "Electron_pfRelIso03_all": "float[]", "Electron_cutBased": "int32_t[]",
    "Electron_genPartIdx": "int32_t[]",
    "nPhoton": "int32_t", "Photon_pt": "float[]", "Photon_pfRelIso03_all": "float[]",
    "Photon_cutBased": "int32_t[]", "Photon_mvaID": "float[]", "Photon_genPartIdx": "int32_t[]",
    "nJet": "int32_t", "Jet_pt": "float[]", "Jet_eta": "float[]", "Jet_phi": "float[]",
    "Jet_mass": "float[]", "Jet_btagDeepFlavB": "float[]", "Jet_hadronFlavour": "int32_t[]",
    "Jet_jetId": "int32_t[]",
    "MET_pt": "float", "MET_phi": "float", "MET_sumEt": "float", "GenMET_pt": "float",
    "GenMET_phi": "float",
    "nGenPart": "int32_t", "GenPart_pt": "float[]", "GenPart_pdgId": "int32_t[]",
    "GenPart_status": "int32_t[]", "GenPart_statusFlags": "int32_t[]",
    "GenPart_genPartIdxMother": "int32_t[]",
    "Generator_x1": "float", "Generator_id1": "int32_t", "Generator_scalePDF": "float",
}


@pytest.fixture(scope="module")
def ttbar(generated_sample):
    return generated_sample("ttbar", 120, mpi=True)


def test_events_tree_has_nanoaod_names_and_types(ttbar):
    with uproot.open(ttbar) as f:
        assert f.classname_of("Events") == "TTree"  # not an RNTuple
        types = f["Events"].typenames()
        runs = f["Runs"].arrays(library="np")
    wrong = {k: (types.get(k), t) for k, t in EXPECTED_TYPES.items() if types.get(k) != t}
    assert not wrong, wrong
    assert runs["genEventCount"].tolist() == [120]
    assert runs["genEventSumw"].tolist() == [120.0]
    assert runs["run"].dtype == np.uint32


def test_metadata_records_settings_version_seed_and_xsec(ttbar):
    meta = read_metadata(ttbar)
    assert meta["process"] == "ttbar" and meta["seed"] == 1 and meta["mpi"] is True
    assert meta["eventlens_version"] == eventlens.__version__
    assert 40 < meta["xsec_pb"] < 90  # LO Pythia semileptonic-μ tt̄ (both charges) ~64 pb
    assert meta["n_accepted"] == 120 and meta["n_tried"] >= 120
    settings = meta["settings_json"]
    assert settings["process"]["instances"][0][0].startswith("Top:gg2ttbar")
    assert "Tune:pp = 14" in settings["tune"]
    assert settings["detector"]["jet"]["btag_wp"] == 0.2783
    # the stored hash is the hash of what this registry would generate now
    reg = load_registry()
    request = GenerationRequest("ttbar", 120, 1, ttbar, mpi=True)
    assert meta["settings_hash"] == settings_hash(sample_settings(reg, reg.get("ttbar"), request))


def test_coffea_nanoaodschema_reads_the_file(ttbar):
    from eventlens.nanoaod import open_events

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = open_events(ttbar)
        assert len(ev) == 120
        for name in ("Muon", "Electron", "Photon", "Jet", "GenPart", "MET", "GenMET"):
            assert name in ev.fields
        mu = ev.Muon[ak.num(ev.Muon) >= 2]
        assert ak.all((mu[:, 0] + mu[:, 1]).mass > 0)
        matched = ev.Muon.matched_gen  # genPartIdx cross-reference into GenPart
        assert ak.all(abs(ak.flatten(matched.pdgId, axis=None)) == 13)
        tight = ev.Muon[ev.Muon.tightId & (ev.Muon.pfRelIso04_all < 0.15)]
        assert ak.sum(ak.num(tight)) > 60
        assert ak.sum(ev.Jet.btagDeepFlavB > 0.2783) > 100
        assert ak.all(ev.Jet.jetId >= 0) and ak.all(ev.MET.pt >= 0)
        assert ak.all(ev.Electron.cutBased <= 4) and ak.all(ev.Photon.cutBased <= 3)


def test_rdataframe_reads_the_file_like_uproot(ttbar):
    from eventlens._root import root

    ROOT = root()
    df = ROOT.RDataFrame("Events", str(ttbar))
    with uproot.open(ttbar) as f:
        ev = f["Events"].arrays(["MET_pt", "nMuon", "Jet_btagDeepFlavB", "event"])
    n_tagged = df.Define("nb", "Sum(Jet_btagDeepFlavB > 0.2783f)").Sum("nb")
    n_mu = df.Define("nmu", "Muon_pt.size()").Sum("nmu")
    met = df.Sum("MET_pt")
    assert df.Count().GetValue() == 120
    assert n_mu.GetValue() == ak.sum(ev.nMuon)
    assert n_tagged.GetValue() == ak.sum(ev.Jet_btagDeepFlavB > 0.2783)
    assert met.GetValue() == pytest.approx(float(ak.sum(ev.MET_pt)), rel=1e-5)
    assert df.GetColumnType("event") == "ULong64_t"


_MT_CHECK = textwrap.dedent("""
    import sys, json, warnings
    warnings.simplefilter("ignore")
    import ROOT
    f = ROOT.TFile.Open(sys.argv[1]); t = f.Get("Events")
    it = t.GetClusterIterator(0); starts = []
    s = it()
    while s < t.GetEntries():
        starts.append(int(s)); s = it()
    ROOT.EnableImplicitMT(2)
    ROOT.gInterpreter.Declare("#include <unistd.h>\\nint el_nap(){ usleep(3000); return 0; }")
    df = ROOT.RDataFrame("Events", sys.argv[1])
    slots = df.Define("s", "(unsigned int)(el_nap() + rdfslot_)").Take["unsigned int"]("s")
    print(json.dumps({"clusters": starts, "slots": sorted(set(slots.GetValue()))}))
""")


@pytest.mark.slow
def test_root_sees_clusters_and_implicit_mt_splits_them(tmp_path):
    """uproot trees look like one cluster to ROOT; ours are split (fAutoFlush = cluster size)."""
    path = tmp_path / "dy.root"
    generate(GenerationRequest("dy", 400, 2, path, mpi=False, cluster_size=50, batch_size=70,
                               progress=False))
    with uproot.open(path) as f:
        baskets = f["Events"]["Muon_pt"].member("fBasketEntry")[:9].tolist()
    assert baskets == list(range(0, 450, 50))  # one basket per cluster, every branch
    proc = subprocess.run([sys.executable, "-c", _MT_CHECK, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["clusters"] == list(range(0, 400, 50))
    assert result["slots"] == [0, 1]  # both threads got a share of the clusters


def _arrays(path):
    with uproot.open(path) as f:
        return f["Events"].arrays(), f["Runs"].arrays(), read_metadata(path)


def _assert_identical(a, b):
    assert a.fields == b.fields
    for field in a.fields:
        assert ak.array_equal(a[field], b[field]), field


def test_same_seed_same_arrays_other_seed_other_arrays(tmp_path):
    paths = {}
    for name, seed, batch in (("a", 7, 250), ("b", 7, 23), ("c", 8, 250)):
        paths[name] = tmp_path / f"{name}.root"
        generate(GenerationRequest("ttbar", 40, seed, paths[name], batch_size=batch,
                                   progress=False))
    (ea, ra, ma), (eb, rb, mb), (ec, _, mc) = (_arrays(paths[k]) for k in "abc")
    _assert_identical(ea, eb)  # also independent of the batch size
    _assert_identical(ra, rb)
    assert ma["xsec_pb"] == mb["xsec_pb"] and ma["settings_hash"] == mb["settings_hash"]
    assert mc["settings_hash"] != ma["settings_hash"]
    assert not ak.array_equal(ea.MET_pt, ec.MET_pt)
    assert not ak.array_equal(ea.nGenPart, ec.nGenPart)


def test_same_seed_same_events_whatever_jobs(tmp_path):
    """Issue 13: the chunking (hence the events) must not depend on --jobs."""
    paths = [tmp_path / f"j{jobs}.root" for jobs in (1, 2)]
    results = [generate(GenerationRequest("dy", 80, 3, path, jobs=jobs, mpi=False,
                                          progress=False))
               for jobs, path in zip((1, 2), paths, strict=True)]
    (e1, r1, m1), (e2, r2, m2) = (_arrays(p) for p in paths)
    _assert_identical(e1, e2)
    _assert_identical(r1, r2)
    assert results[0].n_chunks == results[1].n_chunks
    assert m1["settings_hash"] == m2["settings_hash"]


@pytest.mark.slow
def test_jobs_do_not_change_the_events(tmp_path):
    """Same seed and chunk layout: 1 process or 2 processes give identical arrays."""
    one, two = tmp_path / "one.root", tmp_path / "two.root"
    common = {"chunk_events": 40, "mpi": False, "progress": False}
    generate(GenerationRequest("dy", 80, 3, one, jobs=1, **common))
    result = generate(GenerationRequest("dy", 80, 3, two, jobs=2, **common))
    assert result.n_chunks == 2
    (e1, r1, m1), (e2, r2, m2) = _arrays(one), _arrays(two)
    _assert_identical(e1, e2)
    _assert_identical(r1, r2)
    assert m1["xsec_pb"] == m2["xsec_pb"]
    assert sorted(set(e2.luminosityBlock.tolist())) == [1, 2]  # one lumi block per chunk
    assert e2.event.tolist() == list(range(1, 81))
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers  # chunk files and temporary outputs are gone
