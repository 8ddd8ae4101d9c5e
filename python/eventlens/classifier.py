"""``eventlens.load_model``: a model and its card, for your own coffea processor.

Most analysts have their own processor and want one thing from eventlens: "classify
this event with the model".  :func:`load_model` gives one picklable object that does it
with the rules the model was trained with — nothing to wire by hand::

    model = eventlens.load_model("dtw_compact_cnn")      # a shipped name, or NAME.onnx
    p = model.predict_proba(events)                       # (N, K); NaN rows: not selected

**The same events, drawn the same way, as in training.**  A network only knows the
pictures it was trained on.  The card records the selection config the training table
was made with (``card.selection``); :meth:`EventClassifier.objects` runs that task's
selection (the task from :mod:`eventlens.processors.registry`, the very
:func:`~eventlens.processors.task.analyse` that ``eventlens select``/``infer`` run, fed by
:mod:`eventlens.processors.inputs`): tight leptons counted, looser ``draw_pt_min``
leptons drawn, jets cleaned against the leptons, the NanoAOD flavour's MET.  Events
outside the selection were never shown to the model: they get no objects (``None``),
NaN probabilities and class ``-1`` — never a score for a picture unlike the training
data.

**Where it runs.**  ``events`` may be NanoEvents from coffea's ``Runner`` (eager or
virtual arrays), flat uproot arrays (``Muon_pt``, ...), or dask-awkward NanoEvents
(coffea's dask mode): then every method returns a lazy dask-awkward array and the
selection, rendering and inference run on the workers, partition by partition
(:mod:`eventlens.inference.partitions`).  The onnxruntime session is made once per
worker process (:class:`~eventlens.inference.OnnxWrapper`), on CUDA when usable; the
object pickles as its paths and settings.  No torch is imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

from .errors import EventLensError, InputFileError
from .inference import OnnxWrapper
from .inference.partitions import is_dask_array, map_partitions
from .modelcard import ModelCard, ModelCardError, load_model_card

if TYPE_CHECKING:  # pragma: no cover
    from .config.selection import TaskConfig
    from .processors.inputs import FileReading, Needs
    from .processors.task import ChunkResult, Task

log = logging.getLogger(__name__)

#: The graph output :meth:`EventClassifier.predict_proba` reads (eventlens' exports
#: have ``logits`` and ``probabilities``).
PROBABILITIES = "probabilities"
#: The class index of events outside the model's selection.
NOT_SELECTED = -1

__all__ = ["NOT_SELECTED", "EventClassifier", "load_model", "model_path", "shipped_models"]


def shipped_models() -> list[str]:
    """The names :func:`load_model` accepts without a path (the shipped ``.onnx`` files)."""
    from .resources import models_dir

    return sorted(p.stem for p in models_dir().glob("*.onnx"))


def model_path(name_or_path: str | os.PathLike[str]) -> Path:
    """The ``.onnx`` file of a shipped model name or of a path (``NAME.onnx`` or its card)."""
    from .resources import models_dir

    text = os.fspath(name_or_path)
    looks_like_path = (
        isinstance(name_or_path, os.PathLike) or os.sep in text or text.endswith((".onnx", ".json"))
    )
    if looks_like_path:
        path = Path(text).expanduser()
        path = path.with_suffix(".onnx") if path.suffix == ".json" else path
        if not path.exists():
            raise InputFileError(f"{path}: no such ONNX model (export one with `eventlens export`)")
        return path.resolve()
    path = models_dir() / f"{text}.onnx"
    if not path.exists():
        raise InputFileError(
            f"no shipped model {text!r}; shipped: {', '.join(shipped_models()) or 'none'} "
            "(or give the path of an exported .onnx with its card)"
        )
    return path


def load_model(
    name_or_path: str | os.PathLike[str],
    *,
    batch_size: int = 1024,
    threads: int | None = 1,
    providers: str | list[str] = "auto",
) -> EventClassifier:
    """The model ``name_or_path`` (a shipped name such as ``"dtw_compact_cnn"``, or an
    exported ``.onnx`` with its card beside it), ready to classify NanoEvents.

    Checked here, once, in the process that calls it: the card (format, sha256 of the
    ``.onnx``, render config digest), its selection config against its hash, and that
    the graph has a ``probabilities`` output of one column per class.

    Args:
        batch_size: events per onnxruntime call (and per rendered batch).
        threads: onnxruntime intra-op threads per process (1: coffea runs one worker
            process per core; ``None``: onnxruntime's default, every core).
        providers: ``"auto"`` (CUDA when usable, else CPU), ``"cpu"``, ``"cuda"``.
    """
    path = model_path(name_or_path)
    card = load_model_card(path)
    classifier = EventClassifier(
        path, card, _training_selection(card), batch_size, threads, providers
    )
    classifier.check_graph()
    return classifier


def _training_selection(card: ModelCard) -> TaskConfig:
    """The selection config the model's training table was made with (from its card).

    Read through the task's strict loader, so keys added to the schema since take
    their defaults (the cuts the card's config describes).  A card without one
    (an export from a table without a manifest) falls back to the task's current
    config, with a warning.
    """
    from .processors.registry import load_config, load_config_data

    selection = card.selection or {}
    config = selection.get("config")
    where = card.path or card.name
    if not config:
        log.warning(
            "model card %s records no selection config: using task %s's current one",
            where,
            card.task,
        )
        return load_config(card.task)
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    cfg = load_config_data(card.task, config)
    # The hash is the digest of the effective cuts (today's rule) or, for cards exported
    # before issue 18, of the whole stored block: either must match, else it was edited.
    whole = hashlib.sha256(text.encode()).hexdigest()
    if selection.get("hash") not in (None, whole, cfg.digest()):
        raise ModelCardError(
            f"model card {where}: its selection config does not match its hash "
            f"({cfg.digest()[:12]}… vs {str(selection['hash'])[:12]}…): edited card?"
        )
    return cfg


@dataclass(frozen=True)
class _Selected:
    """One chunk through the model's selection: who passed, and what they look like."""

    mask: np.ndarray  # (N,) bool
    result: ChunkResult


class EventClassifier:
    """A model, its card and its task's selection (see the module docstring).

    Build it with :func:`load_model`.  Picklable: it travels to coffea's Futures,
    Dask and HTCondor workers as paths and settings; each worker process opens the
    model once.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        card: ModelCard,
        config: TaskConfig,
        batch_size: int = 1024,
        threads: int | None = 1,
        providers: str | list[str] = "auto",
    ) -> None:
        from .processors.inputs import needs_of

        card.check_classes(list(config.classes))
        if PROBABILITIES not in card.output.names:
            raise ModelCardError(
                f"model {card.name!r} has no {PROBABILITIES!r} output (outputs "
                f"{list(card.output.names)}): export it again with `eventlens export`"
            )
        self.path = str(path)
        self.card = card
        self.config = config
        self.needs: Needs = needs_of(config)
        self.wrapper = OnnxWrapper(
            self.path,
            preprocess=card.model_input(),
            batch_size=batch_size,
            providers=providers,
            threads=threads,
            output=PROBABILITIES,
        )

    # ---- what the model is ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.card.name

    @property
    def classes(self) -> tuple[str, ...]:
        """The class names, in the order of the probability columns."""
        return tuple(self.card.classes)

    @property
    def task(self) -> Task:
        """The task whose selection the model was trained after (from the registry)."""
        from .processors.registry import get_task

        return get_task(self.card.task)

    def __repr__(self) -> str:
        return (
            f"EventClassifier({self.name!r}, task {self.card.task!r}, "
            f"classes {list(self.classes)}, {self.path})"
        )

    def check_graph(self) -> None:
        """Raise :class:`ModelCardError` unless the ONNX graph fits the card (opens a session)."""
        session = self.wrapper.session
        self.card.check_graph(
            session.get_inputs()[0].shape, [o.shape for o in session.get_outputs()], self.path
        )

    # ---- the public methods -----------------------------------------------------------
    def selected(self, events: Any) -> Any:
        """(N,) bool: which events pass the model's task selection."""
        return self._apply(events, "selected")

    def objects(self, events: Any) -> Any:
        """One object list per event as the model draws it (:mod:`eventlens.objects`
        records: type, pt, eta, phi, mass, charge, btag), ``None`` for events outside
        the model's selection.  ``render(ak.drop_none(model.objects(events)),
        model.card.render_config)`` gives the pictures the model sees."""
        return self._apply(events, "objects")

    def predict_proba(self, events: Any) -> Any:
        """(N, K) float32 class probabilities (the graph's ``probabilities`` output, columns
        in the order of :attr:`classes`); rows of events outside the selection are NaN."""
        return self._apply(events, "probabilities")

    def predict(self, events: Any) -> Any:
        """(N,) int64 index into :attr:`classes` of the most probable class; ``-1``
        (:data:`NOT_SELECTED`) for events outside the selection."""
        return self._apply(events, "predicted")

    def classify(self, events: Any) -> Any:
        """Everything in one pass (the selection runs once): a record per event with
        ``selected``, ``probabilities`` (K), ``predicted`` and ``mass`` (the task's mass
        definition, :attr:`Task.mass_definition`; NaN outside the selection)."""
        return self._apply(events, "classify")

    # ---- one chunk --------------------------------------------------------------------
    def _apply(self, events: Any, what: str) -> Any:
        if is_dask_array(events):
            return self._apply_dask(events, what)
        if not isinstance(events, ak.Array):
            raise TypeError(
                f"{self.name}: expected NanoEvents (an awkward or dask-awkward array), "
                f"got {type(events).__name__}"
            )
        return _Outputs(self, what)(self._select(events))

    def _select(self, events: ak.Array, reading: FileReading | None = None) -> _Selected:
        from .processors.inputs import inputs_from_arrays, inputs_from_nanoevents
        from .processors.task import analyse

        meta = dict(getattr(events, "metadata", None) or {})
        if reading is not None:
            inputs = inputs_from_arrays(events, self.needs, reading)
        elif _is_flat(events):
            inputs = inputs_from_arrays(events, self.needs, self._reading(events, meta))
        else:
            inputs = inputs_from_nanoevents(events, self.needs)
        result = analyse(self.task, self.config, inputs, meta.get("dataset", ""), meta)
        return _Selected(result.cutflow.alive, result)

    def _reading(self, events: Any, meta: dict[str, Any]) -> FileReading:
        from .processors.inputs import resolve_branches

        where = meta.get("filename") or "NanoAOD events"
        return resolve_branches(self.needs, _flat_keys(events), str(where))

    def _apply_dask(self, events: Any, what: str) -> Any:
        """The same, lazily: the branches the selection reads are zipped into one flat
        record on the dask side, and each partition of it goes through :meth:`_select`."""
        import dask_awkward as dak

        meta = dict(getattr(events, "metadata", None) or {})
        reading = self._reading(events, meta)
        columns = [*reading.branches]
        if "genWeight" in events.fields:
            columns.append("genWeight")
        flat = dak.zip({b: _column(events, b) for b in columns}, depth_limit=1)
        outputs = _Outputs(self, what, reading)
        return map_partitions(outputs.on_flat, flat, outputs.empty(), f"eventlens-{what}")


class _Outputs:
    """Turns a chunk's selection into what the caller asked for (picklable, for Dask)."""

    def __init__(
        self, model: EventClassifier, what: str, reading: FileReading | None = None
    ) -> None:
        self.model, self.what, self.reading = model, what, reading

    def on_flat(self, flat: ak.Array) -> ak.Array:
        return ak.Array(self(self.model._select(flat, self.reading)))

    def empty(self) -> ak.Array:
        """A zero-event output: the type of what :meth:`__call__` returns."""
        from .objects import OBJECT_FIELDS

        k = len(self.model.classes)
        none = {
            "selected": np.zeros(0, bool),
            "probabilities": np.zeros((0, k), np.float32),
            "predicted": np.zeros(0, np.int64),
            "mass": np.zeros(0, np.float64),
        }
        if self.what == "objects":
            objects = ak.Array({f: np.zeros(0, d) for f, d in OBJECT_FIELDS.items()})
            lists = ak.unflatten(objects, np.zeros(0, np.int64))
            return _placed(lists, np.zeros(0, bool))
        if self.what == "classify":
            return ak.zip({k_: ak.Array(v) for k_, v in none.items()}, depth_limit=1)
        return ak.Array(none[self.what])

    def __call__(self, sel: _Selected) -> Any:
        mask, result = sel.mask, sel.result
        if self.what == "selected":
            return mask
        if self.what == "objects":
            return _placed(result.objects, mask)
        model = self.model
        probs = np.full((len(mask), len(model.classes)), np.nan, np.float32)
        if mask.any():
            probs[mask] = model.wrapper.predict(result.objects)
        if self.what == "probabilities":
            return probs
        predicted = np.full(len(mask), NOT_SELECTED, np.int64)
        predicted[mask] = probs[mask].argmax(axis=1)
        if self.what == "predicted":
            return predicted
        mass = np.full(len(mask), np.nan, np.float64)
        mass[mask] = result.mass
        return ak.zip(
            {
                "selected": ak.Array(mask),
                "probabilities": ak.Array(probs),
                "predicted": ak.Array(predicted),
                "mass": ak.Array(mass),
            },
            depth_limit=1,
        )


def _placed(selected: ak.Array, mask: np.ndarray) -> ak.Array:
    """The per-event lists of the selected events at their places, ``None`` elsewhere."""
    index = np.full(len(mask), -1, np.int64)
    index[mask] = np.arange(int(mask.sum()))
    layout = ak.contents.IndexedOptionArray(ak.index.Index64(index), ak.to_layout(selected))
    return ak.Array(layout)


def _is_flat(events: Any) -> bool:
    """Flat NanoAOD branches (``Muon_pt``, uproot's arrays) rather than NanoEvents records."""
    fields = set(events.fields)
    return "Muon" not in fields and "Jet" not in fields and any("_" in f for f in fields)


def _flat_keys(events: Any) -> frozenset[str]:
    """Every branch name the events carry (``Muon_pt`` for ``events.Muon.pt``), read from
    the array's form (no data is read, no dask layer is made)."""
    form = events.form if is_dask_array(events) else events.layout.form
    keys = set(form.fields)
    for name in form.fields:
        inner = form.content(name)
        while not isinstance(inner, ak.forms.RecordForm) and hasattr(inner, "content"):
            inner = inner.content
        if isinstance(inner, ak.forms.RecordForm):
            keys |= {f"{name}_{f}" for f in inner.fields}
    return frozenset(keys)


def _column(events: Any, branch: str) -> Any:
    """The NanoEvents field holding flat branch ``branch`` (``Muon_pt`` → ``events.Muon.pt``)."""
    if branch in events.fields:
        return events[branch]
    collection, _, field = branch.partition("_")
    try:
        return events[collection][field]
    except Exception as exc:
        raise EventLensError(f"NanoEvents have no {branch} ({collection}.{field})") from exc
