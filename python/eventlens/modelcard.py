"""Model cards: the JSON file beside every exported ONNX model, as one typed object.

A model is only valid for inputs made exactly as in training.  The card
(``NAME.json`` beside ``NAME.onnx``) records the render config and its digest
(or the padded-table spec), the input and output spec, the classes, the
selection and training data, the test metrics and the ONNX file's sha256.

:class:`ModelCard` is the card: :mod:`eventlens.export` builds one and
:meth:`ModelCard.write` writes it, :func:`load_model_card` reads it back
through :meth:`ModelCard.from_dict`, the same field list both ways (the
dataclass fields *are* the card's keys, format ``eventlens-model-card/1``).
Reading is strict: an unknown or missing key, a value of the wrong type, a
render config that does not match its digest, or an input block that does not
fit the model is a one-line :class:`ModelCardError` naming the file.  Using
the model is checked too: :meth:`ModelCard.check_render_config` refuses a
renderer config that differs (naming every field), :meth:`~ModelCard.check_onnx_file`
a swapped ``.onnx`` (its sha256 is not the card's), :meth:`~ModelCard.check_graph`
an ONNX graph whose input shape or output width does not fit the card.

This module imports neither torch nor onnxruntime nor ROOT: the in-loop
inference (coffea workers) loads cards with it cheaply.

Keys (``?``: may be absent, written only when set)::

    format, name, created, eventlens_version, task, classes,
    model        {name, params, input_kind, input_shape, n_parameters},
    input        {name, kind, shape, dtype (float32), normalisation, layout?, channels?,
                  render_dtype?, features?, feature_names?},
    output       {names, shape, meaning},
    render_config, render_config_digest        (null for table models),
    table_spec                                  (null for image models),
    selection    {config, hash}                 (from the table's manifest),
    conditions?  {era, processes, tunes, pileup_mu}  (what the training samples were),
    training_data {table, task, datasets, events, split, split_method,
                   split_digests, limits, n_events_table, seed, ...},
    training     {config, best_epoch, epochs_trained, notes, checkpoint?},
    metrics      {test: {...}, test_split_digest, ...} or null,
    onnx         {file, opset, exporter, sha256, bytes, max_abs_diff, tolerance, ...},
    versions     {eventlens, torch, onnx, onnxruntime},
    decorrelation?                              (adversarially trained models)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .errors import EventLensError, InputFileError
from .models.features import TableSpec
from .render.config import RenderConfig

if TYPE_CHECKING:  # pragma: no cover
    from .modelio import ModelInput

CARD_FORMAT = "eventlens-model-card/1"

T = TypeVar("T")


class ModelCardError(EventLensError):
    """A model card is missing, malformed, or does not fit how it is used."""


class RenderConfigMismatch(ModelCardError):  # noqa: N818 - the name says what it is
    """The renderer config in use is not the one the model was trained with."""

    def __init__(self, message: str, differences: dict[str, tuple[Any, Any]]) -> None:
        super().__init__(message)
        self.differences = differences


# ---- the card's blocks ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """``model``: the registry network and how it was built."""

    name: str
    params: dict[str, Any]
    input_kind: Literal["image", "table"]
    input_shape: tuple[int, ...]
    n_parameters: int


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """``input``: what the graph's input takes (:meth:`eventlens.modelio.ModelInput.card_input`)."""

    name: str
    kind: Literal["image", "table"]
    shape: tuple[Any, ...]
    dtype: str
    normalisation: str
    layout: str | None = None
    channels: tuple[str, ...] | None = None
    render_dtype: str | None = None
    features: TableSpec | None = None
    feature_names: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """``output``: the graph's outputs, in the order of the card's classes."""

    names: tuple[str, ...]
    shape: tuple[Any, ...]
    meaning: str


@dataclasses.dataclass(frozen=True)
class TrainingInfo:
    """``training``: the run the weights come from."""

    config: dict[str, Any]
    best_epoch: int
    epochs_trained: int
    notes: str
    checkpoint: str | None = None


@dataclasses.dataclass(frozen=True)
class OnnxInfo:
    """``onnx``: the exported file and the onnxruntime-vs-torch check of the export."""

    file: str
    opset: int
    exporter: str
    sha256: str
    bytes: int
    max_abs_diff: float
    tolerance: float
    external_data: bool | None = None
    dynamic_axes: dict[str, Any] | None = None
    torch_fp32_vs_fp64: float | None = None
    max_abs_logit: float | None = None
    check_events: int | None = None
    check_batch_sizes: tuple[int, ...] | None = None
    check_inputs: str | None = None


