"""Processor building blocks without coffea: configs, labels, cutflow, weights, kinematics."""

from __future__ import annotations

import dataclasses
import math

import awkward as ak
import numpy as np
import pytest
import yaml

from eventlens.errors import ConfigError
from eventlens.processors.cutflow import Cutflow, check_balance, finite_events
from eventlens.processors.inputs import Inputs, needs_of
from eventlens.processors.kinematics import (
    leading_opposite_charge_pair,
    pair_mass,
    transverse_mass,
)
from eventlens.processors.labels import dataset_class, window_labels
from eventlens.processors.registry import config_path, get_task, load_config, task_names
from eventlens.processors.task import analyse
from eventlens.processors.weights import event_weights


# ---- configs ------------------------------------------------------------------------
@pytest.mark.parametrize("task", task_names())
def test_shipped_configs_load(task):
    cfg = load_config(task)
    assert cfg.task == task
    assert cfg.digest() == load_config(task).digest()
    assert load_config(task, luminosity_pb=5.0).luminosity_pb == 5.0


def _write_config(tmp_path, task, edit):
    data = yaml.safe_load((config_path(task)).read_text())
    edit(data)
    path = tmp_path / f"{task}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(pt_cut=3), "unknown key 'pt_cut'"),
        (lambda d: d["objects"]["muon"].update(pt_mni=3), "unknown key 'objects.muon.pt_mni'"),
        (
            lambda d: d["objects"]["muon"]["id"].update(minimum=1),
            "unknown key 'objects.muon.id.minimum'",
        ),
        (lambda d: d["objects"].update(tau={}), "unknown key 'objects.tau'"),
        (lambda d: d["selection"].update(min_jets=1), "unknown key 'selection.min_jets'"),
        (
            lambda d: d["objects"]["muon"].update(pt_min="high"),
            "'objects.muon.pt_min' must be a number",
        ),
        (lambda d: d["labels"]["windows"].update(psi2s=[3.2, 3.9]), "overlap"),
        (lambda d: d["labels"]["windows"].update(jpsi=[3.24, 2.94]), "low < high"),
        (lambda d: d["btag"].update(working_point="ultra"), "'ultra' is not in"),
        (lambda d: d["table"].update(collections=["Photon"]), "table.collections"),
        (lambda d: d.pop("classes"), "missing required key 'classes'"),
    ],
)
def test_config_errors_name_key_and_file(tmp_path, edit, message):
    path = _write_config(tmp_path, "dimuon", edit)
    with pytest.raises(ConfigError) as err:
        load_config("dimuon", path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_config_digest_follows_cuts(tmp_path):
    path = _write_config(tmp_path, "dtw", lambda d: d["objects"]["jet"].update(pt_min=25.0))
    assert load_config("dtw", path).digest() != load_config("dtw").digest()
    with pytest.raises(ConfigError, match="unknown task"):
        get_task("ttH")
    with pytest.raises(ConfigError, match="not 'dimuon'"):
        load_config("dimuon", config_path("dtw"))


# ---- labels -------------------------------------------------------------------------
def test_mass_window_edges_are_inclusive():
    cfg = load_config("dimuon")
    classes = list(cfg.classes)
    for name, (lo, hi) in cfg.labels.windows.items():
        lo32, hi32 = np.float32(lo), np.float32(hi)
        below = np.nextafter(lo32, np.float32(0))
        above = np.nextafter(hi32, np.float32(1000))
        masses = np.array([below, lo32, (lo32 + hi32) / 2, hi32, above], dtype=np.float32)
        got = [classes[i] for i in window_labels(masses, cfg)]
        assert got == ["none", name, name, name, "none"], (name, masses)
    # the seed's Table 1 order
    assert classes == ["none", "jpsi", "psi2s", "upsilon", "z"]
    assert window_labels(np.array([0.0, 3.4, 50.0, 120.0]), cfg).tolist() == [0, 0, 0, 0]


def test_dataset_class_resolution():
    cfg = load_config("dhjw")  # classes dy, higgs, jpsi, wjets
    assert dataset_class("x", {"label": 2}, cfg) == 2
    assert dataset_class("x", {"label": 7}, cfg) is None
    assert dataset_class("x", {"label": "wjets"}, cfg) == 3
    assert dataset_class("x", {"label": "H→ZZ*→4μ", "process": "higgs_4mu"}, cfg) == 1
    assert dataset_class("jpsi", {}, cfg) == 2
    assert dataset_class("DoubleMuon", None, cfg) is None


# ---- cutflow ------------------------------------------------------------------------
def test_cutflow_accounts_for_every_event():
    cf = Cutflow(10)
    cf.require("a", np.arange(10) < 8, bad=np.arange(10) == 0)
    cf.require("b", np.arange(10) % 2 == 0)
    cf.require("c", True, bad=np.arange(10) == 6)
    d = cf.to_dict()
    assert d["steps"]["a"] == {"bad": 1, "failed": 2, "passed": 7}
    assert d["steps"]["b"] == {"bad": 0, "failed": 4, "passed": 3}  # 1, 3, 5, 7 fail
    assert d["steps"]["c"] == {"bad": 1, "failed": 0, "passed": 2}  # 6 is bad
    assert d["selected"] == 2
    check_balance(d)
    with pytest.raises(ValueError, match="twice"):
        cf.require("a", True)


def test_finite_events_on_jagged_and_flat():
    coll = ak.Array([[{"pt": 1.0, "q": 1}], [], [{"pt": np.nan, "q": 1}, {"pt": 2.0, "q": 1}]])
    assert finite_events(coll, ["pt", "q"]).tolist() == [True, True, False]
    met = ak.Array([{"pt": 1.0}, {"pt": np.inf}, {"pt": 3.0}])
    assert finite_events(met, ["pt"]).tolist() == [True, False, True]


def _inputs(muons, met, gen_weight=None):
    """Inputs for the dimuon task built straight from Python lists."""
    cfg = load_config("dimuon")
    needs = needs_of(cfg)
    defaults = {"charge": 1, "looseId": True, "dxy": 0.0, "dz": 0.0, "mass": 0.10566}
    rows = [
        [{**{f: defaults.get(f, 0.0) for f in needs.objects["muon"].fields}, **m} for m in ev]
        for ev in muons
    ]
    mu = ak.Array(rows)
    jets = ak.unflatten(
        ak.zip({f: np.zeros(0, np.float32) for f in needs.objects["jet"].fields}),
        np.zeros(len(muons), np.int64),
    )
    n = len(muons)
    ids = {
        "run": np.ones(n, np.uint32),
        "luminosityBlock": np.ones(n, np.uint32),
        "event": np.arange(n, dtype=np.uint64),
    }
    inputs = Inputs(
        n,
        {"muon": mu, "jet": jets},
        ak.Array(met),
        None if gen_weight is None else np.asarray(gen_weight, np.float32),
        ids,
    )
    return cfg, inputs


def test_bad_values_are_counted_where_they_are_read():
    pair = [
        {"pt": 20.0, "eta": 0.1, "phi": 0.0, "charge": 1},
        {"pt": 15.0, "eta": -0.2, "phi": 2.0, "charge": -1},
    ]
    nan_pt = [{**pair[0], "pt": np.nan}, pair[1]]
    nan_phi = [{**pair[0], "phi": np.inf}, pair[1]]
    same_sign = [pair[0], {**pair[1], "charge": 1}]
    muons = [pair, nan_pt, nan_phi, same_sign, pair[:1], pair, pair]
    met = [{"pt": 10.0, "phi": 0.0}] * 5 + [{"pt": np.nan, "phi": 0.0}, {"pt": 10.0, "phi": 0.0}]
    weights = [1.0] * 6 + [np.nan]
    cfg, inputs = _inputs(muons, met, weights)
    result = analyse(get_task("dimuon"), cfg, inputs, "dy", {"xsec": 1.0, "sumw": 10.0})
    steps = result.cutflow.to_dict()["steps"]
    assert steps["finite_weight"] == {"bad": 1, "failed": 0, "passed": 6}
    assert steps["two_good_muons"] == {"bad": 1, "failed": 1, "passed": 4}
    assert steps["opposite_charge_pair"] == {"bad": 0, "failed": 1, "passed": 3}
    assert steps["finite_objects"] == {"bad": 2, "failed": 0, "passed": 1}  # inf phi, NaN MET
    check_balance(result.cutflow.to_dict())
    assert result.ids["event"].tolist() == [0]
    assert np.isfinite(ak.to_numpy(ak.flatten(result.objects.pt))).all()


# ---- weights and kinematics ---------------------------------------------------------
def test_event_weights():
    gw = np.array([2.0, -1.0], np.float32)
    w = event_weights(gw, {"xsec": 10.0, "sumw": 4.0}, 1000.0, 2)
    assert w.dtype == np.float64
    assert w.tolist() == [2.0 * 10.0 * 1000.0 / 4.0, -1.0 * 10.0 * 1000.0 / 4.0]
    assert event_weights(None, {"xsec": 10.0, "sumw": 4.0}, 1000.0, 3).tolist() == [1.0] * 3
    assert event_weights(gw, {"xsec": 10.0}, 1000.0, 2).tolist() == [2.0, -1.0]


def test_pair_mass_matches_the_massless_formula():
    rng = np.random.default_rng(1)
    n = 200
    pt = rng.uniform(5, 100, (n, 2))
    eta = rng.uniform(-2.4, 2.4, (n, 2))
    phi = rng.uniform(-math.pi, math.pi, (n, 2))

    def jag(x):
        return ak.from_regular(ak.from_numpy(x, regulararray=True))

    muons = ak.zip(
        {
            "pt": jag(pt),
            "eta": jag(eta),
            "phi": jag(phi),
            "mass": jag(np.zeros((n, 2))),
            "charge": jag(np.tile([1, -1], (n, 1))),
        }
    )
    got = pair_mass(leading_opposite_charge_pair(muons))
    want = np.sqrt(
        2 * pt[:, 0] * pt[:, 1] * (np.cosh(eta[:, 0] - eta[:, 1]) - np.cos(phi[:, 0] - phi[:, 1]))
    )
    np.testing.assert_allclose(got, want, rtol=1e-9)
    mt = transverse_mass(
        ak.zip({"pt": pt[:, 0], "phi": phi[:, 0]}), ak.zip({"pt": pt[:, 1], "phi": phi[:, 1]})
    )
    np.testing.assert_allclose(
        mt,
        np.sqrt(2 * pt[:, 0] * pt[:, 1] * (1 - np.cos(phi[:, 0] - phi[:, 1]))),
        rtol=1e-9,
        atol=1e-9,
    )


def test_leading_opposite_charge_pair_choice():
    mu = ak.Array(
        [
            [{"pt": 30.0, "charge": 1}, {"pt": 20.0, "charge": 1}, {"pt": 10.0, "charge": -1}],
            [{"pt": 30.0, "charge": 1}, {"pt": 20.0, "charge": 1}],
            [{"pt": 30.0, "charge": -1}, {"pt": 20.0, "charge": 1}, {"pt": 10.0, "charge": -1}],
        ]
    )
    pair = leading_opposite_charge_pair(mu)
    assert ak.is_none(pair).tolist() == [False, True, False]
    assert pair.second.pt.tolist() == [10.0, None, 20.0]


def test_config_dataclasses_are_frozen():
    cfg = load_config("hgg")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.luminosity_pb = 1.0  # type: ignore[misc]


# ---- drawn vs counted leptons (draw_pt_min) -------------------------------------------
def _dtw_inputs(muons_per_event):
    """dtw Inputs: the given muons, no electrons, one central 50 GeV jet far from them."""
    cfg = load_config("dtw")
    needs = needs_of(cfg)
    n = len(muons_per_event)

    def collection(block, rows):
        fields = needs.objects[block].fields
        defaults = {"charge": 1, "tightId": True, "jetId": 6, "mass": 0.0}
        return ak.Array([[{**{f: defaults.get(f, 0.0) for f in fields}, **o} for o in ev]
                         for ev in rows])

    no_electrons = ak.unflatten(
        ak.zip({f: np.zeros(0, np.float32) for f in needs.objects["electron"].fields}),
        np.zeros(n, np.int64),
    )
    objects = {
        "muon": collection("muon", muons_per_event),
        "electron": no_electrons,
        "jet": collection("jet", [[{"pt": 50.0, "eta": 0.0, "phi": 3.0}]] * n),
    }
    ids = {"run": np.ones(n, np.uint32), "luminosityBlock": np.ones(n, np.uint32),
           "event": np.arange(n, dtype=np.uint64)}
    met = ak.Array([{"pt": 30.0, "phi": 2.0}] * n)
    return cfg, Inputs(n, objects, met, None, ids)


def test_dtw_counts_tight_leptons_and_draws_loose_ones():
    tight = {"pt": 40.0, "eta": 0.0, "phi": 0.0, "pfRelIso04_all": 0.05}
    non_isolated = {"pt": 25.0, "eta": 1.0, "phi": -1.0, "pfRelIso04_all": 0.5}
    soft = {"pt": 5.0, "eta": 0.5, "phi": 1.0, "pfRelIso04_all": 0.01}
    partner = {**non_isolated, "pfRelIso04_all": 0.01, "charge": -1}  # tight, opposite charge
    events = [[tight, non_isolated], [tight, soft], [tight, partner],
              [{**tight, "tightId": False}]]
    cfg, inputs = _dtw_inputs(events)
    assert cfg.objects["muon"].draw_pt_min == 10.0
    result = analyse(get_task("dtw"), cfg, inputs, "dy", {"xsec": 1.0, "sumw": 4.0})
    assert result.ids["event"].tolist() == [0, 1, 2]  # the fourth has no tight lepton
    n_muons = ak.sum(result.objects["type"] == 1, axis=1).tolist()
    assert n_muons == [2, 1, 2]  # the non-isolated 25 GeV muon is drawn, the 5 GeV one is not
    # mass: m_T(leading lepton, MET) without a tight opposite-charge pair, else the pair mass
    mt = math.sqrt(2 * 40.0 * 30.0 * (1 - math.cos(0.0 - 2.0)))
    m_pair = math.sqrt(2 * 40.0 * 25.0 * (math.cosh(0.0 - 1.0) - math.cos(0.0 + 1.0)))
    np.testing.assert_allclose(result.mass, [mt, mt, m_pair], rtol=1e-5, atol=1e-4)

    cfg_tight = dataclasses.replace(
        cfg, objects={**cfg.objects,
                      "muon": dataclasses.replace(cfg.objects["muon"], draw_pt_min=None)})
    result = analyse(get_task("dtw"), cfg_tight, inputs, "dy", {"xsec": 1.0, "sumw": 4.0})
    assert ak.sum(result.objects["type"] == 1, axis=1).tolist() == [1, 1, 2]


def test_draw_pt_min_above_pt_min_is_refused(tmp_path):
    path = _write_config(tmp_path, "dtw", lambda d: d["objects"]["muon"].update(draw_pt_min=30))
    with pytest.raises(ConfigError, match=r"'objects.muon.draw_pt_min' = 30.0 must lie in"):
        load_config("dtw", path)
