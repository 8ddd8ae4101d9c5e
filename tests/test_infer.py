"""In-loop inference end to end: select -> train -> export -> ``eventlens infer``.

Real coffea executors, a real (tiny, briefly trained) compact CNN exported to
ONNX, real onnxruntime sessions, on toy generator-like files and the real CMS
NanoAOD samples.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import hist
import numpy as np
import pytest

from nanoaod_toy import TASK_PROCESSES, fileset
from train_helpers import config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dtw_model(toy_samples, tmp_path_factory):
    """A compact CNN trained one short epoch on the dtw table of the toy samples, exported."""
    from eventlens.export import export_checkpoint
    from eventlens.pipeline.select import run_selection
    from eventlens.training.evaluate import evaluate_run
    from eventlens.training.loop import fit

    base = tmp_path_factory.mktemp("infer_model")
    fs = fileset(toy_samples, TASK_PROCESSES["dtw"])
    run_selection("dtw", fs, base / "table", status=False)
    cfg = config(
        base / "table",
        "compact_cnn",
        task="dtw",
        evaluation={"signal": ["ttbar"]},
        training={"epochs": 1, "batch_size": 8},
    )
    fit(cfg, base / "run", progress=False, evaluate=False)
    evaluate_run(base / "run", plots=False)
    onnx = base / "dtw_test.onnx"
    export_checkpoint(base / "run" / "best.pt", onnx, threads=1)
    return onnx, fs


@pytest.fixture(scope="module")
def mixed_fileset(dtw_model, nanoaod_dir):
    """Toy simulation + the real CMS files: 2018 DoubleMuon data and tt̄ MC."""
    _, fs = dtw_model
    fs = json.loads(json.dumps(fs))
    fs["DoubleMuon2018"] = {
        "files": {str(nanoaod_dir / "nano_dimuon.root"): "Events"},
        "metadata": {"process": "data"},
    }
    fs["tt_v12"] = {
        "files": {str(nanoaod_dir / "nano_tt_v12.root"): "Events"},
        "metadata": {"process": "ttbar", "xsec": 831.76},
    }
    return fs


@pytest.fixture(scope="module")
def results(dtw_model, mixed_fileset, tmp_path_factory):
    from eventlens.pipeline.infer import run_inference

    onnx, _ = dtw_model
    base = tmp_path_factory.mktemp("infer_out")
    out = {}
    for executor in ("iterative", "futures", "dask"):
        out[executor] = run_inference(
            onnx,
            mixed_fileset,
            base / executor,
            executor=executor,
            workers=2,
            chunksize=100,
            scores=executor == "iterative",
            status=False,
        )
    return out, base


def by_category(h) -> dict:
    """Bin contents keyed by category labels (growth axes order categories by first fill,
    which differs between executors)."""
    out = {}
    for ds in h.axes["dataset"]:
        for t in h.axes["truth"]:
            sub = h[{"dataset": ds, "truth": hist.loc(t)}]
            if sub.values(flow=True).any():
                out[(ds, t)] = (sub.values(flow=True), sub.variances(flow=True))
    return out


def test_histograms_are_identical_across_executors(results):
    out, _ = results
    for name in ("mass", "score"):
        ref = by_category(out["iterative"]["hists"][name])
        assert ref
        for executor in ("futures", "dask"):
            other = by_category(out[executor]["hists"][name])
            assert sorted(other) == sorted(ref), executor
            for key, (values, variances) in ref.items():  # added in plan order: exact
                np.testing.assert_array_equal(other[key][0], values, err_msg=f"{executor} {key}")
                np.testing.assert_array_equal(other[key][1], variances)


def test_every_selected_event_is_classified_once(results):
    out, base = results
    res = out["iterative"]
    cutflow = json.loads((base / "iterative" / "cutflow.json").read_text())
    h = res["hists"]["mass"]
    for ds, cf in cutflow.items():
        if ds not in h.axes["dataset"]:
            assert cf["selected"] == 0
            continue
        # unit-weight count via the score hist would be weighted; use the scores files
        assert cf["read"] > 0
    scores = list((base / "iterative" / "scores").glob("*.parquet"))
    import pyarrow.parquet as pq

    rows = sum(pq.read_metadata(p).num_rows for p in scores)
    assert rows == sum(cf["selected"] for cf in cutflow.values())
    real = [ds for ds in ("DoubleMuon2018", "tt_v12") if cutflow[ds]["read"] > 0]
    assert real == ["DoubleMuon2018", "tt_v12"], "the real NanoAOD files were processed"
    assert set(res["examples"]) == set(res["classes"])


def test_data_has_no_truth_and_unit_weights(results):
    out, _ = results
    h = out["iterative"]["hists"]["mass"]
    data = by_category(h)
    keys = [k for k in data if k[0] == "DoubleMuon2018"]
    assert keys == [("DoubleMuon2018", -1)], "real data: no true class"
    values, variances = data[keys[0]]
    np.testing.assert_array_equal(values, variances)  # unit weights
    assert values.sum() > 0


def test_mismatched_card_is_refused(dtw_model, mixed_fileset, tmp_path):
    from eventlens.modelcard import RenderConfigMismatch
    from eventlens.pipeline.infer import run_inference
    from eventlens.render import RenderConfig

    onnx, _ = dtw_model
    with pytest.raises(RenderConfigMismatch, match="height: model 32, in use 64"):
        run_inference(
            onnx, mixed_fileset, tmp_path / "a", render_config=RenderConfig(), status=False
        )
    # a card whose render config no longer matches the ONNX input shape
    bad = tmp_path / "bad.onnx"
    shutil.copy(onnx, bad)
    card = json.loads(Path(onnx).with_suffix(".json").read_text())
    changed = RenderConfig.from_dict({**card["render_config"], "height": 40, "width": 40})
    card["render_config"], card["render_config_digest"] = changed.to_dict(), changed.digest()
    card["model"]["input_shape"] = list(changed.shape)
    card["input"]["shape"] = ["batch", *changed.shape]
    bad.with_suffix(".json").write_text(json.dumps(card))
    from eventlens.errors import EventLensError

    with pytest.raises(EventLensError, match="do not belong together"):
        run_inference(bad, mixed_fileset, tmp_path / "b", status=False)


def test_plot_command_draws_every_figure(results, tmp_path):
    from eventlens.cli import main

    _, base = results
    assert main(["plot", str(base / "iterative"), "-o", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    expected = {
        "index.md",
        "confusion_raw.png",
        "confusion_normalised.pdf",
        "roc.png",
        "mass_predicted_all.png",
        "mass_predicted_ttbar.pdf",
        "gallery_predicted.png",
        "training_loss.png",
        "training_accuracy.png",
    }
    assert expected <= names, expected - names
    index = (tmp_path / "index.md").read_text()
    for name in expected - {"index.md"}:
        if name.endswith(".png"):
            assert name in index


@pytest.mark.slow
def test_condor_executor_equals_iterative(
    condor_pool, condor_tmp, dtw_model, mixed_fileset, results
):
    """``eventlens infer --executor condor``: an HTCondorCluster worker, same histograms."""
    from eventlens.pipeline.infer import run_inference

    onnx, _ = dtw_model
    public = condor_tmp / "infer"
    public.mkdir(mode=0o755)
    model = public / onnx.name
    shutil.copy(onnx, model)
    shutil.copy(onnx.with_suffix(".json"), model.with_suffix(".json"))
    fs = json.loads(json.dumps(mixed_fileset))
    for ds in fs.values():  # the job user must read the inputs: copy them somewhere public
        files = {}
        for path, tree in ds["files"].items():
            dst = public / f"{Path(path).parent.name}_{Path(path).name}"
            if not dst.exists():
                shutil.copy(path, dst)
            files[str(dst)] = tree
        ds["files"] = files
    # one worker job: the two-worker HTCondorCluster equality is tested for the selection
    # (tests/test_condor.py); here the point is the model + card reaching the job user's worker
    out = run_inference(
        model, fs, public / "out", executor="condor", workers=1, chunksize=100, status=False
    )
    ref = results[0]["iterative"]
    for name in ("mass", "score"):
        a, b = by_category(ref["hists"][name]), by_category(out["hists"][name])
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_array_equal(b[key][0], a[key][0], err_msg=str(key))


def test_table_model_fills_mgg_histograms(toy_samples, tmp_path):
    """The shipped adversarial H→γγ classifier takes the photons' table, not images."""
    from conftest import REPO
    from eventlens.modelcard import load_model_card
    from eventlens.pipeline.infer import run_inference

    model = REPO / "onnx_models" / "hgg_ann.onnx"
    if not model.exists():
        pytest.skip(f"{model} not shipped")
    card = load_model_card(model)
    assert card.input.kind == "table"
    assert card.table_spec.feature_names() == list(card.input.feature_names)
    out = run_inference(
        model, fileset(toy_samples, TASK_PROCESSES["hgg"]), tmp_path / "hgg", status=False
    )
    h = out["hists"]["mass"]
    assert out["task"] == "hgg" and list(h.axes["predicted"]) == ["background", "signal"]
    signal = h[{"dataset": "hgg", "truth": sum, "predicted": sum}]
    centres = signal.axes[0].centers
    window = signal.values()[(centres > 120) & (centres < 130)].sum()
    assert window > 0.9 * signal.values().sum() > 0, "the signal's m_γγ peaks at 125 GeV"


