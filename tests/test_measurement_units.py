"""The measurement's building blocks on tiny synthetic events, against hand-computed numbers:
scale-factor weights, shifted objects, picture comparison, lumi mask and triggers, the
config blocks (issue 15)."""

from __future__ import annotations

import dataclasses
import json
import math

import awkward as ak
import numpy as np
import pytest
import yaml

from eventlens.config.selection import DataConfig, MeasurementConfig
from eventlens.errors import ConfigError
from eventlens.processors.cutflow import Cutflow, check_balance
from eventlens.processors.dataquality import LUMI_STEP, TRIGGER_STEP, require_data_quality
from eventlens.processors.inputs import Inputs, needs_of
from eventlens.processors.measurement import (
    baseline_region_index,
    baseline_regions,
    book,
    fill,
    process_name,
)
from eventlens.processors.registry import config_path, get_task, load_config
from eventlens.processors.systematics import (
    EventWeights,
    ShapeVariation,
    jer_factor,
    object_normals,
    shape_variations,
    vary,
)
from eventlens.processors.task import analyse, run_steps
from eventlens.render import RenderConfig, flatten_objects, render, same_pictures

DTW = load_config("dtw")


def dtw_inputs(events, simulation=True, met=(30.0, math.pi), triggers=None, unclustered=None):
    """dtw Inputs from per-event dicts ``{"muons": [...], "jets": [...]}``; every field
    the measurement reads, defaults passing the cuts."""
    needs = needs_of(DTW, measurement=True)
    n = len(events)

    def collection(block, key):
        need = needs.objects[block]
        fields = need.fields_of(simulation)
        defaults = {"charge": 1, "tightId": True, "jetId": 6, "mass": 0.0, "hadronFlavour": 0,
                    "cutBased": 4}
        rows = [[{**{f: defaults.get(f, 0.0) for f in fields}, **o} for o in ev.get(key, [])]
                for ev in events]
        if not any(rows):
            return ak.unflatten(
                ak.zip({f: np.zeros(0, np.float32) for f in fields}), np.zeros(n, np.int64)
            )
        return ak.Array(rows)

    objects = {
        "muon": collection("muon", "muons"),
        "electron": collection("electron", "electrons"),
        "jet": collection("jet", "jets"),
    }
    ids = {
        "run": np.array([e.get("run", 1) for e in events], np.uint32),
        "luminosityBlock": np.array([e.get("lumi", 1) for e in events], np.uint32),
        "event": np.arange(n, dtype=np.uint64),
    }
    met_arr = ak.zip({"pt": np.full(n, met[0], np.float32), "phi": np.full(n, met[1], np.float32)})
    gen_weight = np.ones(n, np.float32) if simulation else None
    return Inputs(n, objects, met_arr, gen_weight, ids, set(), triggers or {}, unclustered or {})


MUON = {"pt": 25.0, "eta": 0.5, "phi": 1.0, "pfRelIso04_all": 0.01}
B_JET = {"pt": 40.0, "eta": 0.3, "phi": -2.0, "btagDeepFlavB": 0.9, "hadronFlavour": 5}
LIGHT_JET = {"pt": 40.0, "eta": -0.7, "phi": 2.0, "btagDeepFlavB": 0.01, "hadronFlavour": 0}
META = {"xsec": 2.0, "sumw": 4.0}  # norm weight = genWeight * 2 * 1000 / 4 = 500


# ---- weights -----------------------------------------------------------------------------
def test_scale_factor_weights_by_hand():
    inputs = dtw_inputs([{"muons": [MUON], "jets": [B_JET, LIGHT_JET]}])
    result = analyse(get_task("dtw"), DTW, inputs, "ttbar", META)
    w = EventWeights(DTW).of(result, inputs)
    assert w.weight().tolist() == [500.0]  # the generator's central SFs are exactly 1
    # muon ID: pT 25 in [20, 60), |eta| 0.5 < 0.9: sigma = 0.3 %; iso: 0.1 %
    assert w.weight("muon_idUp")[0] == pytest.approx(500.0 * 1.003, rel=1e-12)
    assert w.weight("muon_isoDown")[0] == pytest.approx(500.0 * 0.999, rel=1e-12)
    # b-tag (fixed WP): tagged b jet pT 40: SF 1 +- 2 %; untagged light jet pT 40: SF 1 +- 8 %,
    # factor (1 - SF eps)/(1 - eps) with eps = 1 % (the generator's light efficiency at M)
    assert w.weight("btag_bcUp")[0] == pytest.approx(500.0 * 1.02, rel=1e-9)
    light_up = (1 - 1.08 * 0.01) / (1 - 0.01)
    assert w.weight("btag_lightUp")[0] == pytest.approx(500.0 * light_up, rel=1e-6)
    assert sorted(w.variations) == sorted(EventWeights(DTW).variations())


