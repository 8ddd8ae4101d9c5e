"""Export a trained checkpoint to ONNX, verify it against torch, and write its model card.

``eventlens export runs/dtw_compact_cnn/best.pt -o onnx_models/dtw_compact_cnn.onnx``

* torch's ONNX exporter (``dynamo=True``, the maintained path) at the pinned
  opset :data:`EXPORT_OPSET`, one self-contained file (``external_data=False``),
  a dynamic batch axis;
* the graph takes what :mod:`eventlens.modelio` makes for training and
  inference alike: float32 images from the renderer (a uint8 render config's
  pictures divided by 255), or the raw padded object table (standardised
  inside the graph); it returns ``logits`` (first output) and
  ``probabilities`` (softmax);
* onnxruntime (CPU provider, chosen explicitly) must reproduce torch's logits
  within 1e-4 absolute (+ a relative term for InceptionV3, whose fp32 torch
  output is itself ~1e-4 from fp64; see :func:`verify` for immature
  networks), on the run's own test events drawn by the C++ renderer (random
  events if the table is gone) and at two batch sizes (the dynamic axis is
  exercised);
  otherwise :class:`ExportError` and no files are written;
* ``NAME.json`` beside the model: a :class:`eventlens.modelcard.ModelCard`.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import __version__
from .errors import EventLensError
from .io import atomic_path
from .modelcard import (
    CARD_FORMAT,
    ModelCard,
    ModelSpec,
    OnnxInfo,
    OutputSpec,
    TrainingInfo,
    card_path,
    conditions_of,
)
from .modelio import checkpoint_input
from .models import build_model, model_info
from .render.batch import FlatObjects

log = logging.getLogger(__name__)

#: The ONNX opset every eventlens model is exported with (torch 2.14's exporter's own).
EXPORT_OPSET = 20
#: Absolute tolerance on logits between onnxruntime and torch.
ATOL = 1e-4
OUTPUT_NAMES = ("logits", "probabilities")


class ExportError(EventLensError):
    """The exported model does not reproduce the torch model."""


class _Deployable(nn.Module):
    """The trained network + softmax: what the ONNX graph computes."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        return logits, torch.softmax(logits, dim=1)


def random_objects(n_events: int, seed: int) -> FlatObjects:
    """Plausible events (0–10 objects of every type, pT 5–500 GeV) for checking exports."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 11, n_events)
    counts[0] = max(int(counts[0]), 1)
    n = int(counts.sum())
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    columns = {
        "type": rng.integers(0, 5, n).astype(np.int32),
        "pt": np.exp(rng.uniform(np.log(5.0), np.log(500.0), n)).astype(np.float32),
        "eta": rng.uniform(-2.5, 2.5, n).astype(np.float32),
        "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
        "mass": rng.uniform(0.0, 20.0, n).astype(np.float32),
        "charge": rng.choice([-1, 0, 1], n).astype(np.int32),
        "btag": rng.uniform(0.0, 1.0, n).astype(np.float32),
    }
    return FlatObjects(offsets=offsets, columns=columns)


def example_inputs(ckpt: dict[str, Any], n_events: int, seed: int = 12345) -> np.ndarray:
    """Float32 model inputs of ``n_events`` random events, exactly as training feeds them."""
    return checkpoint_input(ckpt).from_flat(random_objects(n_events, seed))


def check_inputs(
    ckpt: dict[str, Any], n_events: int, table: str | Path | None = None
) -> tuple[np.ndarray, str]:
    """Inputs for the onnxruntime-vs-torch check, and where they come from.

    The run's own test-split events (from ``table`` or the table recorded in the
    checkpoint) when that table is readable — the inputs the model is meant for;
    otherwise :func:`example_inputs` (random events, with a warning: far outside
    the training distribution a model's logits can reach 10³–10⁴, where float32
    rounding alone exceeds the 1e-4 tolerance).
    """
    from .training.config import TrainConfig
    from .training.split import split_table
    from .training.table import read_table

    path = Path(table or ckpt["data"]["table"])
    if (path / "manifest.json").exists():
        config = TrainConfig.from_dict(ckpt["config"])
        data = read_table(path)
        split = split_table(data, config.split, config.limits)
        idx = (split.test if len(split.test) else split.train)[:n_events]
        if len(idx):
            x = checkpoint_input(ckpt).from_flat(data.gather(idx))
            return x, f"{len(idx)} test-split events of {path}"
    log.warning("export: table %s not readable; checking the export on random events", path)
    return example_inputs(ckpt, n_events), f"{n_events} random events"


def rebuild_model(ckpt: dict[str, Any]) -> nn.Module:
    """The checkpoint's network with its weights, in eval mode."""
    m = ckpt["model"]
    model = build_model(
        m["name"],
        input_shape=tuple(m["input_shape"]),
        n_classes=len(ckpt["classes"]),
        params=m["params"],
    )
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def _onnx_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _export(module: nn.Module, x: torch.Tensor, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=65536)
    # The exporter's graph passes log every rewrite at INFO: not for our users.
    for name in ("onnx_ir", "onnxscript", "torch.onnx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (x,),
            str(path),
            input_names=["input"],
            output_names=list(OUTPUT_NAMES),
            opset_version=EXPORT_OPSET,
            dynamo=True,
            external_data=False,
            dynamic_shapes={"x": {0: batch}},
            verbose=False,
        )


