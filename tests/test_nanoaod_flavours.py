"""NanoAOD flavours (processors/flavour.py): Run 2 UL v9, Run 3 v12 and v15 files are read,
with every substitution made known, on files written with each flavour's branch set and
on the real CMS v12/v15 samples."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from eventlens.objects import ObjectType
from eventlens.pipeline.select import run_selection
from eventlens.pipeline.table import load_table
from eventlens.processors import flavour
from eventlens.processors.flavour import MissingBranchError
from nanoaod_toy import PUPPI_SCALE, event, obj, photon_pair, process_events, write_nanoaod

pytestmark = pytest.mark.filterwarnings(
    "ignore:Missing cross-reference index:RuntimeWarning",
    "ignore:Branch Photon_mass already exists:RuntimeWarning",
)


def test_jet_id_recipe_hand_computed():
    """One jet per η region and per failing cut; bits as NanoAOD's Jet_jetId (2 tight, 6 +TLV)."""
    rows = [
        # eta, neHEF, neEmEF, chHEF, chEmEF, muEF, chMult, neMult, expected bits
        (0.5, 0.10, 0.10, 0.50, 0.10, 0.0, 5, 3, 6),  # central, everything passes
        (0.5, 0.10, 0.10, 0.50, 0.10, 0.9, 5, 3, 2),  # muon fraction: tight, no lepton veto
        (0.5, 0.10, 0.10, 0.50, 0.85, 0.0, 5, 3, 2),  # charged EM fraction: same
        (0.5, 0.995, 0.10, 0.50, 0.10, 0.0, 5, 3, 0),  # neHEF >= 0.99
        (0.5, 0.10, 0.95, 0.50, 0.10, 0.0, 5, 3, 0),  # neEmEF >= 0.90
        (0.5, 0.10, 0.10, 0.005, 0.10, 0.0, 5, 3, 0),  # chHEF <= 0.01
        (0.5, 0.10, 0.10, 0.50, 0.10, 0.0, 0, 3, 0),  # no charged constituent
        (-2.65, 0.85, 0.95, 0.0, 0.9, 0.9, 0, 0, 6),  # 2.6-2.7: only neHEF/neEmEF; no TLV cut
        (2.65, 0.95, 0.10, 0.0, 0.0, 0.0, 0, 0, 0),  # 2.6-2.7: neHEF >= 0.90
        (2.8, 0.98, 0.99, 0.0, 0.0, 0.0, 0, 0, 6),  # 2.7-3.0: neHEF < 0.99 only
        (3.5, 0.99, 0.30, 0.0, 0.0, 0.0, 0, 2, 6),  # forward: neMult >= 2, neEmEF < 0.4
        (3.5, 0.99, 0.30, 0.0, 0.0, 0.0, 0, 1, 0),  # forward: one neutral is too few
        (-3.5, 0.99, 0.45, 0.0, 0.0, 0.0, 0, 5, 0),  # forward: neEmEF >= 0.4
    ]
    names = (
        "eta",
        "neHEF",
        "neEmEF",
        "chHEF",
        "chEmEF",
        "muEF",
        "chMultiplicity",
        "neMultiplicity",
    )
    jets = {n: ak.Array([[r[i] for r in rows]]) for i, n in enumerate(names)}
    bits = flavour.jet_id(jets)
    assert bits.to_list() == [[r[-1] for r in rows]]


def test_jet_id_multiplicities_stored_as_uint8_do_not_wrap():
    """NanoAOD v15 stores the multiplicities as uint8: 200 + 56 constituents are 256, not 0."""
    jets = {
        "eta": ak.Array([[0.5, 0.5]]),
        "neHEF": ak.Array([[0.1, 0.1]]),
        "neEmEF": ak.Array([[0.1, 0.1]]),
        "chHEF": ak.Array([[0.5, 0.5]]),
        "chEmEF": ak.Array([[0.1, 0.1]]),
        "muEF": ak.Array([[0.0, 0.0]]),
        "chMultiplicity": ak.values_astype(ak.Array([[200, 1]]), np.uint8),
        "neMultiplicity": ak.values_astype(ak.Array([[56, 0]]), np.uint8),
    }
    assert flavour.jet_id(jets).to_list() == [[6, 0]]


@pytest.mark.parametrize(
    ("branches", "expected"),
    [
        ({"Jet_btagDeepFlavB", "Jet_jetId", "MET_pt"}, flavour.RUN2),
        ({"Jet_btagPNetB", "Jet_jetId", "MET_pt", "PuppiMET_pt"}, flavour.RUN3_V12),
        ({"Jet_btagUParTAK4B", "Jet_neMultiplicity", "PFMET_pt"}, flavour.RUN3_V15),
        ({"Jet_neMultiplicity", "PFMET_pt"}, flavour.RUN3_V15),
        ({"nothing"}, flavour.UNKNOWN),
    ],
)
def test_flavour_detected_from_branches(branches, expected):
    assert flavour.detect(branches) == expected