def test_data_gets_no_scale_factors():
    inputs = dtw_inputs([{"muons": [MUON], "jets": [B_JET]}], simulation=False)
    result = analyse(get_task("dtw"), DTW, inputs, "data", {})
    w = EventWeights(DTW).of(result, inputs)
    assert w.weight().tolist() == [1.0] and not w.variations


def test_no_corrections_configured():
    cfg = dataclasses.replace(DTW, measurement=MeasurementConfig(corrections=None))
    inputs = dtw_inputs([{"muons": [MUON], "jets": [B_JET]}])
    result = analyse(get_task("dtw"), cfg, inputs, "ttbar", META)
    assert EventWeights(cfg).variations() == []
    assert not EventWeights(cfg).of(result, inputs).variations


# ---- shifted objects -----------------------------------------------------------------------
def met_xy(inputs):
    pt, phi = float(inputs.met.pt[0]), float(inputs.met.phi[0])
    return pt * math.cos(phi), pt * math.sin(phi)


def test_jes_scales_jets_and_propagates_above_15_gev():
    soft = {**LIGHT_JET, "pt": 10.0, "phi": math.pi / 2}
    inputs = dtw_inputs([{"muons": [MUON], "jets": [{**B_JET, "phi": 0.0}, soft]}])
    up, note = vary(inputs, ShapeVariation("jes", "Up", 0.02))
    assert note is None
    assert ak.to_list(up["jet"].pt[0]) == pytest.approx([40.8, 10.2], rel=1e-6)
    assert float(up["jet"].mass[0][0]) == pytest.approx(0.0)
    # MET (30 at phi = pi) = (-30, 0); the 40 GeV jet at phi 0 grew by 0.8: MET_x -= 0.8;
    # the 10 GeV jet is below 15 GeV and does not enter MET
    x, y = met_xy(up)
    assert (x, y) == pytest.approx((-30.8, 0.0), abs=1e-5)
    down, _ = vary(inputs, ShapeVariation("jes", "Down", 0.02))
    assert met_xy(down) == pytest.approx((-29.2, 0.0), abs=1e-5)


def test_muon_scale_moves_muons_and_met():
    inputs = dtw_inputs([{"muons": [{**MUON, "pt": 40.0, "phi": math.pi / 2}], "jets": [B_JET]}])
    up, _ = vary(inputs, ShapeVariation("muon_scale", "Up", 0.002))
    assert float(up["muon"].pt[0][0]) == pytest.approx(40.08, rel=1e-6)
    x, y = met_xy(up)
    assert (x, y) == pytest.approx((-30.0, -0.08), abs=1e-5)
    assert ak.to_list(up["jet"].pt) == ak.to_list(inputs["jet"].pt)


def test_unclustered_met_modelled_from_the_recoil():
    # MET (-30, 0); objects: one jet (40, 0) and one muon (25 at phi 1);
    # U = -MET - sum(objects); Up: MET - 0.1 U, Down: MET + 0.1 U
    jet = {**B_JET, "phi": 0.0}
    inputs = dtw_inputs([{"muons": [MUON], "jets": [jet]}])
    ux = 30.0 - 40.0 - 25.0 * math.cos(1.0)
    uy = -25.0 * math.sin(1.0)
    up, note = vary(inputs, ShapeVariation("met_unclustered", "Up", 0.1))
    assert "modelled" in note
    assert met_xy(up) == pytest.approx((-30.0 - 0.1 * ux, -0.1 * uy), abs=1e-4)
    down, _ = vary(inputs, ShapeVariation("met_unclustered", "Down", 0.1))
    assert met_xy(down) == pytest.approx((-30.0 + 0.1 * ux, 0.1 * uy), abs=1e-4)