@dataclasses.dataclass(frozen=True)
class Conditions:
    """``conditions``: the world the model was trained in, read off its training samples.

    ``era``: the data-taking era of the training files (fileset metadata ``era``),
    else the era of the selection config (its working points); ``processes``:
    the generator processes (datasets) of each class; ``tunes`` and
    ``pileup_mu``: the Pythia tune(s) and mean pileup(s) of the samples (empty
    when the samples did not record them, e.g. real data).  A run on files of
    another era warns, naming both (``eventlens.config.eras``).
    """

    era: str | None
    processes: dict[str, tuple[str, ...]]
    tunes: tuple[str, ...] = ()
    pileup_mu: tuple[float, ...] = ()


def conditions_of(training_data: Mapping[str, Any], selection: Mapping[str, Any] | None
                  ) -> Conditions:
    """The :class:`Conditions` of a checkpoint's data block (``training_data`` plus the
    selection), as :func:`eventlens.export.build_card` records them."""
    samples = training_data.get("samples") or {}
    metas = [(entry or {}).get("metadata") or {} for entry in samples.values()]
    file_eras = {str(m["era"]) for m in metas if m.get("era") is not None}
    config = (selection or {}).get("config") or {}
    era = next(iter(file_eras)) if len(file_eras) == 1 else config.get("era")
    datasets = training_data.get("datasets") or {}
    processes = {
        cls: tuple(
            sorted({str(((samples.get(d) or {}).get("metadata") or {}).get("process") or d)
                    for d in names})
        )
        for cls, names in datasets.items()
    }
    return Conditions(
        era=era,
        processes=processes,
        tunes=tuple(sorted({str(m["tune"]) for m in metas if m.get("tune")})),
        pileup_mu=tuple(sorted({float(m.get("pileup_mu") or 0.0) for m in metas
                                if "pileup_mu" in m})),
    )


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """A model card (see the module docstring); build it in code or with :meth:`from_dict`."""

    format: str
    name: str
    created: str
    eventlens_version: str
    task: str
    classes: tuple[str, ...]
    model: ModelSpec
    input: InputSpec
    output: OutputSpec
    render_config: RenderConfig | None
    render_config_digest: str | None
    table_spec: TableSpec | None
    selection: dict[str, Any] | None
    training_data: dict[str, Any]
    training: TrainingInfo
    metrics: dict[str, Any] | None
    onnx: OnnxInfo
    versions: dict[str, str]
    decorrelation: dict[str, Any] | None = None
    conditions: Conditions | None = None
    #: The file the card was read from (not part of the card).
    path: str | None = dataclasses.field(default=None, compare=False, metadata={"source": True})

    def __post_init__(self) -> None:
        where = self.path or repr(self.name)
        if self.format != CARD_FORMAT:
            raise ModelCardError(
                f"{where} is not an eventlens model card "
                f"(format {self.format!r}, expected {CARD_FORMAT!r})"
            )
        if self.render_config is not None:
            digest = self.render_config.digest()
            if digest != self.render_config_digest:
                raise ModelCardError(
                    f"model card {where}: render_config digest {digest} does not match the "
                    f"recorded render_config_digest {self.render_config_digest} (edited card?)"
                )
        if self.table_spec is not None and self.input.feature_names:
            object.__setattr__(self, "table_spec", self._ordered_spec(where))
        try:
            shape = self.model_input().shape
        except ValueError as exc:
            raise ModelCardError(f"model card {where}: {exc}") from None
        if self.input.kind != self.model.input_kind or tuple(self.model.input_shape) != shape:
            raise ModelCardError(
                f"model card {where}: the model takes {self.model.input_kind} input "
                f"{list(self.model.input_shape)} and the input block is {self.input.kind}, "
                f"but its {self.model_input().kind} config makes {list(shape)}"
            )

    def _ordered_spec(self, where: str) -> TableSpec:
        """The table spec with its slots in the order of ``input.feature_names``.

        Cards written before ``TableSpec.to_dict`` kept the order stored
        ``table_spec.slots`` as a JSON object, which sorted keys made alphabetical;
        the ordered feature names are the authority.  Feeding features in the
        wrong slot order would run (and explain) a different input than the model reads.
        """
        assert self.table_spec is not None and self.input.feature_names
        names = list(self.input.feature_names)
        slots = dict(self.table_spec.slots)
        order: list[str] = []
        for name in names:
            kind = name.split("_", 1)[0].rstrip("0123456789")
            if kind not in order:
                order.append(kind)
        try:
            spec = TableSpec(slots=tuple((k, slots[k]) for k in order),
                             features=self.table_spec.features)
        except KeyError as exc:
            raise ModelCardError(
                f"model card {where}: feature_names name slot type {exc} absent from its "
                "table_spec"
            ) from None
        if spec.feature_names() != names:
            raise ModelCardError(
                f"model card {where}: table_spec and input.feature_names disagree; "
                "cannot tell the input order"
            )
        return spec

    # ---- (de)serialisation ------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: str = "model card") -> ModelCard:
        """The card of parsed JSON ``data``, validated (``source`` names it in errors)."""
        if not isinstance(data, Mapping) or data.get("format") != CARD_FORMAT:
            found = data.get("format") if isinstance(data, Mapping) else None
            raise ModelCardError(
                f"{source} is not an eventlens model card "
                f"(format {found!r}, expected {CARD_FORMAT!r})"
            )
        return _build(cls, data, "", source)

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-able data (the layout :meth:`from_dict` reads)."""
        return _dump(self)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the card to ``path`` (the ``.json``, or the ``.onnx`` it describes), atomically."""
        from .io import write_json

        write_json(card_path(path), self.to_dict())

    # ---- what the card says -----------------------------------------------------------
    def model_input(self) -> ModelInput:
        """How this model's input is made from objects (:mod:`eventlens.modelio`)."""
        from .modelio import model_input

        return model_input(self.model.input_kind, self.render_config, self.table_spec)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def era(self) -> str | None:
        """The era the model was trained on (``conditions``; older cards: the selection's)."""
        if self.conditions is not None:
            return self.conditions.era
        return ((self.selection or {}).get("config") or {}).get("era")

    @property
    def selection_hash(self) -> str | None:
        """The digest of the selection config the training table was made with."""
        return (self.selection or {}).get("hash")

    # ---- checks of how the model is used ----------------------------------------------
    def check_render_config(self, config: RenderConfig | Mapping[str, Any]) -> None:
        """Raise :class:`RenderConfigMismatch` unless ``config`` draws images exactly as in
        training (the message lists every differing field as ``field: model X, in use Y``).
        Table-input models read no images; for them this is a no-op."""
        if self.render_config is None:
            return
        trained = self.render_config
        in_use = config if isinstance(config, RenderConfig) else RenderConfig.from_dict(config)
        diffs = trained.differences(in_use)
        if diffs:
            listed = "; ".join(
                f"{k}: model {a!r}, in use {b!r}" for k, (a, b) in sorted(diffs.items())
            )
            raise RenderConfigMismatch(
                f"model {self.name!r} was trained on images drawn differently from the render "
                f"config in use (digest {trained.digest()} vs {in_use.digest()}): {listed}",
                diffs,
            )

    def check_classes(self, classes: Sequence[str]) -> None:
        """Raise :class:`ModelCardError` unless the model predicts exactly ``classes``, in order."""
        if list(self.classes) != list(classes):
            raise ModelCardError(
                f"model {self.name!r} predicts classes {list(self.classes)}, "
                f"expected {list(classes)}"
            )

    def check_task(self, task: str) -> None:
        """Raise :class:`ModelCardError` unless the model was trained for ``task``."""
        if self.task != task:
            raise ModelCardError(
                f"model {self.name!r} was trained for task {self.task!r}, not {task!r}"
            )

    def check_onnx_file(self, onnx: str | os.PathLike[str]) -> None:
        """Raise :class:`ModelCardError` unless ``onnx`` is the file this card describes
        (its sha256 is the card's): a model swapped beside a card is refused."""
        onnx = Path(onnx)
        got = file_sha256(onnx)
        if got != self.onnx.sha256:
            raise ModelCardError(
                f"{onnx} (sha256 {got[:16]}…) is not the model its card "
                f"{self.path or card_path(onnx)} describes (sha256 {self.onnx.sha256[:16]}…): "
                "export the model again or put its own card beside it"
            )

    def check_graph(
        self,
        input_shape: Sequence[Any],
        output_shapes: Sequence[Sequence[Any]],
        model: str | os.PathLike[str] = "the model",
    ) -> None:
        """Raise :class:`ModelCardError` unless the ONNX graph fits the card: its input takes
        ``(batch, *shape)`` of the card's input, and every output is ``(batch, classes)``.

        ``input_shape``/``output_shapes``: the session's shapes (symbolic axes as strings).
        """
        expected = list(self.model_input().shape)
        if len(input_shape) != len(expected) + 1 or list(input_shape[1:]) != expected:
            raise ModelCardError(
                f"{model}: the ONNX input has shape {list(input_shape)}, but its card's "
                f"{self.model_input().kind} input is (batch, {', '.join(map(str, expected))}); "
                "the model and its card do not belong together"
            )
        for shape in output_shapes:
            width = shape[-1] if len(shape) else None
            if isinstance(width, int) and width != self.n_classes:
                raise ModelCardError(
                    f"{model}: the ONNX output has {width} columns, but its card names "
                    f"{self.n_classes} classes {list(self.classes)}; the model and its card do "
                    "not belong together"
                )