def verify(session: Any, module: nn.Module, inputs: np.ndarray, rtol: float) -> dict[str, Any]:
    """Compare onnxruntime with torch on ``inputs`` at two batch sizes; ExportError if off.

    The tolerance is 1e-4 (+ ``rtol`` × max |logit| for InceptionV3), widened
    only when torch's own float32 result is further than that from the exact
    (float64) one: onnxruntime must then be within twice torch's own rounding
    error.  That happens for immature networks whose eval-mode logits reach
    10³–10⁴ (a few training steps, stale BatchNorm statistics); a trained
    model's logits are O(10) and the 1e-4 bound applies as it is.
    """
    module64 = copy.deepcopy(module).double()
    worst = fp32_error = scale = 0.0
    for batch in (inputs[:1], inputs):
        x = torch.from_numpy(batch.copy())
        with torch.no_grad():
            ref_logits, ref_probs = (t.numpy() for t in module(x))
            exact = module64(x.double())[0].numpy()
        got_logits, got_probs = session.run(list(OUTPUT_NAMES), {"input": batch})
        if got_logits.shape != ref_logits.shape:
            raise ExportError(
                f"onnxruntime gives logits of shape {got_logits.shape}, torch "
                f"{ref_logits.shape} (batch {len(batch)})"
            )
        worst = max(
            worst,
            float(np.max(np.abs(got_logits - ref_logits))),
            float(np.max(np.abs(got_probs - ref_probs))),
        )
        fp32_error = max(fp32_error, float(np.max(np.abs(ref_logits - exact))))
        scale = max(scale, float(np.max(np.abs(ref_logits))))
    tolerance = max(ATOL + rtol * scale, 2.0 * fp32_error)
    if not worst <= tolerance:
        raise ExportError(
            f"onnxruntime output differs from torch by {worst:.3g} (tolerance {tolerance:.3g}; "
            f"torch float32 vs float64 {fp32_error:.3g}): the export is not faithful"
        )
    return {
        "max_abs_diff": worst,
        "tolerance": tolerance,
        "torch_fp32_vs_fp64": fp32_error,
        "max_abs_logit": scale,
        "check_events": len(inputs),
        "check_batch_sizes": [1, len(inputs)],
    }


def _metrics_summary(metrics_path: Path) -> dict[str, Any] | None:
    import json

    if not metrics_path.exists():
        log.warning("no %s: the model card will have metrics = null", metrics_path)
        return None
    m = json.loads(metrics_path.read_text())
    test = m.get("test", {})
    return {
        "split": "test",
        "test_split_digest": m.get("test_split_digest"),
        "n_events": test.get("n_events"),
        "accuracy": test.get("accuracy"),
        "balanced_accuracy": test.get("balanced_accuracy"),
        "macro_f1": test.get("macro_f1"),
        "macro_auc": test.get("macro_auc"),
        "loss": test.get("loss"),
        "per_class": test.get("per_class"),
        "confusion": test.get("confusion"),
        "signal_vs_background": test.get("signal_vs_background"),
        **{k: test[k] for k in ("by_channel", "dilepton_share") if test.get(k) is not None},
        "source": str(metrics_path),
    }