def test_unclustered_met_read_from_nanoaod_where_present():
    run3 = {"ptUnclusteredUp": np.array([33.0]), "phiUnclusteredUp": np.array([3.0]),
            "ptUnclusteredDown": np.array([27.0]), "phiUnclusteredDown": np.array([-3.0])}
    inputs = dtw_inputs([{"muons": [MUON], "jets": [B_JET]}], unclustered=run3)
    up, note = vary(inputs, ShapeVariation("met_unclustered", "Up", 0.1))
    down, _ = vary(inputs, ShapeVariation("met_unclustered", "Down", 0.1))
    assert note is None
    assert (float(up.met.pt[0]), float(up.met.phi[0])) == pytest.approx((33.0, 3.0), rel=1e-6)
    assert (float(down.met.pt[0]), float(down.met.phi[0])) == pytest.approx((27.0, -3.0))
    run2 = {"MetUnclustEnUpDeltaX": np.array([1.5]), "MetUnclustEnUpDeltaY": np.array([-2.0])}
    inputs = dtw_inputs([{"muons": [MUON], "jets": [B_JET]}], unclustered=run2)
    up, _ = vary(inputs, ShapeVariation("met_unclustered", "Up", 0.1))
    down, _ = vary(inputs, ShapeVariation("met_unclustered", "Down", 0.1))
    assert met_xy(up) == pytest.approx((-28.5, -2.0), abs=1e-5)
    assert met_xy(down) == pytest.approx((-31.5, 2.0), abs=1e-5)


def test_jer_factor_by_hand_and_reproducible_normals():
    # generator resolution at pT 100, |eta| 0.5: sqrt((3/100)^2 + 1/100 + 0.05^2) = 0.1162
    sigma = math.sqrt(0.03**2 + 1.0 / 100 + 0.05**2)
    z = np.array([1.0, -2.0, -50.0])
    f = jer_factor(np.full(3, 100.0), np.full(3, 0.5), z, 0.1)
    extra = math.sqrt(1.1**2 - 1)
    assert f[:2] == pytest.approx([1 + sigma * extra, 1 - 2 * sigma * extra], rel=1e-12)
    assert f[2] == 0.0  # never negative
    ids = {"run": np.full(4, 7, np.uint32), "luminosityBlock": np.array([1, 1, 2, 2], np.uint32),
           "event": np.arange(10, 14, dtype=np.uint64)}
    counts = np.array([2, 0, 3, 1])
    all_at_once = object_normals(ids, counts, 1)
    split = np.concatenate(
        [object_normals({k: v[:2] for k, v in ids.items()}, counts[:2], 1),
         object_normals({k: v[2:] for k, v in ids.items()}, counts[2:], 1)]
    )
    assert all_at_once.tolist() == split.tolist()  # chunking does not matter
    big = {"run": np.ones(50_000, np.uint32), "luminosityBlock": np.ones(50_000, np.uint32),
           "event": np.arange(50_000, dtype=np.uint64)}
    draws = object_normals(big, np.full(50_000, 2), 1)
    assert abs(draws.mean()) < 0.02 and abs(draws.std() - 1) < 0.02


def test_shape_variations_from_the_config():
    labels = [v.label for v in shape_variations(DTW)]
    assert labels == ["jesUp", "jesDown", "jerUp", "met_unclusteredUp", "met_unclusteredDown",
                      "muon_scaleUp", "muon_scaleDown"]
    off = dataclasses.replace(
        DTW, measurement=MeasurementConfig(shapes={"jes": 0.0, "jer": 0.0,
                                                   "met_unclustered": 0.0, "muon_scale": 0.01})
    )
    assert [v.label for v in shape_variations(off)] == ["muon_scaleUp", "muon_scaleDown"]


# ---- same pictures --------------------------------------------------------------------------
def objects(rows):
    fields = {"type": np.int32, "pt": np.float32, "eta": np.float32, "phi": np.float32,
              "mass": np.float32, "charge": np.int32, "btag": np.float32}
    full = [[{"mass": 0.0, "charge": 1, "btag": 0.0, **o} for o in ev] for ev in rows]
    arr = ak.Array(full)
    return ak.zip({f: ak.values_astype(arr[f], t) for f, t in fields.items()})