def _dtw_events(n: int = 12) -> list[dict]:
    evs = process_events("ttbar", n, seed=3)
    # a jet failing the tight ID through its neutral hadron fraction (v15: computed)
    for e in evs:
        e["Jet"].append(obj(pt=80.0, eta=0.2, phi=-1.0, neHEF=0.995, jetId=0))
    return evs


@pytest.mark.parametrize("version", ["v9", "v12", "v15"])
def test_dtw_reads_every_flavour_alike(version, tmp_path):
    """The same events written with each flavour's branch set give the same selection; the
    failing jet is dropped whether Jet_jetId is a branch or computed; Run 3 takes PuppiMET."""
    path = write_nanoaod(tmp_path / f"{version}.root", _dtw_events(), flavour=version)
    fs = {"ttbar": {"files": {str(path): "Events"}, "metadata": {"process": "ttbar"}}}
    res = run_selection("dtw", fs, tmp_path / "out", status=False)
    assert res.cutflow["ttbar"]["selected"] == 12
    rows = load_table(tmp_path / "out")
    jets = rows.objects[rows.objects["type"] == int(ObjectType.JET)]
    assert ak.all(jets.pt < 79.0), "the jet failing the tight ID is not selected"
    met = rows.objects[rows.objects["type"] == int(ObjectType.MET)].pt
    raw = np.array([e["met"][0] for e in _dtw_events()], dtype=np.float32)
    want = raw * np.float32(PUPPI_SCALE) if version != "v9" else raw
    np.testing.assert_allclose(ak.flatten(met).to_numpy(), want, rtol=1e-6)
    notes = " | ".join(res.manifest["notes"])
    name = {"v9": flavour.RUN2, "v12": flavour.RUN3_V12, "v15": flavour.RUN3_V15}[version]
    assert res.manifest["datasets"]["ttbar"]["nanoaod"] == {name: 1}
    if version == "v15":
        assert "Jet_jetId computed from the energy fractions" in notes
    if version != "v9":
        assert "MET read from PuppiMET_pt/PuppiMET_phi" in notes


@pytest.mark.parametrize("version", ["v9", "v12", "v15"])
def test_hgg_photons_in_every_flavour(version, tmp_path):
    """Photon isolation from ..._quadratic in Run 3, massless photons without Photon_mass."""
    evs = [event(photons=photon_pair(125.0, pt=70.0), gen_weight=1.0) for _ in range(6)]
    evs += [event(photons=[obj(pt=70.0, pfRelIso03_all=0.9), *photon_pair(125.0)[1:]])]
    path = write_nanoaod(tmp_path / f"{version}.root", evs, flavour=version)
    fs = {"hgg": {"files": {str(path): "Events"}, "metadata": {"process": "hgg"}}}
    res = run_selection("hgg", fs, tmp_path / "out", status=False)
    assert res.cutflow["hgg"]["selected"] == 6, "the non-isolated photon fails in every flavour"
    mass = load_table(tmp_path / "out").mass.to_numpy()
    np.testing.assert_allclose(mass, 125.0, rtol=1e-3)
    notes = " | ".join(res.manifest["notes"])
    if version != "v9":
        assert "Photon_pfRelIso03_all read from Photon_pfRelIso03_all_quadratic" in notes


def test_missing_id_branch_names_the_config_key(tmp_path):
    path = write_nanoaod(tmp_path / "noid.root", _dtw_events(3), drop=["Jet_jetId"])
    fs = {"ttbar": [str(path)]}
    with pytest.raises(
        MissingBranchError,
        match=r"noid.root: missing branch Jet_jetId \(asked for by objects\.jet\.id;",
    ):
        run_selection("dtw", fs, tmp_path / "out", status=False)


@pytest.mark.parametrize("name", ["nano_tt_v12.root", "nano_tt_v15.root"])
@pytest.mark.parametrize("task", ["dtw", "dhjw", "dimuon", "hgg"])
def test_real_run3_files(nanoaod_dir, tmp_path, name, task):
    """Real CMS Run 3 NanoAOD (coffea's v12 and v15 tt̄ samples) with every task."""
    path = nanoaod_dir / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    fs = {"ttbar": {"files": {str(path): "Events"}, "metadata": {"process": "ttbar"}}}
    if task == "hgg" and "v12" in name:  # this reduced file carries no photons at all
        with pytest.raises(MissingBranchError, match=r"no Photon collection .*objects\.photon"):
            run_selection(task, fs, tmp_path / "out", status=False)
        return
    res = run_selection(task, fs, tmp_path / "out", status=False)
    assert res.cutflow["ttbar"]["read"] == 200
    assert res.manifest["rows"] == res.cutflow["ttbar"]["selected"]
    version = flavour.RUN3_V15 if "v15" in name else flavour.RUN3_V12
    assert res.manifest["datasets"]["ttbar"]["nanoaod"] == {version: 1}
    if task == "dtw" and "v12" in name:  # (the v15 sample has no isolated tight lepton)
        assert res.cutflow["ttbar"]["selected"] > 0
    if "v15" in name and task in ("dtw", "dhjw"):
        assert any("Jet_jetId computed" in n for n in res.manifest["notes"])
