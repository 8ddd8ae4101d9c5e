"""Dataset-level summaries: which object types (and features) drive each class.

For every class c, over the explained events *of that class* (true label;
predicted class for unlabelled data), and for every object kind
(electron, muon, photon, jet, b-jet, MET):

* ``mean`` — the average, over events, of the kind's total attribution
  towards c (0 for an event without that kind): how much that kind moves the
  score, on average, in c's own events;
* ``mean_abs`` — the average of |that total|: how much it matters either way;
* ``share`` — its fraction of Σ over kinds of ``mean_abs``;
* ``per_object_abs`` — mean |attribution| of a single object of that kind;
* ``presence`` — fraction of the events that have the kind at all.

The *driver* of c is the kind with the largest ``mean``.  The full
true-class × explained-class × kind matrix of means is kept as well, so
"what pushes W+jets events away from tt̄" can be read off too.  Table models
add mean |attribution| per feature and per feature name (pt, η, …).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .event import EventExplanation
from .naming import KINDS

#: Features listed per class in the summary.
TOP_FEATURES = 10


def _group(explanations: Sequence[EventExplanation], k: int) -> list[EventExplanation]:
    """Events of class k: by true label where known, else by prediction."""
    out = []
    for ex in explanations:
        cls = ex.classes.index(ex.label) if ex.label in ex.classes else ex.predicted
        if cls == k:
            out.append(ex)
    return out


def kind_table(events: Sequence[EventExplanation], k: int,
               kinds: Sequence[str] = KINDS) -> dict[str, dict[str, float]]:
    """Per-kind statistics of the attributions towards class ``k`` over ``events``."""
    n = len(events)
    totals = np.zeros((n, len(kinds)))
    present = np.zeros((n, len(kinds)), dtype=bool)
    per_object: dict[str, list[float]] = {kind: [] for kind in kinds}
    for e, ex in enumerate(events):
        for i, kind in enumerate(ex.kinds):
            if kind not in per_object or not ex.in_input[i]:
                continue
            j = kinds.index(kind)
            totals[e, j] += ex.attributions[i, k]
            present[e, j] = True
            per_object[kind].append(abs(float(ex.attributions[i, k])))
    mean = totals.mean(0) if n else np.zeros(len(kinds))
    mean_abs = np.abs(totals).mean(0) if n else np.zeros(len(kinds))
    norm = mean_abs.sum()
    return {kind: {
        "mean": float(mean[j]),
        "mean_abs": float(mean_abs[j]),
        "share": float(mean_abs[j] / norm) if norm > 0 else 0.0,
        "per_object_abs": float(np.mean(per_object[kind])) if per_object[kind] else 0.0,
        "n_objects": len(per_object[kind]),
        "presence": float(present[:, j].mean()) if n else 0.0,
    } for j, kind in enumerate(kinds)}


def feature_table(events: Sequence[EventExplanation], k: int) -> dict[str, Any] | None:
    """Mean |attribution| towards ``k`` per feature, per feature name and per slot type."""
    with_features = [ex for ex in events if ex.features is not None]
    if not with_features:
        return None
    names = with_features[0].features.names  # type: ignore[union-attr]
    a = np.stack([ex.features.attributions[k] for ex in with_features])  # type: ignore[union-attr]
    sig = [ex.features.sigma for ex in with_features]  # type: ignore[union-attr]
    mean_abs = np.abs(a).mean(0)
    mean = a.mean(0)
    order = np.argsort(-mean_abs, kind="stable")[:TOP_FEATURES]
    sigma_mean = (np.stack(sig).mean(0) if all(s is not None for s in sig) else None)
    top = [{"feature": names[i], "mean_abs": float(mean_abs[i]), "mean": float(mean[i]),
            "mean_sigma": None if sigma_mean is None else float(sigma_mean[i])} for i in order]
    by_name: dict[str, float] = {}
    by_slot_type: dict[str, float] = {}
    for i, name in enumerate(names):
        slot, feature = name.rsplit("_", 1)
        slot_type = slot.rstrip("0123456789")
        by_name[feature] = by_name.get(feature, 0.0) + float(mean_abs[i])
        by_slot_type[slot_type] = by_slot_type.get(slot_type, 0.0) + float(mean_abs[i])
    return {"top": top, "by_feature": by_name, "by_slot_type": by_slot_type}


def summarise(explanations: Sequence[EventExplanation], classes: Sequence[str],
              kinds: Sequence[str] = KINDS) -> dict[str, Any]:
    """The dataset-level summary (see the module docstring) as a JSON-able dict."""
    classes = list(classes)
    groups = [_group(explanations, k) for k in range(len(classes))]
    per_class: dict[str, Any] = {}
    matrix: dict[str, dict[str, dict[str, float]]] = {}
    for c, cls in enumerate(classes):
        events = groups[c]
        table = kind_table(events, c, kinds)
        present = {kind: v for kind, v in table.items() if v["n_objects"]}
        driver = max(present, key=lambda kind: present[kind]["mean"]) if present else None
        correct = sum(ex.predicted == c for ex in events)
        per_class[cls] = {
            "n_events": len(events),
            "predicted_correctly": correct,
            "mean_score": float(np.mean([ex.scores[c] for ex in events])) if events else None,
            "kinds": table,
            "driver": driver,
            "ranking": sorted(present, key=lambda kind: -present[kind]["mean"]),
            "unassigned_mean": (float(np.mean([ex.unassigned[c] for ex in events]))
                                if events else 0.0),
            "features": feature_table(events, c),
        }
        matrix[cls] = {target: {kind: v["mean"] for kind, v in kind_table(events, t, kinds).items()}
                       for t, target in enumerate(classes)}
    residual = np.array([np.abs(ex.residual).max() for ex in explanations])
    span = np.array([np.abs(ex.scores - ex.baseline_scores).max() for ex in explanations])
    return {
        "n_events": len(explanations),
        "classes": classes,
        "kinds": list(kinds),
        "per_class": per_class,
        "matrix_mean": matrix,
        "baseline_scores_mean": {cls: float(np.mean([ex.baseline_scores[c] for ex in explanations]))
                                 if explanations else None for c, cls in enumerate(classes)},
        "overall_kinds": {cls: kind_table(list(explanations), c, kinds)
                          for c, cls in enumerate(classes)},
        "completeness": {
            "max_abs_residual": float(residual.max()) if residual.size else 0.0,
            "median_abs_residual": float(np.median(residual)) if residual.size else 0.0,
            "max_abs_score_change": float(span.max()) if span.size else 0.0,
        },
    }


def sanity_statements(summary: dict[str, Any]) -> list[str]:
    """Plain sentences a reader can check against physics, with the numbers behind them."""
    from .naming import KIND_LABELS, class_label, signed

    out = []
    for cls, pc in summary["per_class"].items():
        if not pc["n_events"] or pc["driver"] is None:
            continue
        kinds = pc["kinds"]
        ranked = pc["ranking"][:3]
        listing = ", ".join(f"{KIND_LABELS.get(k, k)} {signed(kinds[k]['mean'], 3)} "
                            f"({100 * kinds[k]['share']:.0f} % of |attr|)" for k in ranked)
        driver = KIND_LABELS.get(pc["driver"], pc["driver"])
        out.append(f"{class_label(cls)} ({pc['n_events']} events, {pc['predicted_correctly']} "
                   f"predicted correctly): driven by {driver}; "
                   f"mean attribution towards {class_label(cls)} per event: {listing}.")
    return out
