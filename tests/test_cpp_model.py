"""The same model in C++: eventlens::Model and cpp/examples against the Python in-loop path.

The examples are built with CMake against the *installed* package
(``find_package(EventLens COMPONENTS model)``), as a downstream analysis would,
and their outputs are compared with ``eventlens infer --scores`` on the same
files: the same selected events, probabilities within 1e-5.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot

from conftest import REPO
from nanoaod_toy import event, obj, write_nanoaod

pytestmark = [pytest.mark.integration]

EVENTLENS = [str(Path(sys.executable).parent / "eventlens")]
MODEL = REPO / "onnx_models" / "dtw_compact_cnn.onnx"
TOLERANCE = 1e-5


def _run(cmd: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _ok(cmd: list[str], timeout: float = 900) -> str:
    proc = _run(cmd, timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    """cpp/examples built against the installed package; the build folder."""
    from eventlens.render import cmake_dir

    if (
        "set(EventLens_WITH_ONNXRUNTIME TRUE)"
        not in (cmake_dir() / "EventLensConfig.cmake").read_text()
    ):
        pytest.skip(
            "eventlens was built without ONNX Runtime headers "
            "(python -m eventlens.debian onnxruntime-headers, then reinstall)"
        )
    cmake = shutil.which("cmake", path=str(Path(sys.executable).parent)) or shutil.which("cmake")
    build = tmp_path_factory.mktemp("cpp_model") / "build"
    _ok(
        [
            cmake,
            "-S",
            str(REPO / "cpp" / "examples"),
            "-B",
            str(build),
            f"-DEventLens_DIR={cmake_dir()}",
            f"-DPython_EXECUTABLE={sys.executable}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
    )
    _ok([cmake, "--build", str(build), "--target", "classify_nanoaod", "model_predict"])
    return build


def classify(examples: Path, out: Path, *inputs: Path, model: Path = MODEL, threads: int = 1):
    return _run(
        [
            str(examples / "classify_nanoaod"),
            str(model),
            str(out),
            *map(str, inputs),
            "-j",
            str(threads),
        ]
    )


def cpp_events(out: Path) -> dict[str, np.ndarray]:
    with uproot.open(out) as f:
        return f["events"].arrays(library="np")


def python_scores(fileset: dict, out: Path) -> tuple[dict[str, np.ndarray], dict]:
    """``eventlens infer --scores`` on ``fileset``: per-event rows in (run, lumi, event) order,
    and the cutflow."""
    import pyarrow.parquet as pq

    fs = out.parent / f"{out.name}_fileset.json"
    fs.write_text(json.dumps(fileset))
    _ok(
        [
            *EVENTLENS,
            "infer",
            "--model",
            str(MODEL),
            "--fileset",
            str(fs),
            "--scores",
            "-o",
            str(out),
        ]
    )
    cutflow = json.loads((out / "cutflow.json").read_text())
    parts = sorted((out / "scores").glob("*.parquet"))
    if not parts:  # nothing selected: no score file
        assert sum(d["selected"] for d in cutflow.values()) == 0, cutflow
        return {k: np.zeros(0) for k in ("run", "luminosityBlock", "event", "scores")}, cutflow
    table = pq.read_table(parts).to_pydict()
    cols = {k: np.asarray(v) for k, v in table.items() if k != "scores"}
    cols["scores"] = np.asarray(table["scores"], dtype=np.float32)
    order = np.lexsort((cols["event"], cols["luminosityBlock"], cols["run"]))
    rows = {k: v[order] for k, v in cols.items()}
    return rows, cutflow


def assert_same_events(py: dict[str, np.ndarray], cpp: dict[str, np.ndarray]) -> None:
    for key in ("run", "luminosityBlock", "event"):
        np.testing.assert_array_equal(cpp[key], py[key], err_msg=f"selected events differ ({key})")
    dp = np.abs(cpp["probabilities"] - py["scores"])
    assert dp.max() <= TOLERANCE, f"max |dp| = {dp.max():.3g}"
    np.testing.assert_allclose(cpp["mass"], py["mass"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cpp["weight"], py["weight"], rtol=1e-12)
    np.testing.assert_array_equal(cpp["predicted"], py["predicted"])


def assert_histograms(out: Path, cpp: dict[str, np.ndarray], classes: list[str]) -> None:
    """mass_<class>: the weighted mass of the events predicted as <class>."""
    with uproot.open(out) as f:
        for k, cls in enumerate(classes):
            h = f[f"mass_{cls}"]
            sel = cpp["predicted"] == k
            want, _ = np.histogram(
                cpp["mass"][sel], bins=h.axis().edges(), weights=cpp["weight"][sel]
            )
            np.testing.assert_allclose(h.values(), want, rtol=1e-9, atol=1e-9)


# ---- real NanoAOD ------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["nano_tt_v12.root", "nano_tt_v15.root"])
def test_real_nanoaod_same_events_and_probabilities(examples, nanoaod_dir, tmp_path, name):
    """Real CMS Run 3 files.  v15 has no Jet_jetId (derived) and PuppiMET is read; none of
    coffea's 200 v15 tt̄ events has a tight isolated lepton above threshold, so there the
    agreement is on the cutflow (0 selected), the derived ID is compared on the toy above."""
    sample = nanoaod_dir / name
    if not sample.exists():
        pytest.skip(f"{sample} not found")
    out = tmp_path / "cpp.root"
    proc = classify(examples, out, sample)
    assert proc.returncode == 0, proc.stderr
    cpp = cpp_events(out)
    py, cutflow = python_scores(
        {"tt": {"files": {str(sample): "Events"}, "metadata": {"process": "ttbar"}}},
        tmp_path / "py",
    )
    assert len(py["event"]) == cutflow["tt"]["selected"]
    assert f"classified {cutflow['tt']['selected']} events" in proc.stdout
    assert ("jet ID derived" in proc.stderr) == name.endswith("v15.root"), proc.stderr
    if name.endswith("v15.root"):
        assert len(cpp["event"]) == 0
        return
    assert cutflow["tt"]["selected"] > 0
    assert_same_events(py, cpp)
    assert_histograms(out, cpp, ["dy", "wjets", "ttbar"])
    assert "ONNX Runtime 1." in proc.stdout


# ---- toy NanoAOD with every rule of the selection at work --------------------------------
def jet_id_inputs(rng: np.random.Generator) -> dict:
    """Jet energy fractions and multiplicities around every cut of the derived jet ID (v15),
    including values exactly at the float32 thresholds and multiplicity sums past 255."""
    def near(cut: float) -> float:
        return float(rng.choice([cut, np.nextafter(np.float32(cut), 0), rng.uniform(0, 1)]))

    return {
        "neHEF": near(float(rng.choice([0.90, 0.99]))),
        "neEmEF": near(float(rng.choice([0.4, 0.90, 0.99]))),
        "chHEF": near(0.01),
        "chEmEF": near(0.8),
        "muEF": near(0.8),
        "chMultiplicity": int(rng.choice([0, 1, 2, 200])),
        "neMultiplicity": int(rng.choice([0, 1, 2, 56])),
    }


def edge_case_events(n: int, seed: int, v15: bool = False) -> list[dict]:
    """Random events that exercise each cut of the DTW selection and its NaN handling:
    leptons around every threshold (pT, |eta|, the electron gap, ID, isolation, dxy, dz),
    loose leptons drawn but not counted, jets on top of leptons (Delta-R cleaning, also
    across phi = +-pi), jets failing the ID, and NaN/inf in branches each step reads.
    ``v15``: the jets carry the inputs of the derived jet ID instead (write with
    ``flavour="v15"``, which drops Jet_jetId)."""
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        muons = [
            obj(
                pt=float(rng.uniform(5, 60)),
                eta=float(rng.uniform(-2.7, 2.7)),
                phi=float(rng.uniform(-math.pi, math.pi)),
                charge=int(rng.choice([-1, 1])),
                tightId=bool(rng.random() < 0.7),
                pfRelIso04_all=float(rng.uniform(0, 0.25)),
                dxy=float(rng.uniform(-0.3, 0.3)),
                dz=float(rng.uniform(-0.7, 0.7)),
            )
            for _ in range(rng.integers(0, 4))
        ]
        electrons = [
            obj(
                pt=float(rng.uniform(5, 60)),
                eta=float(rng.choice([rng.uniform(-2.7, 2.7), rng.uniform(1.40, 1.60)])),
                phi=float(rng.uniform(-math.pi, math.pi)),
                charge=int(rng.choice([-1, 1])),
                cutBased=int(rng.integers(0, 5)),
                pfRelIso03_all=float(rng.uniform(0, 0.2)),
            )
            for _ in range(rng.integers(0, 3))
        ]
        jets = [
            obj(
                pt=float(rng.uniform(20, 120)),
                eta=float(rng.uniform(-3, 3)),
                phi=float(rng.uniform(-math.pi, math.pi)),
                btagDeepFlavB=float(rng.random()),
                **(jet_id_inputs(rng) if v15 else {"jetId": int(rng.choice([0, 2, 6, 6]))}),
            )
            for _ in range(rng.integers(0, 5))
        ]
        for lepton in muons + electrons:  # a jet around a lepton, within or beyond 0.4
            if rng.random() < 0.5:
                dr, angle = float(rng.uniform(0.1, 0.7)), float(rng.uniform(0, 2 * math.pi))
                phi = lepton["phi"] + dr * math.sin(angle)
                jets.append(
                    obj(
                        pt=float(rng.uniform(30, 90)),
                        eta=lepton["eta"] + dr * math.cos(angle),
                        phi=(phi + math.pi) % (2 * math.pi) - math.pi,  # wrapped across +-pi
                        jetId=6,
                    )
                )
        met = (float(rng.uniform(5, 120)), float(rng.uniform(-math.pi, math.pi)))
        weight = float(rng.choice([1.0, -1.0]))
        kind = i % 40
        if kind == 3 and muons:
            muons[0]["pfRelIso04_all"] = math.nan  # bad at "leptons"
        elif kind == 7 and jets:
            jets[-1]["eta"] = math.nan  # bad at "min_jets"
        elif kind == 11:
            electrons.append(obj(pt=15.0, eta=0.4, phi=math.nan))  # drawn: bad at "finite_objects"
        elif kind == 17:
            weight = math.nan  # bad at "finite_weight"
        elif kind == 23:
            met = (met[0], math.inf)  # MET: bad at "finite_objects"
        events.append(
            event(muons=muons, electrons=electrons, jets=jets, met=met, gen_weight=weight)
        )
    return events


@pytest.mark.slow
def test_toy_edge_cases_same_events_and_probabilities(examples, tmp_path):
    """Every rule of the selection, including the optional electron collection, the MET
    fallback (PFMET) and the jet ID derived for v15 files (with PuppiMET), gives the events
    and probabilities of the Python path."""
    full = write_nanoaod(tmp_path / "full.root", edge_case_events(800, seed=5), first_event=1)
    no_electrons = write_nanoaod(
        tmp_path / "noele.root",
        edge_case_events(400, seed=6),
        first_event=100_001,
        drop=["Electron"],
        met_name="PFMET",
    )
    v15 = write_nanoaod(
        tmp_path / "v15.root",
        edge_case_events(600, seed=7, v15=True),
        first_event=200_001,
        flavour="v15",
    )
    fileset = {
        "full": {"files": {str(full): "Events"}, "metadata": {"process": "ttbar"}},
        "noele": {"files": {str(no_electrons): "Events"}, "metadata": {"process": "wjets"}},
        "v15": {"files": {str(v15): "Events"}, "metadata": {"process": "dy"}},
    }
    py, cutflow = python_scores(fileset, tmp_path / "py")
    steps = cutflow["full"]["steps"]
    for step in ("finite_weight", "leptons", "min_jets", "finite_objects"):
        assert steps[step]["bad"] > 0, f"the toy does not exercise NaN at {step}"
    for step in ("leptons", "min_jets"):
        assert steps[step]["failed"] > 0 and steps[step]["passed"] > 0

    cpp_rows = []
    for name, path in (("full", full), ("noele", no_electrons), ("v15", v15)):
        out = tmp_path / f"{name}.root"
        proc = classify(examples, out, path)
        assert proc.returncode == 0, proc.stderr
        assert ("jet ID derived" in proc.stderr) == (name == "v15"), proc.stderr
        assert f"classified {cutflow[name]['selected']} events" in proc.stdout
        cpp_rows.append(cpp_events(out))
    cpp = {k: np.concatenate([r[k] for r in cpp_rows]) for k in cpp_rows[0]}
    order = np.lexsort((cpp["event"], cpp["luminosityBlock"], cpp["run"]))
    cpp = {k: v[order] for k, v in cpp.items()}
    assert len(py["event"]) > 100
    assert_same_events(py, cpp)


@pytest.mark.slow
def test_threads_one_session_per_slot(examples, tmp_path):
    """Two RDataFrame slots, each with its own session, give the results of one."""
    import ROOT

    src = write_nanoaod(tmp_path / "toy.root", edge_case_events(1200, seed=9))
    multi = tmp_path / "clusters.root"
    opts = ROOT.RDF.RSnapshotOptions()
    opts.fAutoFlush = 100  # 12 clusters: implicit MT splits the file
    ROOT.RDataFrame("Events", str(src)).Snapshot("Events", str(multi), "", opts)
    one, two = tmp_path / "j1.root", tmp_path / "j2.root"
    p1 = classify(examples, one, multi, threads=1)
    p2 = classify(examples, two, multi, threads=2)
    assert p1.returncode == 0 and p2.returncode == 0, p1.stderr + p2.stderr
    assert "2 slot(s)" in p2.stdout
    per_slot = next(line for line in p2.stdout.splitlines() if line.startswith("events per slot"))
    counts = [int(x) for x in per_slot.split(":")[1].split()]
    assert len(counts) == 2 and min(counts) > 0, per_slot
    a, b = cpp_events(one), cpp_events(two)
    np.testing.assert_array_equal(a["event"], b["event"])
    assert np.abs(a["probabilities"] - b["probabilities"]).max() <= 1e-6


# ---- eventlens::Model on its own ---------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "per_event"),
    [
        ("dtw_compact_cnn", False),
        ("dtw_compact_cnn", True),
        ("dtw_ffn", False),
        ("dhjw_compact_cnn", False),
        ("hgg_ann", False),
    ],
)
def test_model_predict_equals_onnxruntime_python(examples, tmp_path, name, per_event):
    """Image and table models: the C++ probabilities equal Python onnxruntime's, same inputs."""
    import onnxruntime as ort

    card = json.loads((REPO / "onnx_models" / f"{name}.json").read_text())
    shape = [int(d) for d in card["input"]["shape"][1:]]
    x = np.random.default_rng(3).random((53, *shape), dtype=np.float32)
    if card["input"]["kind"] == "image":
        x = (x > 0.93).astype(np.float32)  # sparse outlines, as drawn
    x.tofile(tmp_path / "x.f32")
    out = _ok(
        [
            str(examples / "model_predict"),
            str(REPO / "onnx_models" / f"{name}.onnx"),
            str(tmp_path / "x.f32"),
            str(tmp_path / "p.f32"),
            *(["--per-event"] if per_event else []),
        ]
    )
    assert f"classes: {' '.join(card['classes'])}" in out
    p = np.fromfile(tmp_path / "p.f32", np.float32).reshape(53, len(card["classes"]))
    session = ort.InferenceSession(
        str(REPO / "onnx_models" / f"{name}.onnx"), providers=["CPUExecutionProvider"]
    )
    want = session.run(["probabilities"], {session.get_inputs()[0].name: x})[0]
    assert np.abs(p - want).max() <= TOLERANCE


