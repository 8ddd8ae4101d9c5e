"""Scale factors through correctionlib: hand-computed weights on tiny synthetic arrays,
the generator's shipped correction set, and the same reader on the CMS POG files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from correctionlib import schemav2 as cs

from conftest import REPO
from eventlens.corrections import ScaleFactors, load_corrections
from eventlens.corrections.detector import btag_efficiency, build_correction_set, to_json
from eventlens.corrections.weights import (
    book_btag_efficiency,
    efficiency_correction,
    measure_btag_efficiency,
)
from eventlens.errors import ConfigError, InputFileError
from eventlens.generate.config import DetectorConfig

CORRECTIONS = REPO / "configs" / "corrections"
POG_DIR = Path(os.environ.get("EVENTLENS_POG_DIR", REPO.parent / "shared" / "data" / "pog"))


# ---- a tiny correction set with round numbers -----------------------------------------
def _muon_sf() -> cs.Correction:
    # abseta [0, 1.2, 2.4] x pt [10, 30, 100]; nominal, up = +0.1, down = -0.1
    nominal = [0.9, 0.95, 1.1, 1.05]

    def node(shift: float) -> cs.MultiBinning:
        return cs.MultiBinning(
            nodetype="multibinning",
            inputs=["eta", "pt"],
            edges=[[0.0, 1.2, 2.4], [10.0, 30.0, 100.0]],
            content=[v + shift for v in nominal],
            flow="clamp",
        )

    return cs.Correction(
        name="muon_tight",
        version=1,
        inputs=[
            cs.Variable(name="era", type="string"),
            cs.Variable(name="eta", type="real"),
            cs.Variable(name="pt", type="real"),
            cs.Variable(name="kind", type="string"),
        ],
        output=cs.Variable(name="sf", type="real"),
        data=cs.Category(
            nodetype="category",
            input="kind",
            content=[
                cs.CategoryItem(key=k, value=node(s))
                for k, s in (("sf", 0.0), ("hi", 0.1), ("lo", -0.1))
            ],
        ),
    )


def _btag_sf(name: str, values: dict[int, tuple[float, float, float]]) -> cs.Correction:
    """Flat SF per flavour: (central, up, down)."""
    return cs.Correction(
        name=name,
        version=1,
        inputs=[
            cs.Variable(name="systematic", type="string"),
            cs.Variable(name="working_point", type="string"),
            cs.Variable(name="flavor", type="int"),
            cs.Variable(name="abseta", type="real"),
            cs.Variable(name="pt", type="real"),
        ],
        output=cs.Variable(name="sf", type="real"),
        data=cs.Category(
            nodetype="category",
            input="systematic",
            content=[
                cs.CategoryItem(
                    key=syst,
                    value=cs.Category(
                        nodetype="category",
                        input="flavor",
                        content=[cs.CategoryItem(key=f, value=v[i]) for f, v in values.items()],
                    ),
                )
                for i, syst in enumerate(("central", "up", "down"))
            ],
        ),
    )


def _efficiency() -> cs.Correction:
    return cs.Correction(
        name="eff",
        version=1,
        inputs=[cs.Variable(name="flavor", type="int"), cs.Variable(name="pt", type="real")],
        output=cs.Variable(name="eff", type="real"),
        data=cs.Category(
            nodetype="category",
            input="flavor",
            content=[cs.CategoryItem(key=f, value=e) for f, e in ((5, 0.7), (4, 0.2), (0, 0.1))],
        ),
    )


TINY_YAML = """
muon:
  - name: mu_sf
    file: tiny.json
    correction: muon_tight
    inputs: {eta: abseta, pt: pt, kind: variation}
    fixed: {era: "2018"}
    variations: {nominal: sf, up: hi, down: lo}
btag:
  name: btag
  file: tiny.json
  corrections: {b: bc_sf, c: bc_sf, light: light_sf}
  working_point: M
  threshold: 0.5
  abs_eta_max: 2.5
  inputs: {systematic: variation, working_point: working_point, flavor: flavour,
           abseta: abseta, pt: pt}
  variations: {nominal: central, up: up, down: down}
  efficiency: {correction: eff, inputs: {flavor: flavour, pt: pt}}
