"""ONNX Runtime inside coffea: a ``coffea.ml_tools``-style wrapper.

coffea ships wrappers for TorchScript, Triton, XGBoost and TensorFlow but none
for ONNX; :class:`OnnxWrapper` is ours, built the same way:

* ``nonserializable_attribute`` — the ``onnxruntime.InferenceSession`` is
  created lazily, once per worker process, on first use, and is never pickled
  (the wrapper travels to Futures/Dask/HTCondor workers as a path + settings).
  The class is vendored (:mod:`._lazy`): importing it from ``coffea.ml_tools``
  imports torch into every worker;
* ``numpy_call_wrapper``'s calling convention — the wrapper takes a numpy input
  (run as is), awkward object lists (preprocessed, e.g. drawn as images, then
  run, batch by batch) or dask-awkward object lists (the same, inside the graph,
  partition by partition: :mod:`.partitions`).  Unlike coffea's
  ``prepare_awkward``, the preprocessing is numpy work (the C++ renderer), so it
  happens in the numpy stage, never on the dask collection.

Execution providers: CUDA when a GPU and its libraries are usable, otherwise
the CPU, with one log line saying which.  onnxruntime-gpu on a machine without
CUDA prints a red "Failed to load libonnxruntime_providers_cuda.so" error while
it falls back; that is expected here, so it is silenced during session
creation and replaced by our one line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ..errors import InputFileError
from ._lazy import nonserializable_attribute
from .partitions import is_dask_array, map_partitions

log = logging.getLogger(__name__)

#: Sessions of this process, by (model path, providers, threads).
_SESSIONS: dict[tuple[str, str, int | None], Any] = {}

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
_SEVERITY_ERROR, _SEVERITY_FATAL = 3, 4


def make_session(
    path: str | os.PathLike[str],
    providers: Sequence[str] | str = "auto",
    threads: int | None = None,
) -> Any:
    """An ``onnxruntime.InferenceSession`` on the best usable provider.

    Args:
        path: the ``.onnx`` file.
        providers: ``"auto"`` (CUDA, then CPU), ``"cpu"``, ``"cuda"`` (CUDA
            required: an error if it is not usable), or an explicit list.
        threads: intra-op threads (``None``: onnxruntime's default, all cores;
            pass 1 per worker when running several worker processes).
    """
    try:
        import onnxruntime as ort
    except ModuleNotFoundError as exc:
        from ..extras import missing_dependency

        raise missing_dependency(exc) or exc from None

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such ONNX model (export one with `eventlens export`)")
    if providers == "auto":
        wanted = [p for p in (CUDA, CPU) if p in ort.get_available_providers()]
    elif providers == "cpu":
        wanted = [CPU]
    elif providers == "cuda":
        wanted = [CUDA]
    else:
        wanted = list(providers)
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    # Quiet while CUDA is probed (see module docstring), errors-only afterwards.
    ort.set_default_logger_severity(_SEVERITY_FATAL)
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=wanted)
    except Exception as exc:
        raise InputFileError(f"{path}: onnxruntime cannot load this model ({exc})") from exc
    finally:
        ort.set_default_logger_severity(_SEVERITY_ERROR)
    used = session.get_providers()
    if providers == "cuda" and CUDA not in used:
        raise RuntimeError(f"{path}: CUDA was required but is not usable here (providers: {used})")
    if CUDA in wanted and CUDA not in used:
        log.info(
            "onnxruntime %s: no usable GPU/CUDA libraries, running %s on the CPU",
            ort.__version__,
            path.name,
        )
    else:
        log.info("onnxruntime %s: running %s on %s", ort.__version__, path.name, used[0])
    return session


class OnnxWrapper(nonserializable_attribute):
    """Batched ONNX inference for coffea processors.

    ``wrapper(x)``: ``x`` a float32 numpy input → the model's output for it;
    awkward object lists (:mod:`eventlens.objects`) → :meth:`predict`;
    dask-awkward object lists → a lazy (N, K) dask-awkward array computed
    partition by partition on the workers.

    Args:
        model_path: the ``.onnx`` file (one float input, batch axis first; the
            outputs have shape (N, K)).
        preprocess: picklable callable turning the awkward inputs into the
            model's numpy input (e.g. :class:`eventlens.modelio.ImageInput`);
            needed only when the wrapper is called with awkward arrays.
        batch_size: events per ``session.run`` (bounds memory).
        providers, threads: see :func:`make_session`.
        output: which graph output to return, by name (eventlens exports
            ``logits`` and ``probabilities``) or position (default: the first).
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        preprocess: Callable[..., np.ndarray] | None = None,
        batch_size: int = 1024,
        providers: Sequence[str] | str = "auto",
        threads: int | None = None,
        output: str | int = 0,
    ) -> None:
        nonserializable_attribute.__init__(self, ["session"])
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size}, must be ≥ 1")
        self.model_path = str(model_path)
        self.preprocess = preprocess
        self.batch_size = batch_size
        self.providers = providers
        self.threads = threads
        self.output = output

    def _create_session(self) -> Any:
        # coffea unpickles the processor (and so this wrapper) for every chunk;
        # the process-wide cache makes that one session per worker process.
        key = (self.model_path, str(self.providers), self.threads)
        if key not in _SESSIONS:
            _SESSIONS[key] = make_session(self.model_path, self.providers, self.threads)
        return _SESSIONS[key]

    @property
    def input_name(self) -> str:
        return self.session.get_inputs()[0].name

    @property
    def output_name(self) -> str:
        """The graph output the wrapper returns (see ``output``)."""
        names = [o.name for o in self.session.get_outputs()]
        if isinstance(self.output, int):
            if not -len(names) <= self.output < len(names):
                raise ValueError(
                    f"{Path(self.model_path).name}: no output #{self.output} (outputs {names})"
                )
            return names[self.output]
        if self.output not in names:
            raise ValueError(
                f"{Path(self.model_path).name}: no output {self.output!r} (outputs {names})"
            )
        return self.output

    @property
    def output_width(self) -> int:
        """K, the width of the returned output (0 when the graph leaves it symbolic)."""
        out = {o.name: o for o in self.session.get_outputs()}[self.output_name]
        width = out.shape[-1] if out.shape else None
        return width if isinstance(width, int) else 0

    @property
    def input_shape(self) -> list[int | str | None]:
        """The model's input shape; the batch axis is symbolic."""
        return list(self.session.get_inputs()[0].shape)

    def validate_numpy_input(self, x: np.ndarray) -> None:
        """Shape and dtype must match the model's input (batch axis free)."""
        expected = self.input_shape
        if x.ndim != len(expected) or any(
            isinstance(e, int) and e != s for e, s in zip(expected[1:], x.shape[1:], strict=True)
        ):
            raise ValueError(
                f"{Path(self.model_path).name}: input of shape {x.shape}, the model expects "
                f"{tuple(expected)} (first axis = batch)"
            )
        if x.dtype != np.float32:
            raise ValueError(
                f"{Path(self.model_path).name}: input dtype {x.dtype}, expected float32"
            )

    def numpy_call(self, x: np.ndarray) -> np.ndarray:
        """Run the model in batches of ``batch_size``; returns (N, K) float32."""
        if len(x) == 0:
            return np.zeros((0, self.output_width), np.float32)
        name, wanted = self.input_name, [self.output_name]
        outputs = [
            self.session.run(wanted, {name: x[i : i + self.batch_size]})[0]
            for i in range(0, len(x), self.batch_size)
        ]
        return np.concatenate(outputs)

    def predict(self, objects: Any) -> np.ndarray:
        """Preprocess and run ``objects`` one batch at a time; returns (N, K) float32.

        Calling the wrapper on a whole chunk would render every image of the
        chunk before the first inference (a 50k-event chunk of 5×64×64 float32
        images is 4 GB); batch by batch the images of only ``batch_size``
        events exist at once, and they stay in the CPU cache.
        """
        if self.preprocess is None:
            raise TypeError("OnnxWrapper.predict needs a preprocess step")
        outputs = []
        for i in range(0, max(len(objects), 1), self.batch_size):
            x = self.preprocess(objects[i : i + self.batch_size])
            self.validate_numpy_input(x)
            outputs.append(self.numpy_call(x))
        return np.concatenate(outputs)

    def __call__(self, x: Any) -> Any:
        """Run the model on a numpy input, awkward or dask-awkward object lists."""
        if isinstance(x, np.ndarray):
            self.validate_numpy_input(x)
            return self.numpy_call(x)
        if self.preprocess is None:
            raise TypeError(
                f"OnnxWrapper({Path(self.model_path).name}) got {type(x).__name__}, not a numpy "
                "input, and has no preprocess step to make one"
            )
        if is_dask_array(x):
            like = np.zeros((0, self.output_width), np.float32)
            return map_partitions(
                self._predict_awkward, x, ak.Array(like), f"onnx-{Path(self.model_path).stem}"
            )
        return self.predict(x)

    def _predict_awkward(self, objects: ak.Array) -> ak.Array:
        return ak.Array(self.predict(objects))
