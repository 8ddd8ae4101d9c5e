"""Explain events of an object table: pick the method, run it in chunks, build the records.

Methods (``--method``):

* ``ig`` — Integrated Gradients (captum).  Image models: pixel maps against
  the empty image, summed over each object's pixels with the renderer's
  object-index maps.  Table models: per-feature attributions against the
  training mean (or the empty event), rolled up to the objects filling the
  slots.  Needs gradients: a checkpoint, or an ONNX model whose card records
  its checkpoint (both are run on the explained events and must agree within
  1e-4 — the gradients of a different model would explain nothing).
* ``shapley`` — exact (or sampled) object Shapley values by removing objects
  and redrawing; runs the ONNX graph itself.  Table models also get captum
  Shapley value sampling per feature, for the σ-unit ranking.
* ``occlusion`` — leave one object out.
* ``auto`` (default) — ``ig`` for checkpoints, ``shapley`` for ONNX models.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..render.batch import FlatObjects
from ..training.table import ObjectTable
from .event import EventExplanation, FeatureTerms
from .gradients import integrated_gradients
from .model import ExplainableModel, check_agreement
from .pixels import object_index_maps, object_sums
from .removal import RemovalResult, object_occlusion, object_shapley
from .tabular import (
    FeatureAttribution,
    feature_integrated_gradients,
    feature_shapley_sampling,
    sigma_units,
    slot_objects,
    slot_of_feature,
    slot_sums,
)

log = logging.getLogger(__name__)

METHODS = ("auto", "ig", "shapley", "occlusion")
_METHOD_NAMES = {"ig": "integrated_gradients", "shapley": "object_shapley",
                 "occlusion": "object_occlusion"}


@dataclasses.dataclass(frozen=True)
class ExplainOptions:
    """How to explain.

    Attributes:
        method: see the module docstring.
        n_steps: IG integration points (Gauss–Legendre).
        internal_batch_size: IG forward passes per chunk.
        table_baseline: ``mean`` (training mean) or ``empty`` for table models.
        max_exact: exact object Shapley values up to this many objects.
        n_permutations: sampled orders above ``max_exact``.
        feature_samples: captum Shapley value samples per feature (ONNX table models).
        chunk: events per batch.
        keep_maps: keep IG pixel maps in the records (for figures; memory).
        seed: sampled orders.
    """

    method: str = "auto"
    n_steps: int = 50
    internal_batch_size: int = 256
    table_baseline: str = "mean"
    max_exact: int = 10
    n_permutations: int = 64
    feature_samples: int = 25
    chunk: int = 16
    keep_maps: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"explain: method {self.method!r}, choose one of {METHODS}")
        if self.table_baseline not in ("mean", "empty"):
            raise ValueError(
                f"explain: table baseline {self.table_baseline!r}, choose mean or empty")
        if self.n_steps < 2 or self.chunk < 1 or self.max_exact < 0 or self.n_permutations < 2:
            raise ValueError("explain: need n_steps >= 2, chunk >= 1, max_exact >= 0, "
                             "n_permutations >= 2")

    def resolve(self, model: ExplainableModel) -> str:
        """The concrete method for ``model``."""
        if self.method == "auto":
            return "ig" if model.backend == "torch" else "shapley"
        return self.method

    def describe(self, model: ExplainableModel) -> dict[str, Any]:
        """The settings that matter for the resolved method (goes into every output)."""
        method = self.resolve(model)
        d: dict[str, Any] = {"method": _METHOD_NAMES[method], "score": model.score}
        if model.input_kind == "image":
            d["baseline"] = ("empty event: every pixel at the render config's background "
                             f"{list(model.render.background()) if model.render else None}")
        else:
            d["baseline"] = ("training mean of every feature" if self.table_baseline == "mean"
                             else "empty event: every slot zero")
        if method == "ig":
            d.update(n_steps=self.n_steps, rule="gausslegendre",
                     gradients_from="checkpoint" if model.backend == "torch"
                     else "checkpoint recorded in the model card")
        elif method == "shapley":
            d.update(max_exact=self.max_exact, n_permutations=self.n_permutations,
                     removal="objects removed from the list, event redrawn / re-padded")
            if model.input_kind == "table":
                d["feature_samples"] = self.feature_samples
        else:
            d["removal"] = "objects removed from the list, event redrawn / re-padded"
        return d


class Explainer:
    """Explain events of a table with one model (see the module docstring)."""

    def __init__(self, model: ExplainableModel, options: ExplainOptions | None = None) -> None:
        self.model = model
        self.options = options or ExplainOptions()
        self.method = self.options.resolve(model)
        if self.method == "ig" and not model.differentiable:
            raise ValueError(f"{model.source}: Integrated Gradients need a torch module")
        self.rng = np.random.default_rng(self.options.seed)
        self.agreement = 0.0

    def explain(self, table: ObjectTable, indices: np.ndarray,
                progress: Any | None = None) -> Iterator[EventExplanation]:
        """Explanations of the table's events ``indices``, in order."""
        indices = np.asarray(indices, dtype=np.int64)
        for start in range(0, len(indices), self.options.chunk):
            idx = indices[start:start + self.options.chunk]
            yield from self.explain_flat(table.gather(idx), [_identity(table, i) for i in idx],
                                         idx)
            if progress is not None:
                progress.update(len(idx))

    def explain_flat(self, flat: FlatObjects, identities: list[dict[str, Any]],
                     rows: np.ndarray | None = None) -> list[EventExplanation]:
        """Explanations of pre-gathered events (``identities``: per-event metadata + label)."""
        rows = np.arange(flat.n_events) if rows is None else rows
        x = self.model.inputs(flat)
        if self.method == "ig" and self.model.session is not None:
            self.agreement = max(self.agreement, check_agreement(self.model, x))
        if self.model.input_kind == "image":
            index = object_index_maps(flat, self.model.render)  # type: ignore[arg-type]
            if self.method == "ig":
                return self._image_ig(flat, x, index, identities, rows)
            return self._removal(flat, identities, rows, index=index)
        features = self._feature_attributions(x)
        slots = slot_objects(flat.offsets, flat.columns, self.model.spec)  # type: ignore[arg-type]
        if self.method == "ig":
            return self._table_ig(flat, x, features, slots, identities, rows)
        return self._removal(flat, identities, rows, features=features, x=x, slots=slots)

    # ---- image models, Integrated Gradients -------------------------------------------
    def _image_ig(self, flat: FlatObjects, x: np.ndarray, index: np.ndarray,
                  identities: list[dict[str, Any]], rows: np.ndarray) -> list[EventExplanation]:
        m, o = self.model, self.options
        r = integrated_gradients(m, x, m.baseline(), n_steps=o.n_steps,
                                 internal_batch_size=o.internal_batch_size)
        out = []
        for e in range(flat.n_events):
            cols = _event_columns(flat, e)
            n = len(cols["pt"])
            per_object, unassigned, n_pixels = object_sums(r.attributions[e], index[e], n)
            out.append(self._record(
                rows[e], identities[e], r.scores[e], r.baseline_scores, cols, per_object,
                unassigned, r.delta[e], n_pixels > 0, n_pixels=n_pixels,
                pixel_maps=r.attributions[e] if o.keep_maps else None,
                details={"relative_delta": _per_class(m.classes, r.relative_delta[e])}))
        return out

    # ---- table models --------------------------------------------------------------------
    def _feature_attributions(self, x: np.ndarray) -> FeatureAttribution:
        m, o = self.model, self.options
        base = m.baseline(o.table_baseline)  # type: ignore[arg-type]
        if m.differentiable:
            return feature_integrated_gradients(m, x, base, n_steps=o.n_steps)
        return feature_shapley_sampling(m, x, base, n_samples=o.feature_samples,
                                        seed=int(self.rng.integers(2**31)))

    def _feature_terms(self, x: np.ndarray, fa: FeatureAttribution, slots: np.ndarray,
                       e: int) -> FeatureTerms:
        m = self.model
        assert m.spec is not None
        return FeatureTerms(
            names=m.spec.feature_names(), values=x[e].astype(np.float64),
            sigma=sigma_units(x[e], m.feature_mean, m.feature_std),
            attributions=fa.attributions[e], slot_object=slots[e][slot_of_feature(m.spec)],
            baseline_scores=fa.baseline_scores, residual=fa.delta[e])

    def _table_ig(self, flat: FlatObjects, x: np.ndarray, fa: FeatureAttribution,
                  slots: np.ndarray, identities: list[dict[str, Any]],
                  rows: np.ndarray) -> list[EventExplanation]:
        m = self.model
        assert m.spec is not None
        per_slot = slot_sums(fa.attributions, m.spec)  # (N, K, S)
        out = []
        for e in range(flat.n_events):
            cols = _event_columns(flat, e)
            n = len(cols["pt"])
            per_object = np.zeros((n, m.n_classes))
            filled = slots[e] >= 0
            per_object[slots[e][filled]] = per_slot[e][:, filled].T
            unassigned = per_slot[e][:, ~filled].sum(1)
            in_input = np.zeros(n, dtype=bool)
            in_input[slots[e][filled]] = True
            out.append(self._record(
                rows[e], identities[e], fa.scores[e], fa.baseline_scores, cols, per_object,
                unassigned, fa.delta[e], in_input, features=self._feature_terms(x, fa, slots, e),
                details={"feature_method": fa.method}))
        return out

    # ---- gradient-free object removal ------------------------------------------------------
    def _removal(self, flat: FlatObjects, identities: list[dict[str, Any]], rows: np.ndarray,
                 index: np.ndarray | None = None, features: FeatureAttribution | None = None,
                 x: np.ndarray | None = None, slots: np.ndarray | None = None
                 ) -> list[EventExplanation]:
        m, o = self.model, self.options
        out = []
        for e in range(flat.n_events):
            cols = _event_columns(flat, e)
            n = len(cols["pt"])
            n_pixels = None
            if index is not None:
                n_pixels = np.bincount(index[e].ravel(), minlength=n + 1)[1:]
                players = np.flatnonzero(n_pixels > 0)
                in_input = n_pixels > 0
            else:
                players = _table_players(cols, m)
                in_input = np.zeros(n, dtype=bool)
                assert slots is not None
                in_input[slots[e][slots[e] >= 0]] = True
            r: RemovalResult
            if self.method == "shapley":
                r = object_shapley(m, cols, players, o.max_exact, o.n_permutations, self.rng)
            else:
                r = object_occlusion(m, cols, players)
            terms = None
            if features is not None and x is not None and slots is not None:
                terms = self._feature_terms(x, features, slots, e)
            out.append(self._record(
                rows[e], identities[e], r.scores, r.empty_scores, cols, r.attributions,
                np.zeros(m.n_classes), r.residual, in_input, n_pixels=n_pixels, features=terms,
                details={"exact": r.exact, "evaluations": r.evaluations, "players": len(players),
                         **({"feature_method": features.method} if features else {})}))
        return out

    def _record(self, row: int, identity: dict[str, Any], scores: np.ndarray,
                baseline_scores: np.ndarray, cols: dict[str, np.ndarray], attributions: np.ndarray,
                unassigned: np.ndarray, residual: np.ndarray, in_input: np.ndarray,
                **extra: Any) -> EventExplanation:
        identity = dict(identity)
        label = identity.pop("label", None)
        return EventExplanation(
            row=int(row), identity=identity, label=label, classes=list(self.model.classes),
            method=_METHOD_NAMES[self.method], scores=np.asarray(scores, np.float64),
            baseline_scores=np.asarray(baseline_scores, np.float64), objects=cols,
            attributions=np.asarray(attributions, np.float64),
            unassigned=np.asarray(unassigned, np.float64),
            residual=np.asarray(residual, np.float64), in_input=np.asarray(in_input, bool),
            btag_threshold=self.model.btag_threshold, **extra)


def _event_columns(flat: FlatObjects, e: int) -> dict[str, np.ndarray]:
    lo, hi = int(flat.offsets[e]), int(flat.offsets[e + 1])
    return {k: np.asarray(v[lo:hi]) for k, v in flat.columns.items() if v is not None}


def _table_players(cols: dict[str, np.ndarray], model: ExplainableModel) -> np.ndarray:
    """Objects a table model can see when others are removed: listed types, finite pT > 0."""
    from .tabular import TYPE_CODES

    assert model.spec is not None
    codes = [TYPE_CODES[name] for name, _ in model.spec.slots]
    pt = cols["pt"].astype(np.float64)
    return np.flatnonzero(np.isin(cols["type"], codes) & np.isfinite(pt) & (pt > 0))


def _identity(table: ObjectTable, i: int) -> dict[str, Any]:
    label = int(table.label[i])
    return {
        "run": int(table.run[i]), "luminosityBlock": int(table.lumi[i]),
        "event": int(table.event[i]), "dataset": table.datasets[int(table.dataset[i])],
        "label": table.classes[label] if label >= 0 else None,
    }


def _per_class(classes: list[str], v: np.ndarray) -> dict[str, float]:
    return {c: float(x) for c, x in zip(classes, v, strict=True)}
