"""One event's explanation: scores, per-object (and per-feature) attributions, and its words.

The books balance for every class k::

    Σ_objects a_k + unassigned_k = f_k(event) − f_k(baseline) + residual_k

``unassigned`` is what no object owns (pixels nobody lit; empty table slots),
``residual`` the method's own error (IG's convergence delta; 0 for exact
Shapley values; the interaction remainder for leave-one-out occlusion).
Everything is stored per class, so "why tt̄" and "why not DY" read off the
same record.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .naming import class_label, describe_object, object_kinds, object_names, ranking_text, signed


@dataclasses.dataclass
class FeatureTerms:
    """Per-feature view of a table model's explanation.

    Attributes:
        names: feature names (``jet0_pt`` …).
        values: raw input values; sigma: (value − training mean)/σ or None.
        attributions: (K, F).
        slot_object: (F,) the object (position in the event) behind each
            feature, −1 for an empty slot.
        baseline_scores: (K,) scores of the features' reference input (the
            training mean or the empty event); residual: (K,) Σ attributions −
            (score − baseline score).  With object Shapley values the event's
            own baseline is the empty event, so the features keep theirs here.
    """

    names: list[str]
    values: np.ndarray
    sigma: np.ndarray | None
    attributions: np.ndarray
    slot_object: np.ndarray
    baseline_scores: np.ndarray | None = None
    residual: np.ndarray | None = None

    def ranked(self, k: int, top: int | None = None) -> list[dict[str, Any]]:
        """Features by decreasing |attribution| towards class ``k``."""
        order = np.argsort(-np.abs(self.attributions[k]), kind="stable")[:top]
        return [{
            "feature": self.names[i],
            "value": float(self.values[i]),
            "sigma": None if self.sigma is None else float(self.sigma[i]),
            "attribution": float(self.attributions[k, i]),
            "object": int(self.slot_object[i]),
        } for i in order]

    def text(self, k: int, cls: str, top: int = 3) -> str:
        """Seed 003's sentence: ``jet0_pt = +1.20σ (+0.31), …``."""
        parts = []
        for f in self.ranked(k, top):
            value = (f"{signed(f['sigma'])}σ" if f["sigma"] is not None
                     else f"{f['value']:.3g}")
            parts.append(f"{f['feature']} = {value} ({signed(f['attribution'])})")
        return f"towards {class_label(cls)}: " + ", ".join(parts)