# ---- clear errors ------------------------------------------------------------------------
def _copy_model(tmp_path: Path, card_edit=None, with_card: bool = True) -> Path:
    onnx = tmp_path / "m.onnx"
    shutil.copy(MODEL, onnx)
    if with_card:
        card = json.loads(MODEL.with_suffix(".json").read_text())
        if card_edit:
            card_edit(card)
        onnx.with_suffix(".json").write_text(json.dumps(card))
    return onnx


def _error(examples: Path, tmp_path: Path, model: Path, sample: Path | None = None) -> str:
    sample = sample or write_nanoaod(tmp_path / "toy.root", edge_case_events(20, seed=1))
    out = tmp_path / "out.root"
    proc = classify(examples, out, sample, model=model)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert not out.exists()
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: "), proc.stderr
    return lines[-1]


def test_wrong_sha256_names_files_and_hashes(examples, tmp_path):
    def edit(card):
        card["onnx"]["sha256"] = "0" * 64

    model = _copy_model(tmp_path, edit)
    msg = _error(examples, tmp_path, model)
    actual = json.loads(MODEL.with_suffix(".json").read_text())["onnx"]["sha256"]
    assert f"{model} has sha256 {actual}" in msg
    assert f"{model.with_suffix('.json')} records {'0' * 64}" in msg


def test_missing_card(examples, tmp_path):
    model = _copy_model(tmp_path, with_card=False)
    msg = _error(examples, tmp_path, model)
    assert f"model card {model.with_suffix('.json')} does not exist" in msg


def test_edited_render_config_is_refused(examples, tmp_path):
    def edit(card):
        card["render_config"]["radius_scale"] = 2.0

    msg = _error(examples, tmp_path, _copy_model(tmp_path, edit))
    assert "render_config digest" in msg and "does not match" in msg


def test_input_shape_checked_against_render_config(examples, tmp_path):
    """A card whose (consistent) render config draws 64x64 for a 32x32 model."""
    from eventlens.render import RenderConfig

    def edit(card):
        card["render_config"].update(height=64, width=64)
        card["render_config_digest"] = RenderConfig.from_dict(card["render_config"]).digest()

    msg = _error(examples, tmp_path, _copy_model(tmp_path, edit))
    assert "input 'input' has shape [batch, 5, 32, 32]" in msg
    assert "render_config draws [batch, 5, 64, 64]" in msg


def test_missing_input_file(examples, tmp_path):
    msg = _error(examples, tmp_path, MODEL, sample=tmp_path / "absent.root")
    assert str(tmp_path / "absent.root") in msg