def export_checkpoint(
    checkpoint: str | Path,
    output: str | Path,
    metrics: str | Path | None = None,
    threads: int = 2,
    check_events: int = 16,
    overwrite: bool = True,
    table: str | Path | None = None,
) -> ModelCard:
    """Export ``checkpoint`` to ``output`` (.onnx), verify it, write the card; return the card.

    ``table`` overrides the object table the check events are read from
    (default: the run's table, see :func:`check_inputs`).
    """
    from .training.checkpoint import load_checkpoint

    output = Path(output)
    if output.suffix != ".onnx":
        raise EventLensError(f"export: output {output} must end in .onnx")
    if not overwrite:  # before any work: the model and its card are replaced together
        for path in (output, card_path(output)):
            if path.exists():
                raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    torch.set_num_threads(threads)
    ckpt = load_checkpoint(checkpoint)
    info = model_info(ckpt["model"]["name"])
    net = rebuild_model(ckpt)
    module = _Deployable(net).eval()
    inputs, source = check_inputs(ckpt, check_events, table)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output, overwrite=overwrite) as tmp:
        onnx_tmp = tmp.with_suffix(".onnx")
        try:
            _export(module, torch.from_numpy(inputs[:2].copy()), onnx_tmp)
            session = _onnx_session(onnx_tmp, threads)
            check = verify(session, module, inputs, info.export_rtol)
            check["check_inputs"] = source
            onnx_tmp.replace(tmp)
        finally:
            onnx_tmp.unlink(missing_ok=True)
        blob = tmp.read_bytes()
    log.info(
        "exported %s -> %s (%.1f MB, opset %d); onnxruntime vs torch max |diff| %.2g",
        ckpt["path"],
        output,
        len(blob) / 1e6,
        EXPORT_OPSET,
        check["max_abs_diff"],
    )
    metrics_path = Path(metrics) if metrics else Path(ckpt["path"]).parent / "metrics.json"
    card = build_card(ckpt, output, blob, check, _metrics_summary(metrics_path))
    card.write(output)
    return card


def build_card(
    ckpt: dict[str, Any],
    output: Path,
    blob: bytes,
    check: dict[str, Any],
    metrics: dict[str, Any] | None,
) -> ModelCard:
    """The model card of ``ckpt`` exported to ``output`` (whose bytes are ``blob``)."""
    import onnx
    import onnxruntime

    from .training.evaluate import run_history

    inputs = checkpoint_input(ckpt)
    rc = inputs.render_config
    data = ckpt["data"]
    history = run_history(Path(ckpt["path"]).parent, ckpt)
    m = ckpt["model"]
    return ModelCard(
        format=CARD_FORMAT,
        name=output.stem,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        eventlens_version=__version__,
        task=ckpt["config"]["task"],
        classes=tuple(ckpt["classes"]),
        model=ModelSpec(
            name=m["name"],
            params=dict(m["params"]),
            input_kind=inputs.kind,
            input_shape=tuple(m["input_shape"]),
            n_parameters=int(m["n_parameters"]),
        ),
        input=inputs.card_input(),
        output=OutputSpec(
            names=OUTPUT_NAMES,
            shape=("batch", len(ckpt["classes"])),
            meaning="logits and softmax probabilities, in the order of 'classes'",
        ),
        render_config=rc,
        render_config_digest=rc.digest() if rc else None,
        table_spec=inputs.table_spec,
        selection=data.get("selection"),
        training_data={k: v for k, v in data.items() if k != "selection"},
        conditions=conditions_of(data, data.get("selection")),
        training=TrainingInfo(
            config=ckpt["config"],
            best_epoch=int(ckpt["epoch"]),
            epochs_trained=len(history),
            notes=ckpt["config"].get("notes", ""),
            checkpoint=str(ckpt["path"]),
        ),
        metrics=metrics,
        onnx=OnnxInfo(
            file=output.name,
            opset=EXPORT_OPSET,
            exporter="torch.onnx.export(dynamo=True)",
            external_data=False,
            dynamic_axes={"input": [0], "logits": [0], "probabilities": [0]},
            sha256=hashlib.sha256(blob).hexdigest(),
            bytes=len(blob),
            max_abs_diff=float(check["max_abs_diff"]),
            tolerance=float(check["tolerance"]),
            torch_fp32_vs_fp64=float(check["torch_fp32_vs_fp64"]),
            max_abs_logit=float(check["max_abs_logit"]),
            check_events=int(check["check_events"]),
            check_batch_sizes=tuple(check["check_batch_sizes"]),
            check_inputs=check.get("check_inputs"),
        ),
        versions={
            "eventlens": __version__,
            "torch": str(torch.__version__),
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
    )
