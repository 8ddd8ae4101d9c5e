"""The model being explained, whatever it was saved as: a training checkpoint or an ONNX file.

Explanations need four things from a model: its classes, how its inputs are
made from objects (render config or padded-table spec), its scores on any
batch of inputs, and — for Integrated Gradients — a differentiable torch
module.  A checkpoint (``best.pt`` from ``eventlens train``) gives all four;
an exported ONNX model (with its model card) gives the first three, since
onnxruntime has no gradients.  For ONNX models the explainer therefore either
uses gradient-free object removal (exact object Shapley values or object
occlusion, which run the deployed graph itself), or maps back to the
checkpoint the card records (``training.checkpoint``) and checks that the two
agree on the explained events before trusting the gradients.

The *score* explained is the softmax probability of each class by default:
an attribution of +0.41 then means "moves P(class) up by 0.41 relative to the
empty event", which a physicist can read.  ``score="logit"`` explains the raw
logits instead (unbounded, no saturation, but only differences between
classes are meaningful).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import EventLensError
from ..modelio import ModelInput, checkpoint_input
from ..models.features import TableSpec
from ..render.batch import FlatObjects
from ..render.config import RenderConfig
from .naming import DEFAULT_BTAG_THRESHOLD

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from ..modelcard import ModelCard

log = logging.getLogger(__name__)

Score = Literal["probability", "logit"]
SCORES: tuple[str, ...] = ("probability", "logit")


@dataclasses.dataclass
class ExplainableModel:
    """A classifier plus everything needed to turn objects into its inputs.

    Attributes:
        name: registry model name (checkpoint) or file stem (ONNX).
        source: the file it was loaded from.
        backend: ``torch`` (differentiable) or ``onnx`` (onnxruntime).
        input: how its input is made from objects (:mod:`eventlens.modelio`:
            images of a render config, or the padded table of a spec).
        classes: ordered class names (the model's outputs).
        feature_mean, feature_std: the training split's statistics the table
            model standardises with (σ units of the explanation), if known.
        module: the torch network returning logits (torch backend).
        session: the onnxruntime session (onnx backend).
        score: what is explained, ``probability`` (softmax) or ``logit``.
        info: the checkpoint dict or model card (training split, provenance).
        batch_size: events per forward pass in :meth:`predict`.
    """

    name: str
    source: Path
    backend: Literal["torch", "onnx"]
    input: ModelInput
    classes: list[str]
    feature_mean: np.ndarray | None = None
    feature_std: np.ndarray | None = None
    module: nn.Module | None = None
    session: Any = None
    score: Score = "probability"
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    batch_size: int = 512

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise ValueError(f"explain: score = {self.score!r}, choose one of {SCORES}")

    # ---- what the model sees ----------------------------------------------------
    @property
    def input_kind(self) -> str:
        """``image`` (explained as pixel maps) or ``table`` (explained per slot feature)."""
        return self.input.kind

    @property
    def render(self) -> RenderConfig | None:
        """The render config of an image model (None for table models)."""
        return self.input.render_config

    @property
    def spec(self) -> TableSpec | None:
        """The padded-table spec of a table model (None for image models)."""
        return self.input.table_spec

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def btag_threshold(self) -> float:
        """The b-tag working point that makes a jet a "b-jet" in explanations."""
        return self.render.btag_threshold if self.render is not None else DEFAULT_BTAG_THRESHOLD

    @property
    def differentiable(self) -> bool:
        return self.module is not None

    def inputs(self, flat: FlatObjects) -> np.ndarray:
        """Float32 network inputs, made exactly as in training and inference."""
        return self.input.from_flat(flat)

    def baseline(self, table_baseline: Literal["mean", "empty"] = "mean") -> np.ndarray:
        """The reference input of attribution methods, one event's shape (float32).

        The input of the empty event (images: every pixel the config's
        background, 0 or 1 for the seed's white RGB canvas; tables: every slot
        zero), or for table models by default the training mean (the "average
        event", standardised to 0 inside the model).
        """
        if self.spec is None or table_baseline == "empty":
            return self.input.empty()
        if table_baseline != "mean":
            raise ValueError(f"explain: table baseline {table_baseline!r}, choose mean or empty")
        if self.feature_mean is None:
            raise EventLensError(
                f"{self.source}: the training mean of the features is unknown; "
                "use the empty-event baseline"
            )
        return np.asarray(self.feature_mean, dtype=np.float32).copy()

    # ---- scores -------------------------------------------------------------------
    def scores_torch(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable scores (N, K) of float inputs (torch backend only)."""
        import torch

        if self.module is None:
            raise EventLensError(f"{self.source}: no torch module (ONNX models have no gradients)")
        logits = self.module(x)
        return torch.softmax(logits, dim=1) if self.score == "probability" else logits

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores (N, K) float64 of float32 inputs (see :meth:`inputs`), in batches."""
        n = len(x)
        out = np.zeros((n, self.n_classes), dtype=np.float64)
        for start in range(0, n, self.batch_size):
            stop = start + self.batch_size
            out[start:stop] = self._predict_batch(x[start:stop])
        return out

    def _predict_batch(self, x: np.ndarray) -> np.ndarray:
        if self.module is not None:
            import torch

            with torch.no_grad():
                return self.scores_torch(torch.from_numpy(np.ascontiguousarray(x))).double().numpy()
        logits, probs = self.session.run(["logits", "probabilities"], {self._onnx_input: x})
        return np.asarray(probs if self.score == "probability" else logits, dtype=np.float64)

    @property
    def _onnx_input(self) -> str:
        return self.session.get_inputs()[0].name


# ---- loading -------------------------------------------------------------------------
def load_explainable(
    path: str | Path,
    score: Score = "probability",
    threads: int = 2,
    checkpoint: str | Path | None = None,
    gradients: bool = False,
) -> ExplainableModel:
    """Load a checkpoint (``.pt`` or a run folder) or an ONNX model (``.onnx`` + card).

    Args:
        path: the model.
        score: ``probability`` or ``logit``.
        threads: torch / onnxruntime intra-op threads.
        checkpoint: for ONNX models, the checkpoint to take gradients from
            (default: the one the model card records).
        gradients: for ONNX models, load that checkpoint as a torch module
            (for Integrated Gradients); see :func:`check_agreement`.
    """
    path = Path(path)
    if path.suffix == ".onnx":
        model = load_onnx(path, score, threads)
        if gradients:
            model = attach_checkpoint(model, checkpoint, threads)
        return model
    return load_torch(path, score, threads)


def load_torch(
    path: str | Path, score: Score = "probability", threads: int = 2
) -> ExplainableModel:
    """A training checkpoint as an explainable (differentiable) model."""
    import torch

    from ..export import rebuild_model
    from ..training.checkpoint import load_checkpoint

    torch.set_num_threads(threads)
    ckpt = load_checkpoint(path)
    module = rebuild_model(ckpt)
    mean = std = None
    standardise = getattr(module, "standardise", None)
    if standardise is not None:
        mean = standardise.mean.detach().double().numpy().copy()
        std = standardise.std.detach().double().numpy().copy()
    return ExplainableModel(
        name=str(ckpt["model"]["name"]),
        source=Path(ckpt["path"]),
        backend="torch",
        input=checkpoint_input(ckpt),
        classes=[str(c) for c in ckpt["classes"]],
        feature_mean=mean,
        feature_std=std,
        module=module,
        score=score,
        info={
            "kind": "checkpoint",
            "config": ckpt["config"],
            "data": ckpt["data"],
            "model": ckpt["model"],
            "epoch": ckpt.get("epoch"),
        },
    )


def load_onnx(path: str | Path, score: Score = "probability", threads: int = 2) -> ExplainableModel:
    """An exported ONNX model and its card, run with onnxruntime on the CPU."""
    from ..inference.ort import make_session
    from ..modelcard import load_model_card

    path = Path(path)
    card = load_model_card(path)
    session = make_session(path, providers="cpu", threads=threads)
    outputs = [o.name for o in session.get_outputs()]
    if "logits" not in outputs or "probabilities" not in outputs:
        raise EventLensError(
            f"{path}: outputs {outputs}; explain needs the exporter's 'logits' and 'probabilities'"
        )
    card.check_graph(
        session.get_inputs()[0].shape, [o.shape for o in session.get_outputs()], path
    )
    inputs = card.model_input()
    mean, std = (None, None) if inputs.table_spec is None else _onnx_standardisation(path, card)
    return ExplainableModel(
        name=card.name or path.stem,
        source=path,
        backend="onnx",
        input=inputs,
        classes=list(card.classes),
        feature_mean=mean,
        feature_std=std,
        session=session,
        score=score,
        info={
            "kind": "onnx",
            "card": card,
            "config": card.training.config,
            "data": card.training_data,
            "model": dataclasses.asdict(card.model),
        },
    )


def _onnx_standardisation(
    path: Path, card: ModelCard
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The training mean/σ of a table model: from its recorded checkpoint, else from the graph.

    The exporter folds the ``Standardise`` buffers into the graph as
    initialisers named ``…standardise.mean`` / ``…standardise.std``.
    """
    ckpt = card.training.checkpoint
    if ckpt and Path(ckpt).exists():
        import torch

        state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
        if "standardise.mean" in state:
            return (
                state["standardise.mean"].double().numpy(),
                state["standardise.std"].double().numpy(),
            )
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    found = {
        init.name: numpy_helper.to_array(init)
        for init in graph.initializer
        if init.name.endswith(("standardise.mean", "standardise.std"))
    }
    mean = next((v for k, v in found.items() if k.endswith("mean")), None)
    std = next((v for k, v in found.items() if k.endswith("std")), None)
    if mean is None or std is None:
        log.warning(
            "%s: training mean/σ not found (no checkpoint, no initialisers): "
            "feature values are shown without σ units",
            path,
        )
        return None, None
    return np.asarray(mean, np.float64), np.asarray(std, np.float64)


def attach_checkpoint(
    model: ExplainableModel, checkpoint: str | Path | None, threads: int = 2
) -> ExplainableModel:
    """Give an ONNX model the torch module of its checkpoint (for gradients)."""
    card = model.info.get("card")
    ckpt = checkpoint or (card.training.checkpoint if card is not None else None)
    if not ckpt or not Path(ckpt).exists():
        raise EventLensError(
            f"{model.source}: Integrated Gradients need the torch checkpoint, and the model card "
            f"records {ckpt!r}, which does not exist here; pass --checkpoint, or use "
            "--method shapley / occlusion (gradient-free, run the ONNX graph itself)"
        )
    torch_model = load_torch(ckpt, model.score, threads)
    if torch_model.classes != model.classes:
        raise EventLensError(
            f"checkpoint {ckpt} predicts {torch_model.classes}, the ONNX model {model.classes}"
        )
    if model.render is not None and torch_model.render is not None:
        diffs = model.render.differences(torch_model.render)
        if diffs:
            raise EventLensError(
                f"checkpoint {ckpt} draws images differently from {model.source}: {diffs}"
            )
    return dataclasses.replace(
        model,
        module=torch_model.module,
        feature_mean=torch_model.feature_mean,
        feature_std=torch_model.feature_std,
    )


def check_agreement(model: ExplainableModel, x: np.ndarray, atol: float = 1e-4) -> float:
    """Max |torch − onnxruntime| score on ``x``; EventLensError above ``atol``.

    Gradients of the checkpoint explain the ONNX model only if both compute
    the same function on the explained events.
    """
    if model.module is None or model.session is None:
        return 0.0
    import torch

    with torch.no_grad():
        ref = model.scores_torch(torch.from_numpy(np.ascontiguousarray(x))).double().numpy()
    onnx_only = dataclasses.replace(model, module=None)
    got = onnx_only.predict(x)
    diff = float(np.max(np.abs(ref - got))) if len(x) else 0.0
    if diff > atol:
        raise EventLensError(
            f"{model.source}: the checkpoint and the ONNX model differ by {diff:.3g} > {atol} on "
            "the explained events; they are not the same model"
        )
    return diff
