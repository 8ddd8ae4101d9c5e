"""Classification metrics (numpy only; event counts, not physics weights).

Metrics count test events one each: the test split is a sample of the
simulated classes, and a classifier's accuracy on it is what the seeds quote.
Physics normalisation (cross sections, luminosity) belongs to the analysis.

The signal-vs-background efficiency of seed 002 §5.3 — "in a signal (tt̄) and
background (Drell-Yan and W+jets) context, with 50/50 splits, the signal vs
background discrimination efficiency would be 95.4 %" — is defined here as
the balanced accuracy of the binary decision "the predicted class (arg-max)
is a signal class":

    ε_S = fraction of signal events predicted as a signal class
          (the mean over signal classes if there are several),
    ε_B = fraction of background events predicted as a signal class, averaged
          over the background classes with equal weight (the seed's test set
          had 5000 events of each class),
    efficiency = ½ ε_S + ½ (1 − ε_B),

i.e. the fraction of correct signal/background decisions on a test set with
equal total signal and background weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SVB_DEFINITION = (
    "balanced accuracy of the decision 'arg-max class is a signal class': "
    "0.5*eps_S + 0.5*(1 - eps_B), eps_S = signal events predicted as signal (mean over signal "
    "classes), eps_B = background events predicted as signal (mean over background classes, "
    "equal weight per class) — seed 002 §5.3 with a 50/50 signal/background split"
)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, in the logits' own float type.

    The one softmax of the numpy code: the evaluation (float64) and the in-loop
    inference (float32 ONNX logits) both call it.
    """
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    return np.bincount(
        np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64),
        minlength=n_classes * n_classes,
    ).reshape(n_classes, n_classes)


def normalise_rows(cm: np.ndarray) -> np.ndarray:
    """Each row divided by its total (the fraction of a true class predicted as each class)."""
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros(cm.shape, dtype=np.float64), where=totals > 0)


