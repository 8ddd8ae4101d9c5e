"""Objects → model input: the one place where events become what a network reads.

Training (:class:`eventlens.training.data.BatchMaker`), the export check
(:mod:`eventlens.export`), the explanations (:mod:`eventlens.explain.model`) and
the in-loop inference (the coffea processors, through the model card) all turn
canonical object lists (:mod:`eventlens.objects`: flat ``type, pt, eta, phi,
mass, charge, btag`` columns + per-event offsets) into the float32 network input
here, so a model reads the same bits wherever it runs (``tests/test_modelio.py``
renders the same events through all four and compares bytes).

* :class:`ImageInput` — the C++ renderer draws the objects with the model's
  :class:`~eventlens.render.config.RenderConfig`; a ``uint8`` picture is divided
  by 255 in float32 (IEEE division, correctly rounded: what the model card's
  ``normalisation`` tells other readers to do, and what the deployed inference
  always did; multiplying by ``float32(1/255)`` differs by one ulp for 126 of the
  256 values), a ``float32`` picture is used as drawn.
* :class:`TableInput` — :func:`eventlens.models.features.featurise` pads the
  objects into the :class:`~eventlens.models.features.TableSpec` slots;
  standardisation is inside the network (so also inside the ONNX graph).

The difference between image and table models lives in these two classes:
callers ask a :class:`ModelInput` for the input, its shape, the input of an
empty event or the card's description of it, never for the kind.  Build one
with :func:`model_input` (from a training config's, checkpoint's or card's
render config / table spec).

Numpy, awkward and the renderer only (no torch, no onnxruntime): the coffea
workers import it.  The inputs are frozen dataclasses and pickle as their
config, so they travel to Futures/Dask/HTCondor workers.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .models import InputKind
from .models.features import TableSpec, featurise
from .objects import OBJECT_FIELDS
from .render.batch import FlatObjects, flatten_objects, render_flat, same_pictures
from .render.config import RenderConfig

if TYPE_CHECKING:  # pragma: no cover
    import awkward as ak

    from .modelcard import InputSpec

#: What every network of eventlens reads.
INPUT_DTYPE = np.dtype(np.float32)
#: uint8 pixels are divided by this (in float32) to give the [0, 1] network input.
UINT8_SCALE = np.float32(255.0)


class ModelInput(abc.ABC):
    """How a model's input is made from objects (see the module docstring)."""

    #: ``image`` or ``table``: recorded in checkpoints and cards; only the explanations
    #: read it (pixel maps or per-slot attributions), never to make the input.
    kind: ClassVar[InputKind]

    # ---- what each kind defines ----------------------------------------------------
    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, ...]:
        """One event's input shape: (C, H, W) or (F,)."""

    @property
    @abc.abstractmethod
    def raw_dtype(self) -> np.dtype:
        """The dtype :meth:`raw` produces (the renderer's, or float32 for tables)."""

    @abc.abstractmethod
    def raw(self, flat: FlatObjects, out: np.ndarray | None = None) -> np.ndarray:
        """The inputs as the data path makes them (renderer dtype / padded table), into
        ``out`` (an ``(N, *shape)`` array of :attr:`raw_dtype`, reused across batches)
        when given."""

    @abc.abstractmethod
    def card_fields(self) -> dict[str, Any]:
        """The kind's part of the model card's ``input`` block."""

    # ---- shared ---------------------------------------------------------------------
    def allocate(self, n_events: int) -> np.ndarray:
        """An uninitialised ``(N, *shape)`` buffer for :meth:`raw`."""
        return np.empty((n_events, *self.shape), dtype=self.raw_dtype)

    def allocate_float(self, n_events: int, channels_last: bool = False) -> np.ndarray:
        """An uninitialised float32 ``(N, *shape)`` array for :meth:`to_float`; with
        ``channels_last`` an (N, C, H, W) view of (N, H, W, C) memory (what torch calls
        channels-last, faster convolutions on CPU; a no-op for 1-d inputs)."""
        if channels_last and len(self.shape) == 3:
            c, h, w = self.shape
            return np.empty((n_events, h, w, c), dtype=INPUT_DTYPE).transpose(0, 3, 1, 2)
        return np.empty((n_events, *self.shape), dtype=INPUT_DTYPE)

    def to_float(self, raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The float32 network input of :meth:`raw` output (uint8 / 255, float32 as is).

        Into ``out`` when given (any strides, e.g. :meth:`allocate_float`'s
        channels-last view); without ``out`` a float32 ``raw`` is returned itself.
        """
        if raw.dtype == np.uint8:
            return np.divide(raw, UINT8_SCALE, out=out, dtype=INPUT_DTYPE)
        if out is None:
            return np.asarray(raw, dtype=INPUT_DTYPE)
        np.copyto(out, raw, casting="same_kind")
        return out

    def from_flat(self, flat: FlatObjects) -> np.ndarray:
        """The float32 ``(N, *shape)`` network input of flat objects."""
        return self.to_float(self.raw(flat))

    def __call__(self, objects: ak.Array) -> np.ndarray:
        """The float32 network input of an awkward array of per-event object lists
        (the processors' objects, :func:`eventlens.objects.objects_from_nanoevents`)."""
        return self.from_flat(flatten_objects(objects))

    def unchanged(self, a: FlatObjects, b: FlatObjects) -> np.ndarray:
        """Per event of two equally long batches: True where the model reads the same
        input from both, bit for bit (so its output is the same too).

        What systematic variations ask before re-running a model
        (:mod:`eventlens.processors.systematics`).  This default compares the
        inputs themselves; images override it with the renderer's placements,
        without drawing.
        """
        if a.n_events != b.n_events:
            raise ValueError(f"unchanged: {a.n_events} events vs {b.n_events}")
        xa, xb = self.raw(a), self.raw(b)
        return ~(xa != xb).reshape(a.n_events, -1).any(axis=1)

    def empty(self) -> np.ndarray:
        """One event's input with no objects (float32, :attr:`shape`): the reference
        input of attribution methods."""
        nothing = FlatObjects(
            offsets=np.zeros(2, dtype=np.int64),
            columns={name: np.zeros(0, dtype=dtype) for name, dtype in OBJECT_FIELDS.items()},
        )
        return self.from_flat(nothing)[0]

    def card_input(self, name: str = "input") -> InputSpec:
        """The model card's ``input`` block: what to feed the exported graph."""
        from .modelcard import InputSpec

        return InputSpec(
            name=name,
            kind=self.kind,
            shape=("batch", *self.shape),
            dtype=str(INPUT_DTYPE),
            **self.card_fields(),
        )

    @property
    def render_config(self) -> RenderConfig | None:
        """The render config (image models), for checkpoints and cards."""
        return None

    @property
    def table_spec(self) -> TableSpec | None:
        """The table spec (table models), for checkpoints and cards."""
        return None


@dataclasses.dataclass(frozen=True)
class ImageInput(ModelInput):
    """Images drawn by the C++ renderer with ``config``, as float32 in [0, 1]."""

    config: RenderConfig
    kind: ClassVar[InputKind] = "image"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.config.shape

    @property
    def raw_dtype(self) -> np.dtype:
        return np.dtype(self.config.dtype)

    @property
    def render_config(self) -> RenderConfig:
        return self.config

    def raw(self, flat: FlatObjects, out: np.ndarray | None = None) -> np.ndarray:
        return render_flat(flat, self.config, out=out)[0]

    def unchanged(self, a: FlatObjects, b: FlatObjects) -> np.ndarray:
        """Same placements of every drawn object (:func:`eventlens.render.same_pictures`):
        identical pictures, found without drawing them."""
        return same_pictures(a, b, self.config)

    def card_fields(self) -> dict[str, Any]:
        rc = self.config
        how = (
            ": divide the uint8 pictures by 255 in float32 (eventlens.modelio.ImageInput does)"
            if rc.dtype == "uint8"
            else " (the renderer's float32 output as is)"
        )
        return {
            "layout": "NCHW",
            "channels": tuple(rc.channels),
            "render_dtype": rc.dtype,
            "normalisation": "eventlens.render images for this render_config as float32 in "
            "[0, 1]" + how,
        }


@dataclasses.dataclass(frozen=True)
class TableInput(ModelInput):
    """The padded object table of ``spec`` (standardised inside the network)."""

    spec: TableSpec
    kind: ClassVar[InputKind] = "table"

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.spec.n_features,)

    @property
    def raw_dtype(self) -> np.dtype:
        return INPUT_DTYPE

    @property
    def table_spec(self) -> TableSpec:
        return self.spec

    def raw(self, flat: FlatObjects, out: np.ndarray | None = None) -> np.ndarray:
        x = featurise(flat.offsets, flat.columns, self.spec)
        if out is None:
            return x
        out[...] = x
        return out

    def card_fields(self) -> dict[str, Any]:
        return {
            "features": self.spec,
            "feature_names": tuple(self.spec.feature_names()),
            "normalisation": "feed eventlens.models.features.featurise(...) for this "
            "table_spec as is; the graph standardises with the training split's mean and sigma",
        }


def model_input(
    kind: str,
    render: RenderConfig | Mapping[str, Any] | None = None,
    features: TableSpec | Mapping[str, Any] | None = None,
) -> ModelInput:
    """The input of a model of ``kind`` (``image``: needs ``render``; ``table``: ``features``).

    Takes the objects or their dict form (checkpoints store ``render_config`` and
    ``table_spec`` as dicts).  ValueError for an unknown kind or a missing config.
    """
    if kind == "image":
        if render is None:
            raise ValueError("an image model needs its render config")
        config = render if isinstance(render, RenderConfig) else RenderConfig.from_dict(render)
        return ImageInput(config)
    if kind == "table":
        if features is None:
            raise ValueError("a table model needs its table spec")
        spec = features if isinstance(features, TableSpec) else TableSpec.from_dict(features)
        return TableInput(spec)
    raise ValueError(f"unknown model input kind {kind!r}: image or table")


def checkpoint_input(ckpt: Mapping[str, Any]) -> ModelInput:
    """The input of a training checkpoint's model (``eventlens.training.checkpoint``)."""
    return model_input(ckpt["model"]["input_kind"], ckpt["render_config"], ckpt["table_spec"])


__all__ = [
    "INPUT_DTYPE",
    "ImageInput",
    "ModelInput",
    "TableInput",
    "checkpoint_input",
    "model_input",
]