@pytest.mark.parametrize("name", ["dtw_compact_cnn", "dtw_ffn"])
def test_shipped_dtw_model_on_real_cms_nanoaod(nanoaod_dir, tmp_path, name):
    """The shipped models (image CNN, object-table FFN), unchanged, on real CMS files:
    2018 data, DY and tt̄ simulation."""
    from conftest import REPO
    from eventlens.pipeline.infer import run_inference

    model = REPO / "onnx_models" / f"{name}.onnx"
    if not model.exists():
        pytest.skip(f"{model} not shipped")
    fs = {
        "DoubleMuon2018": {
            "files": {str(nanoaod_dir / "nano_dimuon.root"): "Events"},
            "metadata": {"process": "data"},
        },
        "dy": {
            "files": {str(nanoaod_dir / "nano_dy.root"): "Events"},
            "metadata": {"process": "dy", "xsec": 6077.22},
        },
        "ttbar": {
            "files": {str(nanoaod_dir / "nano_tt_v12.root"): "Events"},
            "metadata": {"process": "ttbar", "xsec": 831.76},
        },
    }
    out = run_inference(model, fs, tmp_path / "real", status=False)
    cutflow = json.loads((tmp_path / "real" / "cutflow.json").read_text())
    assert cutflow["ttbar"]["read"] == 200 and cutflow["ttbar"]["selected"] > 0
    h = out["hists"]["mass"]
    tt = h[{"dataset": "ttbar", "truth": sum, "mass": sum}]
    assert tt.values().sum() > 0
    # real tt̄ events: the model trained on generated events calls most of them tt̄
    assert tt[{"predicted": "ttbar"}].value > 0.5 * tt.values().sum()
