"""``eventlens.load_model`` in your own processor (issue 17): the README's processor, run.

The processor block of README.md ("Add eventlens to your processor") is taken from the
file as it is and run on the real CMS NanoAOD samples with coffea's iterative, futures
and Dask executors and in coffea's dask mode (dask-awkward NanoEvents).  All four must
fill the same histogram, and that histogram must be the one ``eventlens infer`` (the
pipeline's own InferenceProcessor) gives with the model's training selection.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = "dtw_compact_cnn"
#: The real samples: Run 3 v12 and v15 simulation, Run 2 simulation, Run 2 data.
SAMPLES = {
    "tt_v12": "nano_tt_v12.root",
    "tt_v15": "nano_tt_v15.root",
    "dy": "nano_dy.root",
    "data": "nano_dimuon.root",
}

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NanoAODSchema cross-refs


def readme_processor_source() -> str:
    """The README's python block that defines ``MyProcessor``, verbatim."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    found = [b for b in blocks if "class MyProcessor(processor.ProcessorABC)" in b]
    assert len(found) == 1, "README.md must have exactly one block defining MyProcessor"
    return found[0]


@pytest.fixture(scope="module")
def readme_module(tmp_path_factory):
    """The README block as an importable module (the workers import it by name)."""
    import importlib

    folder = tmp_path_factory.mktemp("readme")
    (folder / "readme_processor.py").write_text(readme_processor_source())
    sys.path.insert(0, str(folder))
    mp = pytest.MonkeyPatch()
    mp.setenv("PYTHONPATH", f"{folder}:{':'.join(sys.path[1:])}")  # spawned worker processes
    try:
        yield importlib.import_module("readme_processor")
    finally:
        mp.undo()
        sys.path.remove(str(folder))
        sys.modules.pop("readme_processor", None)


@pytest.fixture(scope="module")
def fileset(nanoaod_dir):
    return {
        name: {"files": {str(nanoaod_dir / file): "Events"}, "metadata": {"sample": name}}
        for name, file in SAMPLES.items()
    }


def values(h) -> dict[int, np.ndarray]:
    """Bin contents per predicted class (IntCat bins, in any order)."""
    return {int(k): h[{"predicted": hist_loc(k)}].values() for k in h.axes["predicted"]}


def hist_loc(k: int):
    import hist

    return hist.loc(k)


