"""The model registry: every network eventlens trains, chosen by name in a config.

>>> from eventlens.models import build_model, model_info
>>> model = build_model("compact_cnn", input_shape=(6, 64, 64), n_classes=3)

Each model declares its input kind, so the data pipeline feeds it right:

* ``image``: (N, C, H, W) float32 images from :mod:`eventlens.render`
  (uint8 renders divided by 255);
* ``table``: (N, F) float32 padded object tables from
  :func:`eventlens.models.features.featurise` (standardised inside the model).

Both are made by :mod:`eventlens.modelio`, the same way in training, export,
explanations and inference.

This module imports no torch: the registry's metadata (names, input kinds,
default table specs) is usable by torch-free code such as the model card.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from .features import FFN_DEFAULT_SPEC, HGG_DEFAULT_SPEC, TableSpec

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

InputKind = Literal["image", "table"]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model before building it."""

    name: str
    input_kind: InputKind
    module: str
    builder: str
    description: str
    default_table_spec: TableSpec | None = None
    #: ONNX-vs-torch comparison: relative tolerance on top of the absolute 1e-4
    #: (InceptionV3's fp32 torch output is itself ~1e-4 away from fp64).
    export_rtol: float = 0.0


_REGISTRY: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            "compact_cnn",
            "image",
            "compact",
            "build_compact_cnn",
            "our CNN for sparse multi-channel event images (default, < 5 MB)",
        ),
        ModelInfo(
            "resnet50",
            "image",
            "vision",
            "build_resnet50",
            "torchvision ResNet50 from scratch (seed 000/002)",
        ),
        ModelInfo(
            "densenet121",
            "image",
            "vision",
            "build_densenet121",
            "torchvision DenseNet121 from scratch (seed 000)",
        ),
        ModelInfo(
            "inception_v3",
            "image",
            "vision",
            "build_inception_v3",
            "torchvision InceptionV3 from scratch, aux logits off (seed 000)",
            export_rtol=1e-4,
        ),
        ModelInfo(
            "mobilenet_v2",
            "image",
            "vision",
            "build_mobilenet_v2",
            "torchvision MobileNetV2 from scratch (seed 000)",
        ),
        ModelInfo(
            "ffn",
            "table",
            "dense",
            "build_ffn",
            "seed 002 §6 feed-forward baseline, 5×500, dropout 0.5",
            default_table_spec=FFN_DEFAULT_SPEC,
        ),
        ModelInfo(
            "hgg_fcn",
            "table",
            "dense",
            "build_hgg_fcn",
            "seed 001 classifier on the two photons' four-vectors, 24-16-8",
            default_table_spec=HGG_DEFAULT_SPEC,
        ),
    )
}

#: Registered model names.
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``; ValueError listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}"
        ) from None


def build_model(
    name: str,
    *,
    input_shape: tuple[int, ...],
    n_classes: int,
    params: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Build a freshly initialised model (seed torch first for reproducible weights).

    Args:
        name: a registered name (:data:`MODEL_NAMES`).
        input_shape: (C, H, W) for image models, (F,) for table models.
        n_classes: number of output logits.
        params: model-specific keyword arguments from the config.
    """
    info = model_info(name)
    want = 3 if info.input_kind == "image" else 1
    if len(input_shape) != want:
        raise ValueError(
            f"model {name!r} takes {info.input_kind} input of {want} dimension(s) per event, "
            f"got input shape {tuple(input_shape)}"
        )
    if n_classes < 2:
        raise ValueError(f"model {name!r}: need at least 2 classes, got {n_classes}")
    builder = getattr(importlib.import_module(f"{__name__}.{info.module}"), info.builder)
    params = dict(params or {})
    accepted = list(inspect.signature(builder).parameters)[2:]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"model {name!r}: unknown parameter(s) {unknown}; accepted: {accepted}")
    return builder(tuple(int(x) for x in input_shape), int(n_classes), **params)


__all__ = ["MODEL_NAMES", "InputKind", "ModelInfo", "TableSpec", "build_model", "model_info"]