def roc_curve(
    scores: np.ndarray, positive: np.ndarray, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates for every distinct score threshold (ties grouped).

    The one ROC of the project: the evaluation (event counts), the decorrelation
    study (physics weights, ``weight``) and the plots of binned scores
    (:func:`eventlens.plotting.spectra.roc_from_hist`, bin contents as weights)
    all call it.  A point is "score >= threshold"; the rates are the cumulative
    weights divided by the total positive / negative weight (the last cumulative
    value; floored at 1e-300 so a class without weight gives rates of 0).

    Returns (fpr, tpr, thresholds), starting at (0, 0) and ending at (1, 1).
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    w = np.ones_like(scores) if weight is None else np.asarray(weight, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    s, p, w = scores[order], positive[order], w[order]
    # Equal scores are one threshold.  Equal infinite scores (the mass-only likelihood
    # ratio of a bin without background) give inf - inf = nan, a separate threshold each,
    # as the former implementations did; only the warning is silenced.
    with np.errstate(invalid="ignore"):
        steps = np.flatnonzero(np.diff(s))
    distinct = np.r_[steps, len(s) - 1] if len(s) else np.zeros(0, int)
    tp = np.cumsum(np.where(p, w, 0.0))[distinct]
    fp = np.cumsum(np.where(p, 0.0, w))[distinct]
    n_pos = max(float(tp[-1]) if tp.size else 0.0, 1e-300)
    n_neg = max(float(fp[-1]) if fp.size else 0.0, 1e-300)
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    thresholds = np.r_[np.inf, s[distinct]] if len(s) else np.array([np.inf])
    return fpr, tpr, thresholds


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under a ROC curve (trapezoids; exact for the tie-grouped curve)."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def roc_auc(scores: np.ndarray, positive: np.ndarray, weight: np.ndarray | None = None) -> float:
    """The area under :func:`roc_curve` of these scores."""
    fpr, tpr, _ = roc_curve(scores, positive, weight)
    return auc(fpr, tpr)


def _downsample(fpr: np.ndarray, tpr: np.ndarray, n: int = 201) -> dict[str, list[float]]:
    """ROC points at ≤ n roughly even steps of FPR (for JSON and plots)."""
    if len(fpr) <= n:
        return {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    keep = np.unique(
        np.r_[np.searchsorted(fpr, np.linspace(0, 1, n)).clip(0, len(fpr) - 1), 0, len(fpr) - 1]
    )
    return {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}


def signal_vs_background(
    y_true: np.ndarray, y_pred: np.ndarray, signal: Sequence[int], n_classes: int
) -> dict[str, Any]:
    """Seed 002's efficiency; see the module docstring for the definition."""
    signal = sorted(set(int(s) for s in signal))
    background = [c for c in range(n_classes) if c not in signal]
    if not signal or not background:
        raise ValueError(
            f"signal classes {signal}: need at least one signal and one background class"
        )
    is_sig_pred = np.isin(y_pred, signal)

    def rate(c: int) -> float | None:
        sel = y_true == c
        return float(is_sig_pred[sel].mean()) if sel.any() else None

    s_rates = [r for r in (rate(c) for c in signal) if r is not None]
    b_rates = [r for r in (rate(c) for c in background) if r is not None]
    if not s_rates or not b_rates:
        return {
            "efficiency": None,
            "eps_s": None,
            "eps_b": None,
            "note": "no signal or no background events in the test set",
        }
    eps_s, eps_b = float(np.mean(s_rates)), float(np.mean(b_rates))
    return {"efficiency": 0.5 * eps_s + 0.5 * (1.0 - eps_b), "eps_s": eps_s, "eps_b": eps_b}


def classification_metrics(
    y_true: np.ndarray,
    logits: np.ndarray,
    classes: Sequence[str],
    signal: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything the evaluation reports, as JSON-able values.

    Keys: n_events, accuracy, balanced_accuracy, macro_f1, macro_auc, loss
    (unweighted mean cross entropy), per_class {name: n, accuracy (= recall),
    precision, f1, auc}, confusion (counts), confusion_normalised (rows),
    roc {name: {fpr, tpr}} (≤ 201 points), signal_vs_background (when
    ``signal`` is given).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    k = len(classes)
    probs = softmax(logits)
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, k)
    n = len(y_true)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0
    )
    present = support > 0
    per_class: dict[str, Any] = {}
    roc: dict[str, Any] = {}
    aucs = []
    for i, name in enumerate(classes):
        entry = {
            "n": int(support[i]),
            "accuracy": float(recall[i]),
            "precision": float(precision[i]),
            "f1": float(f1[i]),
            "auc": None,
        }
        pos = y_true == i
        if pos.any() and (~pos).any():
            fpr, tpr, _ = roc_curve(probs[:, i], pos)
            entry["auc"] = auc(fpr, tpr)
            aucs.append(entry["auc"])
            roc[name] = _downsample(fpr, tpr)
        per_class[name] = entry
    nll = -np.log(np.clip(probs[np.arange(n), y_true], 1e-12, None)) if n else np.zeros(0)
    out: dict[str, Any] = {
        "n_events": n,
        "accuracy": float((y_pred == y_true).mean()) if n else None,
        "balanced_accuracy": float(recall[present].mean()) if present.any() else None,
        "macro_f1": float(f1[present].mean()) if present.any() else None,
        "macro_auc": float(np.mean(aucs)) if aucs else None,
        "loss": float(nll.mean()) if n else None,
        "classes": list(classes),
        "per_class": per_class,
        "confusion": cm.tolist(),
        "confusion_normalised": normalise_rows(cm).tolist(),
        "roc": roc,
    }
    if signal:
        unknown = [s for s in signal if s not in classes]
        if unknown:
            raise ValueError(f"signal class(es) {unknown} not among the classes {list(classes)}")
        svb = signal_vs_background(y_true, y_pred, [list(classes).index(s) for s in signal], k)
        out["signal_vs_background"] = {"signal": list(signal), **svb, "definition": SVB_DEFINITION}
    return out


def metrics_by_category(
    y_true: np.ndarray,
    logits: np.ndarray,
    category: np.ndarray,
    classes: Sequence[str],
    signal: Sequence[str] = (),
    order: Sequence[str] = (),
) -> dict[str, Any]:
    """Accuracy and S-vs-B efficiency of the events of each category (e.g. lepton channel).

    Per category (in ``order``, then any other, absent ones left out): ``n_events``,
    ``share`` of all events, ``per_class`` event counts, ``accuracy`` and, with
    ``signal``, the S-vs-B efficiency (None when the category lacks signal or
    background events).  Event counts, as :func:`classification_metrics`.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = softmax(np.asarray(logits, dtype=np.float64)).argmax(axis=1)
    category = np.asarray(category, dtype=object)
    k, n = len(classes), len(y_true)
    names = [c for c in order if (category == c).any()]
    names += sorted({str(c) for c in category} - set(names))
    out: dict[str, Any] = {}
    for name in names:
        sel = category == name
        counts = np.bincount(y_true[sel], minlength=k)
        entry: dict[str, Any] = {
            "n_events": int(sel.sum()),
            "share": float(sel.sum() / n) if n else None,
            "per_class": {c: int(counts[i]) for i, c in enumerate(classes)},
            "accuracy": float((y_pred[sel] == y_true[sel]).mean()),
        }
        if signal:
            svb = signal_vs_background(
                y_true[sel], y_pred[sel], [list(classes).index(s) for s in signal], k
            )
            entry["signal_vs_background"] = svb.get("efficiency")
        out[name] = entry
    return out
