"""Issue 18's selection changes on small synthetic events with hand-computed expectations.

* H → γγ: the era's photon MVA WP90 — −0.02 in the barrel (|η| < 1.479), −0.26 in
  the endcap — and the electron veto;
* DHJW: jets are cleaned against isolated muons only;
* DTW: test metrics per lepton channel (e, μ, ee, μμ, eμ) read from the object table.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import yaml

from eventlens.errors import InputFileError
from eventlens.pipeline.select import run_selection
from eventlens.pipeline.table import load_table
from eventlens.processors.cutflow import check_balance
from eventlens.processors.inputs import needs_of
from eventlens.processors.registry import config_path, load_config
from eventlens.training.channels import channel_names, event_channels
from eventlens.training.evaluate import channel_metrics
from eventlens.training.metrics import metrics_by_category
from eventlens.training.table import ObjectTable
from nanoaod_toy import event, obj, photon_pair, write_nanoaod

pytestmark = pytest.mark.filterwarnings(
    "ignore:Missing cross-reference index:RuntimeWarning",
    "ignore:Branch Photon_mass already exists:RuntimeWarning",
)


# ---- H → γγ: barrel/endcap photon ID and the electron veto --------------------------------
def diphoton(eta: float, second: dict) -> dict:
    """A 125 GeV pair at |η| = eta passing every other cut; ``second`` edits photon 2."""
    first, other = photon_pair(125.0, pt=0.55 * 125.0, eta=eta)
    return event(photons=[first, {**other, **second}])


def test_hgg_photon_mva_cut_is_per_ecal_region_and_electrons_are_vetoed(tmp_path):
    barrel, endcap = 0.5, 2.0
    events = [
        diphoton(barrel, {"mvaID": 0.9}),  # 0: pass
        diphoton(barrel, {"mvaID": -0.01}),  # 1: pass, -0.01 > -0.02
        diphoton(barrel, {"mvaID": -0.03}),  # 2: fail, below the barrel WP90
        diphoton(endcap, {"mvaID": -0.25}),  # 3: pass in the endcap (-0.25 > -0.26), the old
        #                                         config (-0.02 everywhere) failed it
        diphoton(endcap, {"mvaID": -0.27}),  # 4: fail, below the endcap WP90
        diphoton(barrel, {"electronVeto": False}),  # 5: fail, an electron
        diphoton(-endcap, {"mvaID": -0.10}),  # 6: pass (negative η is endcap too)
    ]
    path = write_nanoaod(tmp_path / "hgg.root", events)
    fs = {"toy": {"files": {str(path): "Events"}, "metadata": {"process": "hgg", "xsec": 1.0}}}
    res = run_selection("hgg", fs, tmp_path / "out", status=False)
    cf = res.cutflow["toy"]
    check_balance(cf)
    assert cf["steps"]["two_good_photons"]["passed"] == 4
    assert load_table(tmp_path / "out").event.tolist() == [1, 2, 4, 7]  # events 0, 1, 3, 6
    assert "electronVeto" in needs_of(load_config("hgg")).objects["photon"].fields

    # without the veto, event 5 passes as well
    data = yaml.safe_load(config_path("hgg").read_text())
    data["objects"]["photon"].pop("electron_veto")
    config = tmp_path / "no_veto.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    run_selection("hgg", fs, tmp_path / "no_veto", status=False, config=config)
    assert load_table(tmp_path / "no_veto").event.tolist() == [1, 2, 4, 6, 7]


# ---- DHJW: jets cleaned against isolated muons only ---------------------------------------
def test_dhjw_cleans_jets_against_isolated_muons_only(tmp_path):
    isolated = obj(pt=25.0, eta=0.0, phi=0.0, pfRelIso04_all=0.05)
    in_b_jet = obj(pt=5.0, eta=1.0, phi=2.0, pfRelIso04_all=0.6, charge=-1)
    jet_on_isolated = obj(pt=50.0, eta=0.1, phi=0.0)  # ΔR = 0.1 to the isolated muon
    b_jet = obj(pt=60.0, eta=1.0, phi=2.1, btagDeepFlavB=0.9)  # ΔR = 0.1 to the soft muon
    far_jet = obj(pt=40.0, eta=-1.5, phi=-2.0)
    soft_alone = obj(pt=8.0, eta=-0.5, phi=1.0, pfRelIso04_all=0.5)
    its_jet = obj(pt=35.0, eta=-0.5, phi=1.05)  # ΔR = 0.05 to it
    events = [
        event(muons=[isolated, in_b_jet], jets=[b_jet, jet_on_isolated, far_jet]),
        event(muons=[soft_alone], jets=[its_jet]),
    ]
    path = write_nanoaod(tmp_path / "dhjw.root", events)
    res = run_selection("dhjw", {"toy": {"files": {str(path): "Events"},
                                         "metadata": {"process": "dy", "xsec": 1.0}}},
                        tmp_path / "out", status=False)
    check_balance(res.cutflow["toy"])
    rows = load_table(tmp_path / "out")
    jets = rows.objects[rows.objects["type"] == 3]
    # event 1: the b jet (its muon is not isolated) and the far jet stay, the jet on the
    # isolated muon goes; event 2: the jet around the lone non-isolated muon stays.
    # Cleaning against every loose muon (before issue 18) kept [far jet] and [].
    assert ak.to_list(jets.pt) == [[60.0, 40.0], [35.0]]
    assert ak.to_list(jets.btag) == [[pytest.approx(0.9), pytest.approx(0.05)],
                                     [pytest.approx(0.05)]]

    # the isolation branch is needed now, and its absence names the key asking for it
    bare = write_nanoaod(tmp_path / "bare.root", events, drop=["Muon_pfRelIso04_all"])
    with pytest.raises(InputFileError, match=r"Muon_pfRelIso04_all \(asked for by "
                                             r"objects.muon.jet_cleaning"):
        run_selection("dhjw", {"toy": {"files": {str(bare): "Events"}}}, tmp_path / "bare",
                      status=False)


# ---- DTW: lepton channels -----------------------------------------------------------------
def test_channel_names_from_lepton_counts():
    got = channel_names(np.array([1, 0, 2, 0, 1, 2, 0]), np.array([0, 1, 0, 2, 1, 1, 0]))
    assert got.tolist() == ["e", "mu", "ee", "mumu", "emu", "3l", "none"]


def _dtw_table(events: list[list[tuple[int, float]]], labels: list[int]) -> ObjectTable:
    """A hand-made DTW object table: per event, (type, pT) of its objects."""
    counts = np.array([len(e) for e in events])
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    flat = [o for e in events for o in e]
    n_obj = len(flat)
    columns = {
        "type": np.array([t for t, _ in flat], np.int32),
        "pt": np.array([pt for _, pt in flat], np.float32),
        **{f: np.zeros(n_obj, np.float32) for f in ("eta", "phi", "mass", "btag")},
        "charge": np.zeros(n_obj, np.int32),
    }
    cfg = load_config("dtw")
    n = len(events)
    return ObjectTable(
        path=None, manifest={"selection_config": cfg.to_dict(), "task": "dtw"},
        classes=list(cfg.classes), offsets=offsets, columns=columns,
        label=np.array(labels), weight=np.ones(n), mass=np.zeros(n, np.float32),
        dataset=np.zeros(n, np.int64), datasets=["toy"], run=np.ones(n, np.uint64),
        lumi=np.ones(n, np.uint64), event=np.arange(n, dtype=np.uint64),
    )


def test_dtw_channels_are_read_from_the_table_leptons_above_the_selection_pt():
    e, mu, jet, met = 0, 1, 3, 4
    table = _dtw_table(
        [
            [(e, 25.0), (jet, 40.0), (met, 30.0)],  # e
            [(e, 15.0), (mu, 30.0), (jet, 40.0)],  # μ: the 15 GeV electron is only drawn
            [(mu, 25.0), (mu, 22.0), (jet, 50.0)],  # μμ
            [(e, 40.0), (mu, 21.0), (jet, 35.0)],  # eμ
            [(mu, 50.0), (jet, 60.0)],  # μ
        ],
        labels=[1, 1, 0, 2, 2],  # wjets, wjets, dy, ttbar, ttbar
    )
    assert event_channels(table, np.arange(5)).tolist() == ["e", "mu", "mumu", "emu", "mu"]
    assert event_channels(table, np.array([3, 0])).tolist() == ["emu", "e"]
    # arg-max predictions: wjets, dy, dy, ttbar, wjets
    logits = np.log(np.array([[0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.7, 0.2, 0.1],
                              [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]]))
    got = channel_metrics(table, np.arange(5), table.label, logits, table.classes, ["ttbar"])
    by = got["by_channel"]
    assert list(by) == ["e", "mu", "mumu", "emu"]
    assert {k: (v["n_events"], v["share"], v["accuracy"]) for k, v in by.items()} == {
        "e": (1, 0.2, 1.0), "mu": (2, 0.4, 0.0), "mumu": (1, 0.2, 1.0), "emu": (1, 0.2, 1.0)}
    # μ channel: the tt̄ event is called W+jets (ε_S = 0), the W+jets one is not called
    # signal (ε_B = 0): ½·0 + ½·(1 − 0) = 0.5; e/μμ lack signal, eμ lacks background
    assert by["mu"]["signal_vs_background"] == 0.5
    assert by["e"]["signal_vs_background"] is None and by["emu"]["signal_vs_background"] is None
    assert by["mu"]["per_class"] == {"dy": 0, "wjets": 1, "ttbar": 1}
    assert got["dilepton_share"] == {"dy": 1.0, "wjets": 0.0, "ttbar": 0.5}


def test_metrics_by_category_hand_computed():
    y = np.array([2, 2, 0, 1, 0, 2])
    pred = np.array([2, 0, 0, 1, 2, 2])
    logits = np.eye(3)[pred] * 5.0
    cat = np.array(["e", "e", "mu", "mu", "ee", "ee"], dtype=object)
    got = metrics_by_category(y, logits, cat, ["dy", "wjets", "ttbar"], ["ttbar"],
                              order=("mu", "e"))
    assert list(got) == ["mu", "e", "ee"]  # the given order first, then the rest sorted
    assert got["e"]["accuracy"] == 0.5 and got["mu"]["accuracy"] == 1.0
    assert got["ee"]["accuracy"] == 0.5
    # ee: the tt̄ event is called tt̄ (ε_S = 1), the DY one too (ε_B = 1): ½ + ½·0
    assert got["ee"]["signal_vs_background"] == 0.5
    assert got["ee"]["share"] == pytest.approx(1 / 3)
