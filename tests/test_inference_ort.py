"""The ONNX wrapper: real onnxruntime sessions, lazy, picklable, provider fallback."""

from __future__ import annotations

import logging
import pickle
import warnings

import numpy as np
import pytest

from conftest import random_objects
from eventlens.inference import OnnxWrapper
from eventlens.modelio import ImageInput
from eventlens.render import RenderConfig

CONFIG = RenderConfig(height=16, width=16)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A real (untrained) conv net exported to ONNX with a dynamic batch axis."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(6, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 3),
    ).eval()
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    x = torch.zeros(2, *CONFIG.shape)
    with warnings.catch_warnings():  # the legacy exporter's deprecation notice
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (x,),
            str(path),
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}},
            dynamo=False,
        )
    return model, path


def test_session_is_lazy_and_never_pickled(tiny_model):
    _, path = tiny_model
    wrapper = OnnxWrapper(path, preprocess=ImageInput(CONFIG), providers="auto", threads=1)
    assert wrapper._session is None, "no session before first use"
    blob = pickle.dumps(wrapper)
    wrapper.numpy_call(np.zeros((1, *CONFIG.shape), np.float32))
    assert wrapper._session is not None
    assert len(pickle.dumps(wrapper)) == pytest.approx(len(blob), abs=64), "session not pickled"
    clone = pickle.loads(pickle.dumps(wrapper))
    assert clone._session is None


def test_outputs_match_torch_on_rendered_events(tiny_model):
    import torch

    model, path = tiny_model
    wrapper = OnnxWrapper(path, preprocess=ImageInput(CONFIG), batch_size=7)
    objects = random_objects(50, seed=4)
    scores = np.asarray(wrapper(objects))  # awkward in: render, then infer in batches of 7
    with torch.no_grad():
        expected = model(torch.from_numpy(ImageInput(CONFIG)(objects))).numpy()
    assert scores.shape == (50, 3)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    # predict renders batch by batch (7, 7, ..., 1 events): the same numbers
    np.testing.assert_array_equal(wrapper.predict(objects), scores)
    assert wrapper.predict(objects[:0]).shape == (0, 3)


def test_provider_fallback_is_one_quiet_log_line(tiny_model, caplog, capfd):
    import onnxruntime as ort

    from eventlens.inference import ort as ort_module

    _, path = tiny_model
    ort_module._SESSIONS.clear()  # a fresh process: the session is created here
    with caplog.at_level(logging.INFO, logger="eventlens.inference.ort"):
        wrapper = OnnxWrapper(path, providers="auto")
        used = wrapper.session.get_providers()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    if "CUDAExecutionProvider" in used:  # a machine with a usable GPU
        assert "CUDAExecutionProvider" in messages[0]
    else:
        assert used == ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in ort.get_available_providers():
            assert "running tiny.onnx on the CPU" in messages[0]
    assert "Failed to load" not in capfd.readouterr().err, "onnxruntime's CUDA noise leaked"


def test_bad_inputs_are_clear_errors(tiny_model, tmp_path):
    _, path = tiny_model
    wrapper = OnnxWrapper(path)
    with pytest.raises(ValueError, match=r"input of shape \(2, 6, 8, 8\), the model expects"):
        wrapper(np.zeros((2, 6, 8, 8), np.float32))
    with pytest.raises(ValueError, match="dtype float64"):
        wrapper(np.zeros((2, *CONFIG.shape)))
    with pytest.raises(OSError, match="no such ONNX model"):
        OnnxWrapper(tmp_path / "missing.onnx").session  # noqa: B018
    assert wrapper(np.zeros((0, *CONFIG.shape), np.float32)).shape == (0, 3)


def test_one_session_per_process(tiny_model):
    """coffea unpickles the processor per chunk: the session must not be rebuilt each time."""
    _, path = tiny_model
    first = OnnxWrapper(path, threads=1)
    again = pickle.loads(pickle.dumps(first))
    assert again._session is None
    assert again.session is first.session