@dataclasses.dataclass
class EventExplanation:
    """Everything explained about one event (see the module docstring)."""

    row: int
    identity: dict[str, Any]
    label: str | None
    classes: list[str]
    method: str
    scores: np.ndarray
    baseline_scores: np.ndarray
    objects: dict[str, np.ndarray]
    attributions: np.ndarray
    unassigned: np.ndarray
    residual: np.ndarray
    in_input: np.ndarray
    btag_threshold: float
    n_pixels: np.ndarray | None = None
    features: FeatureTerms | None = None
    pixel_maps: np.ndarray | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kinds = object_kinds(self.objects["type"], self.objects.get("btag"),
                                  self.btag_threshold)
        self.names = object_names(self.kinds, self.objects["pt"])
        self.descriptions = [
            describe_object(n, k, float(pt), float(eta)) for n, k, pt, eta in
            zip(self.names, self.kinds, self.objects["pt"], self.objects["eta"], strict=True)]

    # ---- reading it -----------------------------------------------------------------
    @property
    def n_objects(self) -> int:
        return len(self.kinds)

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.scores))

    def class_index(self, cls: str | int) -> int:
        return cls if isinstance(cls, int) else self.classes.index(cls)

    def kind_totals(self, cls: str | int) -> dict[str, float]:
        """Attribution towards ``cls`` summed per object kind (kinds present in the event)."""
        k = self.class_index(cls)
        out: dict[str, float] = {}
        for kind, a in zip(self.kinds, self.attributions[:, k], strict=True):
            out[kind] = out.get(kind, 0.0) + float(a)
        return out

    def ranking(self, cls: str | int) -> list[dict[str, Any]]:
        """The objects the model sees, by decreasing |attribution| towards ``cls``."""
        k = self.class_index(cls)
        seen = np.flatnonzero(self.in_input)
        order = seen[np.argsort(-np.abs(self.attributions[seen, k]), kind="stable")]
        return [{"object": int(i), "name": self.names[i], "description": self.descriptions[i],
                 "attribution": float(self.attributions[i, k])} for i in order]

    def text(self, cls: str | int | None = None, top: int = 5) -> str:
        """``Called tt̄ (tt̄ 0.93, W+jets 0.05, DY 0.02). b-jet 1 (…): +0.41 towards tt̄; …``."""
        k = self.predicted if cls is None else self.class_index(cls)
        seen = np.flatnonzero(self.in_input)
        scores = ", ".join(f"{class_label(c)} {s:.2f}" for c, s in zip(self.classes, self.scores,
                                                                          strict=True))
        head = f"Called {class_label(self.classes[self.predicted])} ({scores})."
        if len(seen) == 0:
            return head + " No object is drawn: the score is the empty event's."
        body = ranking_text([self.descriptions[i] for i in seen], self.attributions[seen, k],
                            self.classes[k], top=top)
        tail = ""
        if abs(float(self.unassigned[k])) >= 0.005:
            what = "empty slots" if self.features is not None else "unlit pixels"
            tail = f"; {what}: {signed(float(self.unassigned[k]))}"
        text = f"{head} {body}{tail}."
        if self.features is not None:
            text += " Features " + self.features.text(k, self.classes[k]) + "."
        return text

    # ---- JSON -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A self-describing record (numbers as plain floats, per class by name)."""
        def per_class(v: np.ndarray) -> dict[str, float]:
            return {c: float(x) for c, x in zip(self.classes, v, strict=True)}

        objects = []
        for i in range(self.n_objects):
            rec: dict[str, Any] = {
                "index": i, "name": self.names[i], "kind": self.kinds[i],
                "description": self.descriptions[i],
                **{f: _plain(self.objects[f][i]) for f in ("pt", "eta", "phi", "mass", "charge",
                                                           "btag") if f in self.objects},
                "in_input": bool(self.in_input[i]),
                "attribution": per_class(self.attributions[i]),
            }
            if self.n_pixels is not None:
                rec["n_pixels"] = int(self.n_pixels[i])
            objects.append(rec)
        out: dict[str, Any] = {
            "row": self.row,
            "event": self.identity,
            "label": self.label,
            "method": self.method,
            "details": self.details,
            "scores": per_class(self.scores),
            "baseline_scores": per_class(self.baseline_scores),
            "predicted": self.classes[self.predicted],
            "objects": objects,
            "unassigned": per_class(self.unassigned),
            "residual": per_class(self.residual),
            "balance": {c: {
                "objects": float(self.attributions[:, k].sum()),
                "unassigned": float(self.unassigned[k]),
                "score_minus_baseline": float(self.scores[k] - self.baseline_scores[k]),
                "residual": float(self.residual[k]),
            } for k, c in enumerate(self.classes)},
            "kind_totals": {c: self.kind_totals(k) for k, c in enumerate(self.classes)},
            "ranking": {c: self.ranking(k) for k, c in enumerate(self.classes)},
            "text": self.text(),
        }
        if self.features is not None:
            f = self.features
            out["features"] = {c: f.ranked(k) for k, c in enumerate(self.classes)}
            if f.baseline_scores is not None and f.residual is not None:
                out["features_balance"] = {c: {
                    "features": float(f.attributions[k].sum()),
                    "score_minus_baseline": float(self.scores[k] - f.baseline_scores[k]),
                    "residual": float(f.residual[k]),
                } for k, c in enumerate(self.classes)}
        return out


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