"""


@pytest.fixture
def tiny(tmp_path) -> ScaleFactors:
    cset = cs.CorrectionSet(
        schema_version=2,
        corrections=[
            _muon_sf(),
            _btag_sf("bc_sf", {5: (0.9, 1.0, 0.8), 4: (1.2, 1.4, 1.0)}),
            _btag_sf("light_sf", {0: (1.5, 2.0, 1.0)}),
            _efficiency(),
        ],
    )
    (tmp_path / "tiny.json").write_text(to_json(cset))
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    return ScaleFactors(load_corrections(tmp_path / "tiny.yaml"))


def _muons() -> ak.Array:
    return ak.Array(
        [
            [{"pt": 20.0, "eta": 0.5}, {"pt": 50.0, "eta": -2.0}],  # 0.9 x 1.05
            [],
            [{"pt": 200.0, "eta": 1.5}],  # pT clamped into the last bin: 1.05
        ]
    )


def _jets() -> ak.Array:
    def jet(pt: float, eta: float, flav: int, score: float) -> dict:
        return {"pt": pt, "eta": eta, "hadronFlavour": flav, "btagDeepFlavB": score}

    return ak.Array(
        [
            [jet(60, 0.3, 5, 0.9), jet(40, -1.0, 0, 0.1)],  # b tagged, light untagged
            [jet(35, 2.0, 4, 0.2), jet(80, 3.0, 5, 0.95)],  # c untagged; |eta| 3: no weight
            [],
            [jet(45, 1.0, 0, 0.7)],  # light tagged
        ]
    )


def test_muon_sf_by_hand(tiny):
    ((nominal, up, down),) = tiny.muon_weights(_muons()).values()
    np.testing.assert_allclose(nominal, [0.9 * 1.05, 1.0, 1.05])
    np.testing.assert_allclose(up, [1.0 * 1.15, 1.0, 1.15])
    np.testing.assert_allclose(down, [0.8 * 0.95, 1.0, 0.95])


def test_btag_fixed_wp_weight_by_hand(tiny):
    """w = Π_tagged SF · Π_untagged (1 − SF ε)/(1 − ε); ε = 0.7 / 0.2 / 0.1 (b / c / light)."""
    w = tiny.btag_weights(_jets())
    expect = {
        "nominal": [0.9 * (1 - 1.5 * 0.1) / 0.9, (1 - 1.2 * 0.2) / 0.8, 1.0, 1.5],
        "bc_up": [1.0 * (1 - 1.5 * 0.1) / 0.9, (1 - 1.4 * 0.2) / 0.8, 1.0, 1.5],
        "bc_down": [0.8 * (1 - 1.5 * 0.1) / 0.9, (1 - 1.0 * 0.2) / 0.8, 1.0, 1.5],
        "light_up": [0.9 * (1 - 2.0 * 0.1) / 0.9, (1 - 1.2 * 0.2) / 0.8, 1.0, 2.0],
        "light_down": [0.9 * (1 - 1.0 * 0.1) / 0.9, (1 - 1.2 * 0.2) / 0.8, 1.0, 1.0],
    }
    for key, values in expect.items():
        np.testing.assert_allclose(w[key], values, err_msg=key)


def test_coffea_weights_carry_the_variations(tiny):
    muons = ak.Array([[{"pt": 20.0, "eta": 0.5}], [], [], []])
    weights = tiny.weights(muons=muons, jets=_jets())
    assert weights.variations == {
        "mu_sfUp",
        "mu_sfDown",
        "btag_bcUp",
        "btag_bcDown",
        "btag_lightUp",
        "btag_lightDown",
    }
    mu = np.array([0.9, 1, 1, 1])
    bt = np.array([0.85, 0.95, 1.0, 1.5])
    np.testing.assert_allclose(weights.weight(), mu * bt)
    np.testing.assert_allclose(weights.weight("mu_sfUp"), np.array([1.0, 1, 1, 1]) * bt)
    np.testing.assert_allclose(weights.weight("btag_lightUp"), mu * np.array([0.8, 0.95, 1.0, 2.0]))


def test_config_errors_name_key_and_input(tmp_path, tiny):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY_YAML.replace("abs_eta_max", "abs_eta_mx"))
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'btag.abs_eta_mx'"):
        load_corrections(bad)
    bad.write_text(TINY_YAML.replace("kind: variation", "kind: systematic"))
    with pytest.raises(ConfigError, match=r"'muon\[0\].inputs.kind' = 'systematic'"):
        load_corrections(bad)
    bad.write_text(TINY_YAML.replace('fixed: {era: "2018"}', "fixed: {}"))
    with pytest.raises(ConfigError, match=r"tiny.json:muon_tight: input 'era' is neither mapped"):
        ScaleFactors(load_corrections(bad))
    bad.write_text(TINY_YAML.replace("correction: muon_tight", "correction: muon_tigth"))
    with pytest.raises(ConfigError, match=r"tiny.json: no correction 'muon_tigth'"):
        ScaleFactors(load_corrections(bad))
    bad.write_text(TINY_YAML.replace("file: tiny.json", "file: gone.json", 1))
    with pytest.raises(InputFileError, match=r"gone\.json: no such correction file"):
        ScaleFactors(load_corrections(bad))
    jets = ak.Array([[{"pt": 30.0, "eta": 0.0, "hadronFlavour": 3, "btagDeepFlavB": 0.1}]])
    with pytest.raises(InputFileError, match=r"hadronFlavour \[3\]"):
        tiny.btag_weights(jets)


# ---- the generator's shipped set ------------------------------------------------------
def test_shipped_json_is_what_the_builder_writes():
    """configs/corrections/eventlens_detector.json is generated, never hand-edited."""
    committed = (CORRECTIONS / "eventlens_detector.json").read_text()
    assert committed == to_json(build_correction_set()), (
        "regenerate: python -m eventlens.corrections.detector "
        "-o configs/corrections/eventlens_detector.json"
    )
    assert json.loads(committed)["schema_version"] == 2


def test_shipped_set_design_values():
    sf = ScaleFactors(load_corrections(CORRECTIONS / "eventlens_detector.yaml"))
    muons = ak.Array([[{"pt": 5.0, "eta": 2.2}, {"pt": 40.0, "eta": 0.1}]])
    weights = sf.muon_weights(muons)
    nom, up, down = weights["muon_id"]
    # central 1; up: (1 + 2 % x 2.0 endcap factor) x (1 + 0.3 %)
    np.testing.assert_allclose([nom[0], up[0], down[0]], [1.0, 1.04 * 1.003, 0.96 * 0.997])
    # the generator's efficiencies are its design: 80 / 10 / 1 % at the medium point
    det = DetectorConfig()
    assert [btag_efficiency(0.2783, f, det) for f in ("b", "c", "light")] == pytest.approx(
        [0.80, 0.10, 0.01]
    )
    jets = ak.Array(
        [
            [
                {"pt": 50.0, "eta": 0.5, "hadronFlavour": f, "btagDeepFlavB": s}
                for f, s in ((5, 0.9), (4, 0.1), (0, 0.05))
            ]
        ]
    )
    w = sf.btag_weights(jets)
    assert w["nominal"][0] == pytest.approx(1.0)  # SF = 1: the weight is exactly 1
    # pT 50-70 GeV: b tagged at +1.8 %, c untagged at +3.6 % (2x): (1 - 1.036 x 0.1)/(1 - 0.1)
    assert w["bc_up"][0] == pytest.approx(1.018 * (1 - 1.036 * 0.1) / 0.9)
    assert w["light_up"][0] == pytest.approx((1 - 1.09 * 0.01) / 0.99)


def test_shipped_electron_id_sf_design_values():
    """EGM layout (signed eta, working point); design σ = base(pT) x factor(|η|) x factor(WP):
    pT 30 GeV at η 1.0: 1.0 % x 1.2 x 1.1; pT 60 GeV in the transition (η -1.5): 0.5 % x 3.0
    x 1.1; the product over the event's electrons, the variations fully correlated."""
    sf = ScaleFactors(load_corrections(CORRECTIONS / "eventlens_detector.yaml"))
    electrons = ak.Array([[{"pt": 30.0, "eta": 1.0}, {"pt": 60.0, "eta": -1.5}], []])
    nom, up, down = sf.electron_weights(electrons)["electron_id"]
    a, b = 0.010 * 1.2 * 1.1, 0.005 * 3.0 * 1.1
    np.testing.assert_allclose(nom, [1.0, 1.0])
    np.testing.assert_allclose(up, [(1 + a) * (1 + b), 1.0])
    np.testing.assert_allclose(down, [(1 - a) * (1 - b), 1.0])
    weights = sf.weights(electrons=electrons)
    assert {"electron_idUp", "electron_idDown"} <= weights.variations
    assert "muon_idUp" not in weights.variations  # no muons given: no muon weight