def test_same_pictures_by_hand():
    config = RenderConfig(height=32, width=32)  # C = 1.5: r = floor(1.5 ln pT + 0.5)
    # the radius steps from 5 to 6 at pT = exp(5.5/1.5) = 39.1 GeV
    jet = {"type": 3, "eta": 0.2, "phi": 1.0}
    a = objects([[{**jet, "pt": 38.0}], [{**jet, "pt": 38.0}], [{**jet, "pt": 38.0}],
                 [{**jet, "pt": 38.0}], [{**jet, "pt": 50.0, "eta": 9.0}]])
    b = objects([[{**jet, "pt": 38.7}],                      # same radius and pixel
                 [{**jet, "pt": 39.5}],                      # radius 6
                 [{**jet, "pt": 38.0, "btag": 0.9}],         # now a b-jet: another channel
                 [{**jet, "pt": 38.0}, {**jet, "type": 1, "pt": 20.0}],  # one more object
                 [{**jet, "pt": 55.0, "eta": 9.5}]])         # outside the canvas: not drawn
    same = same_pictures(flatten_objects(a), flatten_objects(b), config)
    assert same.tolist() == [True, False, False, False, True]
    images_equal = [np.array_equal(x, y) for x, y in zip(render(a, config), render(b, config),
                                                          strict=True)]
    assert images_equal == same.tolist()


def test_same_pictures_implies_identical_images():
    """On random events shifted by 2 % in pT and slightly in phi: wherever the placements
    agree, the drawn images are identical bit for bit (the comparison never lies)."""
    from conftest import random_objects

    config = RenderConfig(height=32, width=32)
    a = random_objects(2000, seed=5)
    rng = np.random.default_rng(3)
    scale = ak.unflatten(rng.choice([1.0, 1.02], size=len(ak.flatten(a.pt))), ak.num(a.pt))
    b = ak.with_field(a, ak.values_astype(a.pt * scale, np.float32), "pt")
    same = same_pictures(flatten_objects(a), flatten_objects(b), config)
    ia, ib = render(a, config), render(b, config)
    equal = (ia == ib).reshape(len(a), -1).all(axis=1)
    assert same.any() and (~same).any()
    assert not (same & ~equal).any()


# ---- lumi mask and triggers --------------------------------------------------------------
def test_lumi_mask_and_trigger_steps_by_hand(tmp_path):
    golden = tmp_path / "golden.json"
    golden.write_text(json.dumps({"1": [[1, 2], [5, 5]], "3": [[4, 9]]}))
    cfg = dataclasses.replace(
        DTW,
        data=DataConfig(lumi_mask=str(golden), triggers=("HLT_IsoMu24", "HLT_Ele32")),
    )
    runs_lumis = [(1, 1), (1, 3), (1, 5), (3, 9), (2, 1), (3, 4)]
    events = [{"muons": [MUON], "jets": [B_JET], "run": r, "lumi": lumi} for r, lumi in runs_lumis]
    mu = np.array([1, 1, 0, 0, 1, 0], bool)
    ele = np.array([0, 1, 0, 1, 1, 0], bool)
    data = dtw_inputs(events, simulation=False,
                      triggers={"HLT_IsoMu24": mu, "HLT_Ele32": ele})
    cutflow = Cutflow(data.n)
    require_data_quality(cfg, data, cutflow)
    # certified: (1,1) (1,5) (3,9) (3,4); of those, triggered: (1,1) (3,9)
    assert cutflow.steps[LUMI_STEP] == {"bad": 0, "failed": 2, "passed": 4}
    assert cutflow.steps[TRIGGER_STEP] == {"bad": 0, "failed": 2, "passed": 2}
    assert cutflow.alive.tolist() == [True, False, False, True, False, False]
    result = analyse(get_task("dtw"), cfg, data, "data", {})
    check_balance(result.cutflow.to_dict())
    assert list(result.cutflow.steps) == list(run_steps(get_task("dtw"), cfg))
    assert list(result.cutflow.steps)[1:3] == [LUMI_STEP, TRIGGER_STEP]
    # simulation passes both, every event counted
    sim = analyse(get_task("dtw"), cfg, dtw_inputs(events), "ttbar", META)
    assert sim.cutflow.steps[LUMI_STEP]["passed"] == 6
    assert sim.cutflow.steps[TRIGGER_STEP]["passed"] == 6


