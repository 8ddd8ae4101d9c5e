"""Model cards: the JSON file beside every exported ONNX model, and the checks that use it.

A model is only valid for images drawn exactly as in training.  The card
(``NAME.json`` beside ``NAME.onnx``) records the render config and its digest,
the input and output spec, the classes, the selection and training data and
the test metrics; :func:`check_render_config` refuses a renderer config that
differs, naming every field that does.

This module imports neither torch nor onnxruntime nor ROOT: the in-loop
inference (coffea workers) loads cards with it cheaply.

Card keys (format ``eventlens-model-card/1``)::

    format, name, created, eventlens_version, task, classes,
    model        {name, params, input_kind, input_shape, n_parameters},
    input        {name, kind, shape, dtype (float32), layout?, channels?,
                  render_dtype?, features?, feature_names?, normalisation},
    output       {names, shape, meaning},
    render_config, render_config_digest        (null for table models),
    table_spec                                  (null for image models),
    selection    {config, hash}                 (from the table's manifest),
    training_data {table, task, datasets, events, split, split_method,
                   split_digests, limits, n_events_table, seed, ...},
    training     {config, best_epoch, epochs_trained, notes},
    metrics      {test: {...}, test_split_digest, ...} or null,
    onnx         {file, opset, exporter, sha256, bytes, max_abs_diff, tolerance},
    versions     {eventlens, torch, onnx, onnxruntime}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EventLensError, InputFileError
from .render.config import RenderConfig

if TYPE_CHECKING:
    from .models.features import TableSpec

CARD_FORMAT = "eventlens-model-card/1"

#: Keys every card has (values may be null where the docstring says so).
CARD_KEYS = (
    "format",
    "name",
    "created",
    "eventlens_version",
    "task",
    "classes",
    "model",
    "input",
    "output",
    "render_config",
    "render_config_digest",
    "table_spec",
    "selection",
    "training_data",
    "training",
    "metrics",
    "onnx",
    "versions",
)


class ModelCardError(EventLensError):
    """A model card is missing, malformed, or does not fit how it is used."""


class RenderConfigMismatch(ModelCardError):  # noqa: N818 - the name says what it is
    """The renderer config in use is not the one the model was trained with."""

    def __init__(self, message: str, differences: dict[str, tuple[Any, Any]]) -> None:
        super().__init__(message)
        self.differences = differences


def card_path(path: str | os.PathLike[str]) -> Path:
    """The card of a model: ``NAME.json`` for ``NAME.onnx`` (a .json path is returned as is)."""
    p = Path(path)
    return p if p.suffix == ".json" else p.with_suffix(".json")


def load_model_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a model card (pass the .json or the .onnx path).

    Raises :class:`ModelCardError` for a missing file, missing keys, an unknown
    format, or a render config whose digest does not match the recorded one.
    """
    p = card_path(path)
    if not p.exists():
        raise InputFileError(f"model card {p} does not exist (export writes it beside the .onnx)")
    try:
        card = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ModelCardError(f"model card {p} is not valid JSON: {exc}") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        found = card.get("format") if isinstance(card, dict) else None
        raise ModelCardError(
            f"{p} is not an eventlens model card (format {found!r}, expected {CARD_FORMAT!r})"
        )
    missing = [k for k in CARD_KEYS if k not in card]
    if missing:
        raise ModelCardError(f"model card {p} lacks key(s) {missing}")
    if card["input"].get("kind") == "image":
        config = card_render_config(card)
        if config.digest() != card["render_config_digest"]:
            raise ModelCardError(
                f"model card {p}: render_config digest {config.digest()} does not match the "
                f"recorded render_config_digest {card['render_config_digest']} (edited card?)"
            )
    card["_path"] = str(p)
    return card


def card_render_config(card: Mapping[str, Any]) -> RenderConfig:
    """The render config a card's model was trained with (ModelCardError for table models)."""
    data = card.get("render_config")
    if data is None:
        raise ModelCardError(
            f"model {card.get('name')!r} takes the object table, not images: "
            "it has no render config"
        )
    try:
        return RenderConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ModelCardError(
            f"model card {card.get('name')!r}: invalid render_config: {exc}"
        ) from None


def check_render_config(card: Mapping[str, Any], config: RenderConfig | Mapping[str, Any]) -> None:
    """Raise :class:`RenderConfigMismatch` unless ``config`` draws images exactly as in training.

    The message lists every differing field as ``field: model X, in use Y``.
    Table-input models do not read images; for them this is a no-op.
    """
    if card.get("input", {}).get("kind") != "image":
        return
    trained = card_render_config(card)
    in_use = config if isinstance(config, RenderConfig) else RenderConfig.from_dict(config)
    diffs = trained.differences(in_use)
    if diffs:
        listed = "; ".join(f"{k}: model {a!r}, in use {b!r}" for k, (a, b) in sorted(diffs.items()))
        raise RenderConfigMismatch(
            f"model {card.get('name')!r} was trained on images drawn differently from the render "
            f"config in use (digest {trained.digest()} vs {in_use.digest()}): {listed}",
            diffs,
        )


def check_classes(card: Mapping[str, Any], classes: list[str]) -> None:
    """Raise :class:`ModelCardError` unless the model predicts exactly ``classes``, in order."""
    if list(card.get("classes", [])) != list(classes):
        raise ModelCardError(
            f"model {card.get('name')!r} predicts classes {card.get('classes')}, expected {classes}"
        )


def card_table_spec(card: Mapping[str, Any]) -> TableSpec:
    """The table spec of a model card, with its slots in the order of the input vector.

    Cards written before ``TableSpec.to_dict`` kept the order stored
    ``table_spec.slots`` as a JSON object, which sorted keys made alphabetical;
    the ordered ``input.feature_names`` list is the authority either way.  Feeding features in
    the wrong slot order would explain a different input than the model reads.
    """
    from .models.features import TableSpec  # numpy only: no torch here

    if card.get("table_spec") is None:
        raise ModelCardError(f"model {card.get('name')!r} takes images: it has no table_spec")
    spec = TableSpec.from_dict(card["table_spec"])
    names = (card.get("input") or {}).get("feature_names")
    if not names:
        return spec
    slots = dict(spec.slots)
    order: list[str] = []
    for name in names:
        kind = name.split("_", 1)[0].rstrip("0123456789")
        if kind not in order:
            order.append(kind)
    try:
        ordered = TableSpec(slots=tuple((k, slots[k]) for k in order), features=spec.features)
    except KeyError as exc:
        raise ModelCardError(
            f"model card {card.get('name')!r}: feature_names name slot type "
            f"{exc} absent from its table_spec"
        ) from None
    if ordered.feature_names() != list(names):
        raise ModelCardError(
            f"model card {card.get('name')!r}: table_spec and "
            "input.feature_names disagree; cannot tell the input order"
        )
    return ordered