def run_runner(module, fileset, executor) -> dict[int, np.ndarray]:
    from coffea import processor
    from coffea.nanoevents import NanoAODSchema

    runner = processor.Runner(executor=executor, schema=NanoAODSchema, chunksize=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = runner(fileset, module.MyProcessor(), treename="Events")
    return values(out["mass"])


@pytest.fixture(scope="module")
def reference(fileset, tmp_path_factory) -> dict[int, np.ndarray]:
    """What ``eventlens infer`` predicts, with the model's training selection, as the
    README processor's histogram (per-event predictions from ``--scores``)."""
    import hist
    import pyarrow.parquet as pq

    from eventlens.classifier import load_model
    from eventlens.pipeline.infer import run_inference

    model = load_model(MODEL)
    tmp = tmp_path_factory.mktemp("infer")
    config = tmp / "training_selection.json"  # JSON is YAML: the card's selection config
    config.write_text(json.dumps(model.card.selection["config"]))
    run_inference(model.path, fileset, tmp / "out", config=config, scores=True, status=False)
    h = hist.Hist.new.IntCat(range(len(model.classes)), name="predicted")
    h = h.Reg(50, 0, 250, name="mass").Double()
    for part in sorted((tmp / "out" / "scores").glob("*.parquet")):
        table = pq.read_table(part)
        h.fill(predicted=table["predicted"].to_numpy(), mass=table["mass"].to_numpy())
    assert h.sum() > 30, "the samples must select events for the comparison to mean anything"
    return values(h)


def assert_same(got: dict[int, np.ndarray], want: dict[int, np.ndarray]) -> None:
    for k in set(got) | set(want):
        np.testing.assert_array_equal(got.get(k, 0), want.get(k, 0), err_msg=f"class {k}")


@pytest.mark.integration
@pytest.mark.slow
def test_readme_processor_iterative_and_futures(readme_module, fileset, reference):
    from coffea import processor

    assert_same(run_runner(readme_module, fileset, processor.IterativeExecutor()), reference)
    futures = processor.FuturesExecutor(workers=2, status=False)
    assert_same(run_runner(readme_module, fileset, futures), reference)


@pytest.mark.integration
@pytest.mark.slow
def test_readme_processor_dask_executor(readme_module, fileset, reference):
    from coffea import processor
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        got = run_runner(readme_module, fileset, processor.DaskExecutor(client=client,
                                                                        status=False))
    assert_same(got, reference)


@pytest.mark.integration
def test_readme_processor_nanoevents_dask_mode(readme_module, fileset, reference):
    """coffea's dask mode: the processor builds a lazy graph; selection, rendering and
    inference run at compute time, partition by partition, reading only their branches."""
    import dask
    import dask_awkward as dak
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    total = None
    for entry in fileset.values():
        events = NanoEventsFactory.from_root(
            entry["files"], schemaclass=NanoAODSchema, mode="dask", steps_per_file=2
        ).events()
        out = readme_module.MyProcessor().process(events)
        if total is None:  # the graph reads the selection's branches, not the whole file
            columns = set().union(*dak.necessary_columns(out["mass"]).values())
            assert "Muon_pt" in columns and "Jet_btagDeepFlavB" in columns
            assert not any(c.startswith(("Photon_", "Tau_", "GenPart_")) for c in columns)
        (computed,) = dask.compute(out)
        total = computed["mass"] if total is None else total + computed["mass"]
    assert_same(values(total), reference)


# ---- the model object itself -------------------------------------------------------------
def eager(path: Path):
    from eventlens.nanoaod import open_events

    return open_events(path)


@pytest.mark.integration
def test_predictions_equal_eventlens_infer_per_event(nanoaod_dir, tmp_path):
    """Event by event: the same events selected, the same probabilities (ORT's
    ``probabilities`` output vs the pipeline's softmax of the logits: ≤ 1e-6)."""
    import pyarrow.parquet as pq

    from eventlens.classifier import load_model
    from eventlens.pipeline.infer import run_inference

    model = load_model(MODEL)
    config = tmp_path / "training_selection.json"
    config.write_text(json.dumps(model.card.selection["config"]))
    path = nanoaod_dir / "nano_tt_v12.root"
    run_inference(model.path, {"tt": [str(path)]}, tmp_path / "out", config=config,
                  scores=True, status=False)
    table = pq.read_table(next((tmp_path / "out" / "scores").glob("*.parquet"))).to_pydict()
    events = eager(path)
    p = model.predict_proba(events)
    selected = model.selected(events)
    ids = ak.to_numpy(events.event)
    assert set(ids[selected].tolist()) == set(table["event"])
    by_event = dict(zip(ids.tolist(), range(len(ids)), strict=True))
    rows = [by_event[e] for e in table["event"]]
    np.testing.assert_allclose(p[rows], np.asarray(table["scores"]), atol=1e-6, rtol=0)
    assert np.isnan(p[~selected]).all() and not np.isnan(p[selected]).any()
    np.testing.assert_array_equal(model.predict(events)[rows], table["predicted"])
    assert (model.predict(events)[~selected] == -1).all()


@pytest.mark.integration
def test_objects_are_the_training_table_rows(nanoaod_dir, tmp_path):
    """``objects`` is what ``eventlens select`` writes to the training table, per event."""
    from eventlens.classifier import load_model
    from eventlens.pipeline.select import run_selection
    from eventlens.pipeline.table import load_table

    model = load_model(MODEL)
    config = tmp_path / "training_selection.json"
    config.write_text(json.dumps(model.card.selection["config"]))
    path = nanoaod_dir / "nano_dy.root"
    run_selection("dtw", {"dy": [str(path)]}, tmp_path / "sel", config=config, status=False)
    table = load_table(tmp_path / "sel")
    events = eager(path)
    objects = model.objects(events)
    ids = ak.to_numpy(events.event)
    assert sorted(ids[~ak.to_numpy(ak.is_none(objects))].tolist()) == sorted(
        ak.to_list(table["event"])
    )
    mine = {int(e): o for e, o in zip(ids, objects.tolist(), strict=True) if o is not None}
    for event, row in zip(ak.to_list(table["event"]), ak.to_list(table["objects"]),
                          strict=True):
        assert mine[event] == row, f"event {event}"


def test_works_on_flat_uproot_arrays(nanoaod_dir):
    import uproot

    from eventlens.classifier import load_model

    model = load_model(MODEL)
    path = nanoaod_dir / "nano_dy.root"
    with uproot.open(path) as f:
        flat = f["Events"].arrays(filter_name=model.needs.filter_names())
    np.testing.assert_array_equal(model.predict_proba(flat), model.predict_proba(eager(path)))


def test_picklable_and_one_session_per_process(nanoaod_dir):
    import pickle

    from eventlens.classifier import load_model

    model = load_model(MODEL)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.wrapper._session is None, "the session is never pickled"
    assert clone.classes == ("dy", "wjets", "ttbar") and clone.card == model.card
    events = eager(nanoaod_dir / "nano_tt_v12.root")
    np.testing.assert_array_equal(clone.predict_proba(events), model.predict_proba(events))
    assert clone.wrapper.session is model.wrapper.session


def test_inference_worker_never_imports_torch(nanoaod_dir):
    code = (
        "import sys, eventlens\n"
        "from eventlens.nanoaod import open_events\n"
        f"m = eventlens.load_model({MODEL!r})\n"
        f"p = m.predict_proba(open_events({str(nanoaod_dir / 'nano_tt_v12.root')!r}))\n"
        "assert p.shape == (200, 3)\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'xgboost') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_import_eventlens_is_cheap():
    code = "import sys, eventlens; print(sorted(m for m in ('awkward', 'coffea', 'numpy', " \
           "'onnxruntime', 'ROOT') if m in sys.modules)); eventlens.load_model"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_clear_errors(tmp_path, nanoaod_dir):
    from eventlens.classifier import load_model
    from eventlens.errors import InputFileError
    from eventlens.modelcard import ModelCardError
    from eventlens.resources import models_dir

    shipped = r"no shipped model 'dtw_cnn'; shipped: .*dtw_compact_cnn"
    with pytest.raises(InputFileError, match=shipped):
        load_model("dtw_cnn")
    with pytest.raises(InputFileError, match=r"missing\.onnx: no such ONNX model"):
        load_model(tmp_path / "missing.onnx")
    # a card whose selection block was edited is refused: it would draw other pictures
    for suffix in (".onnx", ".json"):
        (tmp_path / f"m{suffix}").write_bytes((models_dir() / f"{MODEL}{suffix}").read_bytes())
    card = json.loads((tmp_path / "m.json").read_text())
    card["selection"]["config"]["objects"]["muon"]["draw_pt_min"] = 5.0
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match="selection config does not match its hash"):
        load_model(tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="expected NanoEvents"):
        load_model(MODEL).predict_proba(np.zeros((3, 5, 32, 32), np.float32))