def _write(tmp_path, edit):
    data = yaml.safe_load(config_path("dtw").read_text())
    edit(data)
    path = tmp_path / "dtw.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_data_and_measurement_blocks_in_the_config(tmp_path):
    (tmp_path / "golden.json").write_text("{}")
    path = _write(tmp_path, lambda d: d.update(
        data={"lumi_mask": "golden.json", "triggers": ["HLT_IsoMu24"]},
        measurement={"shapes": {"jes": 0.05}, "corrections": None},
    ))
    cfg = load_config("dtw", path)
    assert cfg.data.triggers == ("HLT_IsoMu24",)
    assert cfg.measurement.shapes == {"jes": 0.05, "jer": 0.1, "met_unclustered": 0.1,
                                      "muon_scale": 0.002}
    # not cuts on the simulation a model is trained on: the digest (the model card's
    # "trained after this selection" check) ignores them, the manifest records them
    assert cfg.digest() == DTW.digest()
    assert tuple(cfg.to_dict()["data"]["triggers"]) == ("HLT_IsoMu24",)
    # the blocks at their defaults are left out of the manifest's config
    same = _write(tmp_path, lambda d: d.update(data={}, measurement={"score_bins": 20}))
    assert "data" not in load_config("dtw", same).to_dict()
    assert "data" not in DTW.to_dict() and "measurement" not in DTW.to_dict()


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"data": {"triggers": ["IsoMu24"]}}, "'data.triggers[0]' = 'IsoMu24' must be"),
        ({"data": {"lumi_mask": "missing.json"}}, "'data.lumi_mask': no such file"),
        ({"data": {"trigger": ["HLT_IsoMu24"]}}, "unknown key 'data.trigger'"),
        ({"measurement": {"shapes": {"jec": 0.02}}}, "unknown key 'measurement.shapes.jec'"),
        ({"measurement": {"shapes": {"jes": 2.0}}}, "'measurement.shapes.jes' = 2.0"),
        ({"measurement": {"baseline_jets": [2, 1]}}, "'measurement.baseline_jets'"),
    ],
)
def test_config_errors_name_the_key(tmp_path, block, message):
    path = _write(tmp_path, lambda d: d.update(block))
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config("dtw", path)


# ---- contract histograms ------------------------------------------------------------------
def test_process_names_and_baseline_regions():
    assert process_name("ttbar_2018", {"process": "ttbar"}, True) == "ttbar"
    assert process_name("tt", {}, True) == "tt"
    assert process_name("DoubleMuon", {"process": "pseudodata"}, False) == "data"
    assert baseline_regions(DTW) == [f"j{j}_b{b}" for j in ("1", "2", "3", "4p")
                                     for b in ("0", "1", "2p")]
    index, inside = baseline_region_index(DTW, np.array([0, 1, 2, 7, 4]), np.array([0, 0, 1, 5, 2]))
    names = np.asarray(baseline_regions(DTW))[index]
    assert inside.tolist() == [False, True, True, True, True]
    assert names[1:].tolist() == ["j1_b0", "j2_b1", "j4p_b2p", "j4p_b2p"]


def test_fill_puts_each_event_in_its_region_and_bin():
    booked = book(DTW, ["dy", "wjets", "ttbar"], ["jesUp"])
    probs = np.array([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1], [1.0, 0.0, 0.0]], np.float32)
    mass = np.array([90.0, 60.0, 300.0])
    weight = np.array([2.0, 3.0, 4.0])
    fill(booked, DTW, "ttbar", "jesUp", ["dy", "wjets", "ttbar"], probs, mass, weight,
         np.array([4, 1, 2]), np.array([2, 0, 1]))
    h = booked["mass"]
    assert [ax.name for ax in h.axes] == ["process", "region", "variation", "mass"]
    one = h[{"process": "ttbar", "variation": "jesUp"}]
    assert one[{"region": "ttbar"}].values().sum() == 2.0
    assert one[{"region": "dy"}].values().sum() == 3.0  # the 300 GeV event is in the overflow
    assert one[{"region": "dy"}].values(flow=True).sum() == 7.0
    score = booked["score"][{"process": "ttbar", "variation": "jesUp"}]
    assert score.values().sum() == 9.0  # the score 1.0 is kept in the last bin
    assert booked["mass_inclusive"][{"process": "ttbar"}].values(flow=True).sum() == 9.0
    cut = booked["mass_cutbased"][{"process": "ttbar", "variation": "jesUp"}]
    assert cut[{"region": "j4p_b2p"}].values().sum() == 2.0
    assert cut[{"region": "j1_b0"}].values().sum() == 3.0
    assert h[{"process": "ttbar", "variation": "nominal"}].values().sum() == 0.0
