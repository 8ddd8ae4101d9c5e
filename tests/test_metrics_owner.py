"""One ROC/AUC and one softmax (issue 14): the evaluation, the decorrelation study and the
inference plots all call :mod:`eventlens.training.metrics`, with the numbers they gave before.

The reference values were computed on these exact inputs with the three former
implementations (training/metrics.py, adversarial/sculpting.py ``weighted_roc`` +
``roc_auc``, plotting/spectra.py ``roc_from_hist``) and the former softmaxes
(training/metrics.py, processors/infer_processor.py; adversarial/report.py had a third,
inline one), at main 31f56cd, before they were merged.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from eventlens.adversarial import sculpting as S  # noqa: N812
from eventlens.inference import hists
from eventlens.plotting.spectra import roc_from_hist
from eventlens.training import metrics as M  # noqa: N812

#: Old code's results on :func:`_inputs` (main 31f56cd).
OLD = {
    "metrics_auc": 0.591870707070707,
    "metrics_roc_sha": "9918d9226fb289fd9983114edb15f0222a43c7bec9188136e0b98a374234cb17",
    "sculpt_auc_unweighted": 0.591870707070707,
    "sculpt_auc_weighted": 0.5942262690959964,
    "sculpt_roc_sha": "1db5f24092cf62ee28dcfd476547f1cfea793d274401d8ab5bd1178d21e4b4a2",
    "window_auc": 0.6701117373952235,
    "mass_only_auc": 0.7394497554480814,
    "classification_macro_auc": 0.5016214382539567,
    "classification_per_class_auc": [0.5077274725274725, 0.48022001269304004, 0.5169168295413575],
    "hist_auc": {"a": 0.5072352772428579, "b": 0.4792469280416598, "c": 0.5364189453886562},
    "softmax_float64_sha": "752076a43040a7edf2cf1b22b615ea246dd0a9f20d7006896d0b9f2000c1c45c",
    "softmax_float32_sha": "feb3616a8f536d4de59e07e74fcd46c4b1ad5a23fdf8e33c07d418d7f6ec91b8",
}


def _sha(*arrays: np.ndarray) -> str:
    return hashlib.sha256(b"".join(a.tobytes() for a in arrays)).hexdigest()


def _inputs():
    rng = np.random.default_rng(7)
    n = 500
    score = np.round(rng.uniform(0, 1, n), 2)  # many ties
    sig = rng.uniform(0, 1, n) < 0.3 + 0.4 * score
    w = rng.uniform(0.5, 2.0, n)
    mass = rng.uniform(100, 180, n)
    logits = rng.normal(0, 2, (n, 3))
    y = rng.integers(0, 3, n)
    return score, sig, w, mass, logits, y


def test_unweighted_and_weighted_roc_give_the_former_values_exactly():
    score, sig, w, mass, logits, y = _inputs()
    fpr, tpr, thresholds = M.roc_curve(score, sig)
    assert M.auc(fpr, tpr) == OLD["metrics_auc"]
    assert _sha(fpr, tpr, thresholds) == OLD["metrics_roc_sha"]
    assert M.roc_auc(score, sig) == OLD["sculpt_auc_unweighted"]
    assert M.roc_auc(score, sig, w) == OLD["sculpt_auc_weighted"]
    eps_b, eps_s, _ = M.roc_curve(score, sig, w)
    assert _sha(eps_b, eps_s) == OLD["sculpt_roc_sha"]
    assert eps_b[-1] == eps_s[-1] == 1.0 and eps_b[0] == eps_s[0] == 0.0
    assert S.window_auc(score, sig, mass, w, (120, 130)) == OLD["window_auc"]
    assert S.mass_only_auc(mass, sig, w) == OLD["mass_only_auc"]
    cm = M.classification_metrics(y, logits, ["a", "b", "c"])
    assert cm["macro_auc"] == OLD["classification_macro_auc"]
    assert [cm["per_class"][c]["auc"] for c in "abc"] == OLD["classification_per_class_auc"]


def test_roc_of_the_score_histogram_matches_the_former_one():
    """Exact up to the normalisation: the former code divided the cumulative bin
    contents by ``np.sum`` (pairwise summation), the one ROC divides by the last
    cumulative value (so the curve ends at exactly 1); the two sums of the same
    50 bins differ in the last bit, so the AUC may move by an ulp."""
    _, _, w, _, logits, y = _inputs()
    h = hists.book(["a", "b", "c"], 10, (0, 10))["score"]
    p = M.softmax(logits.astype(np.float32))
    for k, c in enumerate("abc"):
        h.fill(dataset="x", truth=y, cls=c, score=np.clip(p[:, k], 0, 1 - 1e-7), weight=w)
    for c in "abc":
        fpr, tpr, area = roc_from_hist(h, c)
        assert area == pytest.approx(OLD["hist_auc"][c], rel=4e-16, abs=0)
        assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
        assert len(fpr) == h.axes["score"].size + 1


def test_one_softmax_for_float64_evaluation_and_float32_inference():
    *_, logits, _ = _inputs()
    assert _sha(M.softmax(logits)) == OLD["softmax_float64_sha"]
    assert _sha(M.softmax(logits.astype(np.float32))) == OLD["softmax_float32_sha"]
    assert M.softmax(logits.astype(np.float32)).dtype == np.float32
    # the third, inline softmax adversarial/report.py had (exp computed twice)
    z = logits - logits.max(axis=1, keepdims=True)
    inline = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert M.softmax(logits).tobytes() == inline.tobytes()


def test_roc_weights_and_degenerate_classes():
    # integer weights = repeated events
    score = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    pos = np.array([1, 0, 1, 0, 1], bool)
    w = np.array([2.0, 1.0, 1.0, 3.0, 1.0])
    repeated = np.repeat(np.arange(5), w.astype(int))
    assert M.roc_auc(score, pos, w) == pytest.approx(M.roc_auc(score[repeated], pos[repeated]))
    # no negatives: the rates stay 0 instead of dividing by zero
    fpr, tpr, _ = M.roc_curve(score, np.ones(5, bool))
    assert np.all(fpr == 0.0) and tpr[-1] == 1.0
    fpr, tpr, thresholds = M.roc_curve(np.zeros(0), np.zeros(0, bool))
    assert list(fpr) == [0.0] and list(tpr) == [0.0] and list(thresholds) == [np.inf]
