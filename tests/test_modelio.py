"""One owner of "objects → model input" and the typed model card (issue 14, issue 13's checks).

* the shipped models give, through the current in-loop path, the outputs recorded in
  ``tests/data/shipped_predictions.npz`` with the code before this change (exactly);
* training, export, explanations and inference make bit-identical inputs from the same
  events (float32 images, uint8 images — where two of them used to multiply by 1/255 —
  and padded tables);
* every shipped card loads, and writing it back gives its JSON; a swapped ``.onnx`` and
  a graph with the wrong output width are refused in one line naming the files.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch

from eventlens.modelcard import ModelCard, ModelCardError, load_model_card
from eventlens.modelio import ImageInput, TableInput, checkpoint_input, model_input
from eventlens.models.features import TableSpec
from eventlens.objects import OBJECT_FIELDS, make_objects
from eventlens.render.batch import FlatObjects
from eventlens.render.config import RenderConfig
from train_helpers import config

REPO = Path(__file__).resolve().parents[1]
MODELS = sorted((REPO / "onnx_models").glob("*.onnx"))
FIXTURE = REPO / "tests" / "data" / "shipped_predictions.npz"


def _awkward(offsets: np.ndarray, columns: dict[str, np.ndarray]) -> ak.Array:
    counts = np.diff(offsets)
    return make_objects(*(ak.unflatten(columns[f], counts) for f in OBJECT_FIELDS))


# ---- the shipped models' predictions ------------------------------------------------
@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def test_the_fixture_covers_every_shipped_model(fixture):
    assert {p.stem for p in MODELS} == {k.split("/")[0] for k in fixture if "/" in k} - {"objects"}


@pytest.mark.parametrize("onnx", MODELS, ids=lambda p: p.stem)
def test_shipped_models_predict_what_they_did_before(fixture, onnx):
    """Exact equality: the image inputs are the renderer's float32 pictures (no scaling)
    and the tables the same featurise call, so not a bit may move."""
    from eventlens.inference import OnnxWrapper

    objects = _awkward(fixture["offsets"],
                       {f: fixture[f"objects/{f}"] for f in OBJECT_FIELDS})
    card = load_model_card(onnx)  # the .onnx is the file the card (and the fixture) names
    assert str(fixture[f"{onnx.stem}/sha256"]) == card.onnx.sha256
    wrapper = OnnxWrapper(onnx, preprocess=card.model_input(), batch_size=32,
                          providers="cpu", threads=1)
    np.testing.assert_array_equal(wrapper.predict(objects), fixture[f"{onnx.stem}/logits"])
    x = card.model_input()(objects)
    probs = wrapper.session.run(None, {wrapper.input_name: x})[1]
    np.testing.assert_array_equal(probs, fixture[f"{onnx.stem}/probabilities"])


# ---- the same input in training, export, explanations and inference ------------------------
SHIPPED_IMAGE = load_model_card(REPO / "onnx_models" / "dtw_compact_cnn.json")
SHIPPED_TABLE = load_model_card(REPO / "onnx_models" / "dtw_ffn.json")
RGB_UINT8 = RenderConfig.seed_rgb(height=32, width=32)  # the seed's uint8 pictures


def _card_for(inputs: ImageInput | TableInput) -> ModelCard:
    """A model card for ``inputs`` made by the card's own reader (the shipped DTW card with
    the render config / table spec swapped, re-read from its JSON)."""
    base = SHIPPED_IMAGE if isinstance(inputs, ImageInput) else SHIPPED_TABLE
    rc = inputs.render_config
    card = dataclasses.replace(
        base,
        render_config=rc,
        render_config_digest=rc.digest() if rc else None,
        table_spec=inputs.table_spec,
        model=dataclasses.replace(base.model, input_shape=inputs.shape),
        input=inputs.card_input(),
    )
    return ModelCard.from_dict(json.loads(json.dumps(card.to_dict())))


@pytest.fixture(scope="module")
def dtw_table(tmp_path_factory) -> Path:
    from eventlens.training.toy import write_dtw_like_table

    return write_dtw_like_table(tmp_path_factory.mktemp("dtw"), 400, seed=11)


@pytest.mark.parametrize(
    "inputs",
    [ImageInput(SHIPPED_IMAGE.render_config), ImageInput(RGB_UINT8),
     TableInput(SHIPPED_TABLE.table_spec)],
    ids=["float32-image", "uint8-image", "table"],
)
def test_four_paths_give_bit_identical_inputs(dtw_table, tmp_path, inputs):
    from eventlens.explain.model import load_torch
    from eventlens.export import check_inputs
    from eventlens.training.checkpoint import save_checkpoint
    from eventlens.training.loop import Trainer
    from eventlens.training.setup import prepare

    torch.set_num_threads(1)
    model = "ffn" if isinstance(inputs, TableInput) else "compact_cnn"
    extra = ({"features": inputs.spec.to_dict()} if isinstance(inputs, TableInput)
             else {"render": inputs.config.to_dict()})
    setup = prepare(config(dtw_table, model, task="dtw", **extra))
    assert setup.maker.input == inputs
    ckpt = Trainer(setup, tmp_path).payload(full=False)
    ckpt["path"] = str(save_checkpoint(tmp_path / "best.pt", ckpt))

    # export: the run's test-split events (the events every path below is given)
    exported, source = check_inputs(ckpt, 40, dtw_table)
    idx = setup.split.test[:40]
    assert len(idx) >= 30 and source.startswith(f"{len(idx)} test-split events")
    flat = setup.table.gather(idx)
    # training: the batch maker (channels-last float32 for images)
    trained = setup.maker.inputs(flat).numpy()
    # explanations: the checkpoint as an explainable model
    explained = load_torch(ckpt["path"], threads=1).inputs(flat)
    # inference: the model card's input, on the awkward objects the processors pass
    inferred = _card_for(inputs).model_input()(_awkward(flat.offsets, flat.columns))

    reference = np.ascontiguousarray(exported)
    assert reference.dtype == np.float32 and reference.shape == (len(idx), *inputs.shape)
    for name, x in (("training", trained), ("explain", explained), ("inference", inferred)):
        assert x.dtype == np.float32 and x.shape == reference.shape, name
        assert np.ascontiguousarray(x).tobytes() == reference.tobytes(), name
    if inputs.render_config is not None and inputs.render_config.dtype == "uint8":
        raw = inputs.raw(flat)
        assert reference.tobytes() == (raw.astype(np.float32) / np.float32(255)).tobytes()
    if inputs.render_config is not None:
        assert trained.strides[1] == 4  # channels-last memory: C is the fastest axis


def test_uint8_pixels_are_divided_by_255():
    """Every uint8 value becomes value / 255 in float32 (correctly rounded).  The former
    training and explanation paths multiplied by float32(1/255), 1 ulp off for 126 of the
    256 values (none of them a colour the renderer paints today: 0, 128, 139, 165, 255)."""
    values = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    got = ImageInput(RenderConfig(height=16, width=16, channels=("muon",), dtype="uint8"))
    x = got.to_float(values)
    exact = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32).reshape(values.shape)
    np.testing.assert_array_equal(x, exact)
    assert int((values.astype(np.float32) * np.float32(1.0 / 255.0) != x).sum()) == 126
    assert not np.isin([0, 128, 139, 165, 255], values[x != values * np.float32(1 / 255)]).any()
    out = got.allocate_float(1, channels_last=True)
    assert got.to_float(values, out=out) is out and out.tobytes() == x.tobytes()


def test_model_input_of_configs_checkpoints_and_cards():
    rc = RenderConfig(height=16, width=16)
    assert model_input("image", rc) == ImageInput(rc)
    assert model_input("image", rc.to_dict()).render_config.digest() == rc.digest()
    spec = TableSpec(slots={"muon": 2}, features=("pt", "eta"))
    assert model_input("table", features=spec.to_dict()) == TableInput(spec)
    assert TableInput(spec).shape == (4,) and ImageInput(rc).shape == (6, 16, 16)
    ckpt = {"model": {"input_kind": "table"}, "render_config": None, "table_spec": spec.to_dict()}
    assert checkpoint_input(ckpt) == TableInput(spec)
    with pytest.raises(ValueError, match="needs its render config"):
        model_input("image")
    with pytest.raises(ValueError, match="unknown model input kind 'graph'"):
        model_input("graph", rc)


def test_the_empty_event_is_the_background():
    """What explanations start from: the former formula (background / 255) exactly."""
    for rc in (RenderConfig(height=8, width=8), RGB_UINT8,
               RenderConfig.seed_rgb(height=16, width=16, dtype="float32")):
        bg = np.asarray(rc.background(), dtype=np.float32) / np.float32(255.0)
        expected = np.broadcast_to(bg[:, None, None], rc.shape)
        np.testing.assert_array_equal(ImageInput(rc).empty(), expected)
    spec = TableSpec(slots={"jet": 3}, features=("pt", "energy"))
    np.testing.assert_array_equal(TableInput(spec).empty(), np.zeros(6, np.float32))


def test_table_inputs_use_the_mass_of_awkward_objects():
    """``energy`` needs the mass: the awkward path (inference) must carry it, as the flat
    path (training) does."""
    spec = TableSpec(slots={"jet": 1}, features=("energy",))
    objects = make_objects(ak.Array([[3]]), ak.Array([[30.0]]), ak.Array([[0.0]]),
                           ak.Array([[0.0]]), mass=ak.Array([[40.0]]))
    assert TableInput(spec)(objects)[0, 0] == pytest.approx(50.0)
    flat = FlatObjects(offsets=np.array([0, 1]),
                       columns={"type": np.array([3], np.int32), "pt": np.array([30.0], np.float32),
                                "eta": np.zeros(1, np.float32), "phi": np.zeros(1, np.float32),
                                "mass": np.array([40.0], np.float32)})
    assert TableInput(spec).from_flat(flat)[0, 0] == pytest.approx(50.0)


# ---- the typed model card --------------------------------------------------------------
@pytest.mark.parametrize("onnx", MODELS, ids=lambda p: p.stem)
def test_shipped_cards_load_and_write_back_their_json(onnx, tmp_path):
    card = load_model_card(onnx)  # also: the .onnx's sha256 is the card's
    on_disk = json.loads(onnx.with_suffix(".json").read_text())
    assert card.to_dict() == on_disk
    card.write(tmp_path / onnx.name)
    assert (tmp_path / onnx.with_suffix(".json").name).read_text() == \
        onnx.with_suffix(".json").read_text()
    assert card.model_input().kind == card.model.input_kind == on_disk["input"]["kind"]
    assert ["batch", *card.model_input().shape] == on_disk["input"]["shape"]


def test_cards_with_slots_written_as_a_json_object_still_load():
    """Cards before ``TableSpec.to_dict`` stored the slots as a JSON object (sorted keys);
    the order of ``input.feature_names`` is the authority."""
    data = json.loads((REPO / "onnx_models" / "dtw_ffn.json").read_text())
    alphabetical = {"electron": 2, "jet": 6, "met": 1, "muon": 2}
    data["table_spec"]["slots"] = alphabetical
    data["input"]["features"]["slots"] = alphabetical
    card = ModelCard.from_dict(data, source="old.json")
    assert card.table_spec == SHIPPED_TABLE.table_spec
    assert card.table_spec.feature_names() == list(card.input.feature_names)


def test_a_swapped_model_is_refused_naming_both_files(tmp_path):
    onnx = tmp_path / "dtw_compact_cnn.onnx"
    shutil.copy(REPO / "onnx_models" / "dtw_ffn.onnx", onnx)
    shutil.copy(REPO / "onnx_models" / "dtw_compact_cnn.json", tmp_path)
    with pytest.raises(ModelCardError) as err:
        load_model_card(onnx)
    msg = str(err.value)
    assert "\n" not in msg and str(onnx) in msg and str(onnx.with_suffix(".json")) in msg
    assert "sha256" in msg
    load_model_card(onnx.with_suffix(".json"))  # the card alone is fine


def test_an_onnx_graph_of_the_wrong_width_is_refused(tmp_path):
    """A real graph with the hgg model's 8 inputs and 3 outputs, checked against the
    (2-class) hgg card; the shipped pairs fit."""
    import onnxruntime as ort

    from eventlens.pipeline.infer import check_model_input

    torch.manual_seed(0)
    path = tmp_path / "wide.onnx"
    with warnings.catch_warnings():  # the legacy exporter's deprecation notices
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(torch.nn.Linear(8, 3), (torch.zeros(2, 8),), str(path),
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}}, dynamo=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    card = load_model_card(REPO / "onnx_models" / "hgg_ann.json")
    with pytest.raises(ModelCardError, match=r"3 columns, but its card names 2 classes"):
        card.check_graph(session.get_inputs()[0].shape,
                         [o.shape for o in session.get_outputs()], path)
    with pytest.raises(ModelCardError, match=r"ONNX input has shape \['batch', 8\]"):
        SHIPPED_TABLE.check_graph(session.get_inputs()[0].shape, [], path)
    for onnx in MODELS:
        check_model_input(onnx, load_model_card(onnx))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(colour="blue"), r"unknown key 'colour'"),
        (lambda d: d["onnx"].pop("sha256"), r"lacks key\(s\) \['onnx.sha256'\]"),
        (lambda d: d["model"].update(n_parameters="many"), r"'model.n_parameters' must be int"),
        (lambda d: d["input"].update(kind="graph"), r"'input.kind' must be \['image', 'table'\]"),
        (lambda d: d["model"].update(input_shape=[5, 64, 64]), r"makes \[5, 32, 32\]"),
        (lambda d: d.update(render_config=None), r"needs its render config"),
    ],
)
def test_malformed_cards_are_one_line_errors_naming_the_file(edit, message):
    data = SHIPPED_IMAGE.to_dict()
    edit(data)
    with pytest.raises(ModelCardError, match=message) as err:
        ModelCard.from_dict(data, source="cards/dtw.json")
    assert "cards/dtw.json" in str(err.value) and "\n" not in str(err.value)
