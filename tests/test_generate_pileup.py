"""Pileup with real Pythia: the premixed minimum-bias library (built once, cached, reused by
settings hash) and samples overlaid with it.  A small library of non-diffractive events
(init 0.5 s instead of 20 s for SoftQCD:inelastic) keeps the tests short; MPI off for the hard
events (the library always has MPI)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from eventlens.generate import GenerationRequest, generate
from eventlens.generate import pileup as pileup_module
from eventlens.generate.nanoaod import read_metadata
from eventlens.generate.pileup import PileupSettings, get_library, library_path
from eventlens.generate.registry import default_registry, load_registry
from eventlens.generate.samples import make_samples

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """The shipped registry with a 300-event non-diffractive library and a one-process task;
    the library cache in a temporary folder."""
    folder = tmp_path_factory.mktemp("pileup")
    data = yaml.safe_load(default_registry().read_text())
    data["processes"]["minbias_nd"] = {"settings": ["SoftQCD:nonDiffractive = on"]}
    data["pileup"].update({"library_process": "minbias_nd", "library_events": 300})
    data["tasks"]["tiny"] = ["dy"]
    path = folder / "processes.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVENTLENS_CACHE", str(folder / "cache"))
        yield path


def test_the_library_is_built_once_and_reused(registry):
    reg = load_registry(registry)
    settings = PileupSettings(mu=10, library_process="minbias_nd", library_events=300)
    path, lib = get_library(reg, settings, None)
    assert path.exists() and lib.n_interactions == 300
    assert 40 < np.diff(lib.offsets).mean() < 200  # stored particles per interaction
    assert lib.metadata["tune_name"] == "cp5"
    mtime = path.stat().st_mtime_ns
    pileup_module._LOADED.clear()  # a new process: read from the cache file, not rebuilt
    again = get_library(reg, settings, None)[1]
    assert path.stat().st_mtime_ns == mtime
    assert np.array_equal(again.px, lib.px) and again.metadata == lib.metadata
    # another tune is another library
    assert library_path(reg, settings, "monash") != path


@pytest.fixture(scope="module")
def dy_pair(registry, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dy")
    out = {}
    for mu in (0.0, 25.0):
        path = folder / f"dy_{mu:g}.root"
        generate(GenerationRequest("dy", 150, 4, path, mpi=False, progress=False, pileup=mu,
                                   registry=registry))
        with uproot.open(path) as f:
            out[mu] = (f["Events"].arrays(), read_metadata(path))
    return out


def test_pileup_branches_and_vertices(dy_pair):
    ev, meta = dy_pair[25.0]
    n_pu = ak.to_numpy(ev.Pileup_nPU)
    assert n_pu.mean() == pytest.approx(25, abs=4 * np.sqrt(25 / 150))
    assert np.all(ev.Pileup_nTrueInt == 25)
    ratio = ak.to_numpy(ev.PV_npvs).sum() / (n_pu + 1).sum()
    assert 0.55 < ratio < 0.95  # not every inelastic interaction makes a vertex
    good = ak.to_numpy(ev.PV_npvsGood).sum() / ak.to_numpy(ev.PV_npvs).sum()
    assert 0.75 < good < 1.0  # CMS NanoAOD simulation: ~0.9
    assert meta["pileup_mu"] == 25 and meta["pileup_library"].startswith("minbias_nd_")
    none, meta0 = dy_pair[0.0]
    assert np.all(none.Pileup_nPU == 0) and np.all(none.PV_npvs == 1)
    assert meta0["settings_hash"] != meta["settings_hash"]


def test_generated_file_opens_with_coffea_nanoaod_schema(dy_pair, tmp_path_factory):
    """A user's own coffea processor reads the file with NanoAODSchema, every branch
    included: the PV vertex needs x, y and z (a file with PV_z alone failed)."""
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    path = next(tmp_path_factory.getbasetemp().glob("dy*/dy_25.root"))
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager"
    ).events()
    assert len(events) == 150
    assert ak.all(events.PV.x == 0) and ak.all(events.PV.y == 0)
    np.testing.assert_array_equal(ak.to_numpy(events.PV.z), ak.to_numpy(dy_pair[25.0][0].PV_z))
    assert ak.all(events.PV.npvs >= 1)


def test_pileup_leaves_the_hard_interaction_alone(dy_pair):
    (pu, _), (none, _) = dy_pair[25.0], dy_pair[0.0]
    for branch in ("GenPart_pt", "GenPart_pdgId", "GenMET_pt", "Generator_x1", "genWeight"):
        assert ak.array_equal(pu[branch], none[branch]), branch


def test_pileup_effect_on_objects_is_cms_like(dy_pair):
    (pu, _), (none, _) = dy_pair[25.0], dy_pair[0.0]

    def central30(ev):
        return ak.to_numpy(ak.sum((ev.Jet_pt > 30) & (abs(ev.Jet_eta) < 2.4), axis=1))

    # offset-corrected CHS jets: few extra central jets above 30 GeV
    assert central30(pu).mean() - central30(none).mean() < 0.3
    # isolation of Z muons: pileup-corrected, a small shift
    iso = [np.median(ak.to_numpy(ak.flatten(ev.Muon_pfRelIso04_all))) for ev in (pu, none)]
    assert iso[0] - iso[1] < 0.05
    # MET resolution degrades (neutral pileup, charged pileup in PF MET)
    spread = [np.std(ak.to_numpy(ev.MET_pt - ev.GenMET_pt)) for ev in (pu, none)]
    assert spread[0] > 1.2 * spread[1]
    assert ak.mean(pu.MET_sumEt) > ak.mean(none.MET_sumEt) + 25 * 20


def test_make_samples_reuses_a_file_only_with_the_same_pileup_and_tune(registry, tmp_path,
                                                                        caplog):
    template = GenerationRequest("dy", 30, 1, tmp_path / "unused.root", mpi=False,
                                 progress=False)
    outdir = tmp_path / "samples"

    def run(**changes):
        from dataclasses import replace

        caplog.clear()
        with caplog.at_level("INFO", logger="eventlens.generate.samples"):
            make_samples("tiny", 30, outdir, template=replace(template, **changes),
                         registry_path=registry)
        return caplog.text

    assert "generating" in run()
    assert "reusing" in run()
    assert "settings changed" in run(pileup=10.0)  # not the file without pileup
    assert read_metadata(outdir / "dy.root")["pileup_mu"] == 10
    assert "reusing" in run(pileup=10.0)
    assert "settings changed" in run(pileup=10.0, tune="monash")
    assert read_metadata(outdir / "dy.root")["tune"] == "monash"


def test_pileup_samples_do_not_depend_on_jobs(registry, tmp_path):
    """Forked workers share the parent's library; the overlay depends on event numbers only."""
    arrays = []
    for jobs in (1, 2):
        path = tmp_path / f"j{jobs}.root"
        generate(GenerationRequest("dy", 80, 2, path, jobs=jobs, chunk_events=40, mpi=False,
                                   progress=False, pileup=10.0, registry=registry))
        with uproot.open(path) as f:
            arrays.append(f["Events"].arrays())
    assert arrays[0].fields == arrays[1].fields
    for field in arrays[0].fields:
        assert ak.array_equal(arrays[0][field], arrays[1][field]), field
    assert ak.sum(arrays[0].Pileup_nPU) > 500