def card_path(path: str | os.PathLike[str]) -> Path:
    """The card of a model: ``NAME.json`` for ``NAME.onnx`` (a .json path is returned as is)."""
    p = Path(path)
    return p if p.suffix == ".json" else p.with_suffix(".json")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes (hex), read in 1 MB pieces."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_model_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read and validate a model card (pass the .json or the .onnx path).

    Given the ``.onnx``, the file must also be the one the card describes
    (:meth:`ModelCard.check_onnx_file`).  Raises :class:`ModelCardError` for
    a malformed card (see :meth:`ModelCard.from_dict`), InputFileError for a
    missing one.
    """
    p = card_path(path)
    if not p.exists():
        raise InputFileError(f"model card {p} does not exist (export writes it beside the .onnx)")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ModelCardError(f"model card {p} is not valid JSON: {exc}") from None
    card = ModelCard.from_dict(data, source=str(p))
    if Path(path).suffix == ".onnx" and Path(path).exists():
        card.check_onnx_file(path)
    return card


# ---- typed JSON: the card's keys are its dataclass fields -----------------------------
def _build(cls: type[T], data: Any, where: str, source: str) -> T:
    """Dataclass ``cls`` from JSON ``data``: unknown, missing and mistyped keys are errors.

    A field may be absent only if it has a default; ``null`` only if it is optional.
    The field marked ``source`` receives ``source``.
    """
    if not isinstance(data, Mapping):
        raise ModelCardError(
            f"model card {source}: '{where}' must be an object, got {type(data).__name__}"
        )
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("source")}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        raise ModelCardError(
            f"model card {source}: unknown key '{_join(where, unknown[0])}' "
            f"(allowed here: {', '.join(fields)})"
        )
    missing = [
        _join(where, n) for n, f in fields.items() if n not in data and not _has_default(f)
    ]
    if missing:
        raise ModelCardError(f"model card {source} lacks key(s) {missing}")
    hints = typing.get_type_hints(cls)
    kwargs = {
        name: _coerce(hints[name], data[name], _join(where, name), source)
        for name in fields
        if name in data
    }
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.metadata.get("source"):
            kwargs[f.name] = source
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelCardError(f"model card {source}: '{where or 'card'}': {exc}") from None


def _coerce(hint: Any, value: Any, where: str, source: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where, source)
    if hint is Any:
        return value
    if isinstance(hint, type) and hasattr(hint, "from_dict"):
        try:  # a config with its own reader (RenderConfig, TableSpec)
            return hint.from_dict(value)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelCardError(f"model card {source}: invalid '{where}': {exc}") from None
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, source)  # type: ignore[arg-type]
    ok: bool
    if origin is Literal:
        ok = value in args
    elif origin is tuple:
        if not isinstance(value, list | tuple):
            raise ModelCardError(f"model card {source}: '{where}' must be a list, got {value!r}")
        return tuple(_coerce(args[0], v, f"{where}[{i}]", source) for i, v in enumerate(value))
    elif origin is dict:
        if not isinstance(value, Mapping):
            raise ModelCardError(f"model card {source}: '{where}' must be an object")
        return {str(k): _coerce(args[1], v, _join(where, k), source) for k, v in value.items()}
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    if not ok:
        want = list(args) if origin is Literal else getattr(hint, "__name__", hint)
        raise ModelCardError(f"model card {source}: '{where}' must be {want}, got {value!r}")
    return value


def _dump(obj: Any) -> Any:
    """JSON-able data of a card or block: its fields (absent-when-None ones only when set)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        to_dict = getattr(obj, "to_dict", None)
        if to_dict is not None and not isinstance(obj, ModelCard):
            return to_dict()  # RenderConfig, TableSpec
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.metadata.get("source") or (value is None and _has_default(f)):
                continue
            out[f.name] = _dump(value)
        return out
    if isinstance(obj, list | tuple):
        return [_dump(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: _dump(v) for k, v in obj.items()}
    return obj


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


__all__ = [
    "CARD_FORMAT",
    "Conditions",
    "InputSpec",
    "ModelCard",
    "ModelCardError",
    "ModelSpec",
    "OnnxInfo",
    "OutputSpec",
    "RenderConfigMismatch",
    "TrainingInfo",
    "card_path",
    "conditions_of",
    "file_sha256",
    "load_model_card",
]