def test_electron_and_muon_sf_names_must_differ(tmp_path):
    text = (CORRECTIONS / "eventlens_detector.yaml").read_text()
    (tmp_path / "c.yaml").write_text(
        text.replace("- name: electron_id", "- name: muon_id").replace(
            "eventlens_detector.json", str(CORRECTIONS / "eventlens_detector.json")
        )
    )
    with pytest.raises(ConfigError, match="'muon' and 'electron' entries need distinct names"):
        load_corrections(tmp_path / "c.yaml")


def test_measured_efficiency_round_trip(tmp_path):
    """Efficiencies measured from jets, written as a correction, read back."""
    rng = np.random.default_rng(1)
    n = 4000
    flav = rng.choice([0, 4, 5], n)
    truth = {5: 0.8, 4: 0.1, 0: 0.01}
    tagged = rng.uniform(size=n) < np.vectorize(truth.get)(flav)
    jets = ak.unflatten(
        ak.zip(
            {
                "pt": rng.uniform(25, 90, n),
                "eta": rng.uniform(-2.4, 2.4, n),
                "hadronFlavour": flav,
                "btagDeepFlavB": np.where(tagged, 0.9, 0.1),
            }
        ),
        np.full(n // 4, 4),
    )
    h = measure_btag_efficiency(book_btag_efficiency(), jets, threshold=0.5)
    corr = efficiency_correction(h, "M")
    cset = cs.CorrectionSet(schema_version=2, corrections=[corr])
    (tmp_path / "eff.json").write_text(to_json(cset))
    import correctionlib

    ev = correctionlib.CorrectionSet.from_file(str(tmp_path / "eff.json"))[corr.name]
    for f, e in truth.items():
        sel = flav == f
        overall = tagged[sel].mean()
        assert overall == pytest.approx(e, abs=0.03)
        # a bin's efficiency is that bin's tagged fraction
        in_bin = sel & (np.abs(ak.to_numpy(ak.flatten(jets.eta))) < 0.8)
        in_bin &= (ak.to_numpy(ak.flatten(jets.pt)) >= 30) & (ak.to_numpy(ak.flatten(jets.pt)) < 50)
        assert ev.evaluate("M", f, 0.4, 40.0) == pytest.approx(tagged[in_bin].mean())


# ---- the real CMS POG files (same reader, other names and inputs) ------------------------
@pytest.fixture
def pog_dir(tmp_path) -> Path:
    need = ("muon_Z.json", "electron.json.gz", "btagging.json.gz")
    if not all((POG_DIR / f).exists() for f in need):
        pytest.skip(f"CMS POG files {need} not found in {POG_DIR} (EVENTLENS_POG_DIR)")
    for f in need:
        (tmp_path / f).symlink_to(POG_DIR / f)
    shutil.copy(CORRECTIONS / "cms_2018_ul.yaml", tmp_path)
    return tmp_path


def test_reader_on_cms_pog_files(pog_dir):
    import correctionlib

    h = measure_btag_efficiency(book_btag_efficiency(), _jets(), threshold=0.2783)
    cset = cs.CorrectionSet(schema_version=2, corrections=[efficiency_correction(h, "M")])
    (pog_dir / "btag_efficiency.json").write_text(to_json(cset))
    sf = ScaleFactors(load_corrections(pog_dir / "cms_2018_ul.yaml"))
    weights = sf.weights(
        muons=ak.Array([[{"pt": 30.0, "eta": 1.0}], [], [], []]),
        jets=_jets(),
        electrons=ak.Array([[{"pt": 40.0, "eta": -1.2}], [], [], []]),
    )
    assert {
        "muon_idUp", "muon_isoDown", "electron_idUp", "btag_bcUp", "btag_lightDown"
    } <= weights.variations
    mu = correctionlib.CorrectionSet.from_file(str(POG_DIR / "muon_Z.json"))
    by_hand = mu["NUM_TightID_DEN_TrackerMuons"].evaluate("2018_UL", 1.0, 30.0, "sf")
    by_hand *= mu["NUM_TightRelIso_DEN_TightIDandIPCut"].evaluate("2018_UL", 1.0, 30.0, "sf")
    eg = correctionlib.CorrectionSet.from_file(str(POG_DIR / "electron.json.gz"))
    eid = eg["UL-Electron-ID-SF"]
    named = {"year": "2018", "ValType": "sf", "WorkingPoint": "Tight", "eta": -1.2, "pt": 40.0}
    by_hand *= eid.evaluate(*[named[v.name] for v in eid.inputs])
    bt = sf.btag_weights(_jets())["nominal"]
    assert weights.weight()[0] == pytest.approx(by_hand * bt[0])
    assert 0.5 < by_hand < 1.5 and np.all((bt > 0.5) & (bt < 2.0))
