"""How much a cut on a classifier score sculpts the background mass spectrum.

Numpy only.  Definitions (used for every number the study reports):

* **Weights**: each event counts with its physics weight (the table's
  ``weight`` column, σ·L/Σw — uniform within one generated sample); pass
  ``weight=None`` for plain event counts.
* **Mass shape**: the weighted histogram of m_γγ in :data:`MASS_BINS`
  (100–180 GeV in 2 GeV bins, the selection's window), normalised to unit
  area.  Events outside the range are ignored.
* **Sculpting**: JSD(before ‖ after), the Jensen–Shannon divergence in bits
  (log base 2, so 0 ≤ JSD ≤ 1) between the background shape of all events and
  of the events passing the cut.  Lower is better; 1/JSD is what the λ scan
  plots.
* **Working points**: the cut giving signal efficiency ε_S = 50 %, 30 %,
  10 % (weighted, "score > cut"), with the background efficiency ε_B and the
  rejection 1/ε_B at that cut.
* **Mass-only reference**: :func:`mass_only_auc` is the AUC of the best
  discriminant that uses m_γγ alone, the likelihood ratio of the unit-area
  weighted signal and background m_γγ histograms (:data:`MASS_RATIO_BINS`,
  1 GeV), filled from the same events it is evaluated on (in-sample: a
  slightly optimistic ceiling).  :func:`window_auc` is a classifier's AUC on
  the events of one mass window only; :data:`MASS_WINDOWS` are the windows
  around 125 GeV in which the study reports it beside the mass-only AUC of the
  same window (how much the mass still separates there).
* **Statistical floor**: even a cut unrelated to the mass gives a JSD > 0
  because the passing sample is smaller.  :func:`random_cut_jsd` draws random
  subsets with the passing background's size (seeded) and reports their mean
  JSD, so a measured JSD near the floor reads as "no sculpting visible at this
  sample size".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..training.metrics import roc_auc

#: m_γγ binning for the shapes: 100–180 GeV in 2 GeV bins.
MASS_BINS = np.linspace(100.0, 180.0, 41)
#: Signal efficiencies of the working points.
SIGNAL_EFFICIENCIES = (0.5, 0.3, 0.1)
#: Fixed score cuts of the seed's picture ("D > 0.6") and neighbours.
SCORE_CUTS = (0.2, 0.4, 0.6, 0.8)
#: The signal region for the AUC at (nearly) fixed mass: what is left of the
#: separation once the mass itself, which the fit uses anyway, is not counted.
SIGNAL_WINDOW = (120.0, 130.0)
#: Mass windows (GeV, inclusive) of the window AUCs: the signal window and two
#: narrower ones in which m_γγ itself separates less.
MASS_WINDOWS = (SIGNAL_WINDOW, (123.0, 127.0), (124.0, 126.0))
#: m_γγ binning of the mass-only likelihood ratio: 100–180 GeV in 1 GeV bins.
MASS_RATIO_BINS = np.linspace(100.0, 180.0, 81)


def shape(mass: np.ndarray, weight: np.ndarray | None = None,
          bins: np.ndarray = MASS_BINS) -> np.ndarray:
    """Weighted mass histogram normalised to unit sum (zeros if empty)."""
    h, _ = np.histogram(np.asarray(mass, dtype=np.float64), bins=bins,
                        weights=None if weight is None else np.asarray(weight, dtype=np.float64))
    h = np.clip(h, 0.0, None)  # negative-weight bins carry no probability
    total = h.sum()
    return h / total if total > 0 else h


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """JSD(p ‖ q) in bits: ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2.

    Inputs are normalised here (need not sum to 1); 0·log 0 = 0.  Raises
    ValueError for mismatched shapes, negative entries or an all-zero input.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"jensen_shannon: shapes differ, {p.shape} vs {q.shape}")
    if (p < 0).any() or (q < 0).any():
        raise ValueError("jensen_shannon: negative probabilities")
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("jensen_shannon: an empty distribution")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def threshold_at_efficiency(score: np.ndarray, weight: np.ndarray | None, eff: float) -> float:
    """The cut c with weighted fraction of ``score > c`` closest to ``eff`` from above.

    Scores are sorted descending; the cut sits just below the event at which
    the cumulative weight first reaches ``eff`` of the total.
    """
    if not 0 < eff <= 1:
        raise ValueError(f"efficiency {eff} must be in (0, 1]")
    s = np.asarray(score, dtype=np.float64)
    if s.size == 0:
        raise ValueError("threshold_at_efficiency: no events")
    w = np.ones_like(s) if weight is None else np.asarray(weight, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    ranked = s[order]
    cum = np.cumsum(w[order]) / w.sum()
    k = min(int(np.searchsorted(cum, eff - 1e-12)), s.size - 1)
    upper = float(ranked[k])
    lower = ranked[ranked < upper]
    if lower.size == 0:
        return float(np.nextafter(upper, -np.inf))
    return 0.5 * (upper + float(lower.max()))


def passing_fraction(score: np.ndarray, weight: np.ndarray | None, cut: float) -> float:
    """Weighted fraction of events with ``score > cut``."""
    s = np.asarray(score, dtype=np.float64)
    w = np.ones_like(s) if weight is None else np.asarray(weight, dtype=np.float64)
    total = w.sum()
    return float(w[s > cut].sum() / total) if total > 0 else float("nan")


def random_cut_jsd(mass: np.ndarray, weight: np.ndarray | None, n_pass: int,
                   repeats: int = 20, seed: int = 0, bins: np.ndarray = MASS_BINS) -> float:
    """Mean JSD between all events and random subsets of ``n_pass`` events (the floor)."""
    mass = np.asarray(mass)
    n = mass.size
    if n_pass <= 0 or n == 0:
        return float("nan")
    if n_pass >= n:
        return 0.0
    rng = np.random.default_rng(seed)
    full = shape(mass, weight, bins)
    values = []
    for _ in range(repeats):
        idx = rng.choice(n, size=n_pass, replace=False)
        sub = shape(mass[idx], None if weight is None else np.asarray(weight)[idx], bins)
        values.append(jensen_shannon(full, sub) if sub.sum() > 0 else 1.0)
    return float(np.mean(values))


def distance_correlation(x: np.ndarray, y: np.ndarray, max_events: int = 4000,
                         seed: int = 0) -> float:
    """Székely's (biased, V-statistic) distance correlation of two 1-d samples.

    Zero iff independent (in the population); unlike Pearson's correlation it
    sees the non-monotonic dependence a mass *peak* creates.  O(n²) memory, so
    at most ``max_events`` events (a seeded random subset) are used.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ValueError(f"distance_correlation: sizes differ, {x.size} vs {y.size}")
    if x.size > max_events:
        idx = np.random.default_rng(seed).choice(x.size, size=max_events, replace=False)
        x, y = x[idx], y[idx]
    if x.size < 2:
        return float("nan")

    def centred(v: np.ndarray) -> np.ndarray:
        d = np.abs(v[:, None] - v[None, :])
        return d - d.mean(0, keepdims=True) - d.mean(1, keepdims=True) + d.mean()

    a, b = centred(x), centred(y)
    dcov2 = (a * b).mean()
    dvar = np.sqrt((a * a).mean() * (b * b).mean())
    return float(np.sqrt(max(dcov2, 0.0) / dvar)) if dvar > 0 else 0.0


def window_key(window: Sequence[float]) -> str:
    """``"120-130"`` for the window (120, 130): the JSON key of a window's numbers."""
    return f"{window[0]:g}-{window[1]:g}"


def in_window(mass: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """Events with lo <= m <= hi."""
    mass = np.asarray(mass, dtype=np.float64)
    return (mass >= window[0]) & (mass <= window[1])


def window_auc(score: np.ndarray, is_signal: np.ndarray, mass: np.ndarray,
               weight: np.ndarray | None, window: Sequence[float]) -> float | None:
    """Weighted AUC of the events with lo <= m <= hi only (None without both classes)."""
    sig = np.asarray(is_signal, dtype=bool)
    sel = in_window(mass, window)
    if not (sel & sig).any() or not (sel & ~sig).any():
        return None
    w = None if weight is None else np.asarray(weight, dtype=np.float64)[sel]
    return roc_auc(np.asarray(score)[sel], sig[sel], w)


def mass_likelihood_ratio(mass: np.ndarray, is_signal: np.ndarray,
                          weight: np.ndarray | None = None,
                          bins: np.ndarray = MASS_RATIO_BINS) -> np.ndarray:
    """Per event: p_S(m)/p_B(m) of the unit-area weighted histograms of these events.

    A bin with signal and no background gives +inf, an empty bin 0; events
    outside the bins get -1 (below every ratio).  Raises ValueError without
    signal or background weight in the bins.
    """
    mass = np.asarray(mass, dtype=np.float64)
    sig = np.asarray(is_signal, dtype=bool)
    w = np.ones_like(mass) if weight is None else np.asarray(weight, dtype=np.float64)
    h_s, _ = np.histogram(mass[sig], bins=bins, weights=w[sig])
    h_b, _ = np.histogram(mass[~sig], bins=bins, weights=w[~sig])
    h_s, h_b = np.clip(h_s, 0.0, None), np.clip(h_b, 0.0, None)
    if h_s.sum() <= 0 or h_b.sum() <= 0:
        raise ValueError("mass_likelihood_ratio: need signal and background inside the bins")
    p_s, p_b = h_s / h_s.sum(), h_b / h_b.sum()
    ratio = np.where(p_b > 0, p_s / np.where(p_b > 0, p_b, 1.0), np.where(p_s > 0, np.inf, 0.0))
    idx = np.searchsorted(bins, mass, side="right") - 1
    idx[mass == bins[-1]] = len(bins) - 2  # the last bin is closed, as in np.histogram
    inside = (idx >= 0) & (idx < len(bins) - 1)
    out = np.full(mass.shape, -1.0)
    out[inside] = ratio[idx[inside]]
    return out


def mass_only_auc(mass: np.ndarray, is_signal: np.ndarray, weight: np.ndarray | None = None,
                  bins: np.ndarray = MASS_RATIO_BINS) -> float:
    """AUC of :func:`mass_likelihood_ratio` as the score: the best m_γγ-only separation
    (in-sample; ties within a bin count half)."""
    ratio = mass_likelihood_ratio(mass, is_signal, weight, bins)
    return roc_auc(ratio, is_signal, weight)


def mass_reference(mass: np.ndarray, is_signal: np.ndarray, weight: np.ndarray | None = None,
                   windows: Sequence[Sequence[float]] = MASS_WINDOWS,
                   bins: np.ndarray = MASS_RATIO_BINS) -> dict[str, Any]:
    """What m_γγ alone gives: ``auc_mass_only`` on all events and, per window, the
    mass-only AUC of the window's events (the bins that fall inside it), the weighted
    fraction of all signal kept and the event counts."""
    mass = np.asarray(mass, dtype=np.float64)
    sig = np.asarray(is_signal, dtype=bool)
    w = np.ones_like(mass) if weight is None else np.asarray(weight, dtype=np.float64)
    width = float(bins[1] - bins[0])
    out: dict[str, Any] = {"auc_mass_only": mass_only_auc(mass, sig, w, bins), "windows": {}}
    for lo, hi in windows:
        sel = in_window(mass, (lo, hi))
        n_bins = max(1, round((hi - lo) / width))
        auc = None
        if (sel & sig).any() and (sel & ~sig).any():
            auc = mass_only_auc(mass[sel], sig[sel], w[sel], np.linspace(lo, hi, n_bins + 1))
        out["windows"][window_key((lo, hi))] = {
            "range_gev": [float(lo), float(hi)],
            "auc_mass_only": auc,
            "signal_fraction": float(w[sel & sig].sum() / w[sig].sum()) if sig.any() else None,
            "background_fraction": float(w[sel & ~sig].sum() / w[~sig].sum())
            if (~sig).any() else None,
            "n_signal": int((sel & sig).sum()),
            "n_background": int((sel & ~sig).sum()),
        }
    out["definitions"] = {
        "auc_mass_only": f"AUC of the likelihood ratio p_S(m_yy)/p_B(m_yy) of the unit-area "
                         f"weighted histograms ({bins[0]:g}-{bins[-1]:g} GeV, {width:g} GeV bins) "
                         "of the same test events (in-sample; the best m_yy-only discriminant)",
        "windows": "events with lo <= m_yy <= hi only; auc_mass_only there uses the "
                   f"{width:g} GeV bins inside the window",
    }
    return out


def sculpting_report(
    score: np.ndarray,
    is_signal: np.ndarray,
    mass: np.ndarray,
    weight: np.ndarray | None = None,
    efficiencies: Sequence[float] = SIGNAL_EFFICIENCIES,
    score_cuts: Sequence[float] = SCORE_CUTS,
    bins: np.ndarray = MASS_BINS,
    seed: int = 0,
) -> dict[str, Any]:
    """AUC, and per working point: cut, ε_S, ε_B, 1/ε_B, JSD, its random-cut floor.

    Returns a JSON-able dict: ``auc``, ``distance_correlation_background``
    (score vs mass), ``working_points`` {"0.5": {...}, ...} and ``score_cuts``
    {"0.6": {...}, ...} with the same fields, plus the definitions used.
    """
    score = np.asarray(score, dtype=np.float64)
    sig = np.asarray(is_signal, dtype=bool)
    mass = np.asarray(mass, dtype=np.float64)
    w = np.ones_like(score) if weight is None else np.asarray(weight, dtype=np.float64)
    if not sig.any() or sig.all():
        raise ValueError("sculpting_report: need both signal and background events")
    bkg = ~sig
    full = shape(mass[bkg], w[bkg], bins)

    def point(cut: float) -> dict[str, Any]:
        passed = bkg & (score > cut)
        eps_s = passing_fraction(score[sig], w[sig], cut)
        eps_b = passing_fraction(score[bkg], w[bkg], cut)
        n_pass = int(passed.sum())
        after = shape(mass[passed], w[passed], bins)
        jsd = jensen_shannon(full, after) if after.sum() > 0 else None
        return {
            "cut": float(cut),
            "eps_s": eps_s,
            "eps_b": eps_b,
            "background_rejection": (1.0 / eps_b) if eps_b > 0 else None,
            "n_background_pass": n_pass,
            "jsd": jsd,
            "inverse_jsd": (1.0 / jsd) if jsd else None,
            "jsd_random_cut": random_cut_jsd(mass[bkg], w[bkg], n_pass, seed=seed, bins=bins),
        }

    lo, hi = SIGNAL_WINDOW
    return {
        "auc": roc_auc(score, sig, w),
        "auc_signal_window": window_auc(score, sig, mass, w, SIGNAL_WINDOW),
        "auc_mass_windows": {window_key(win): window_auc(score, sig, mass, w, win)
                             for win in MASS_WINDOWS},
        "n_signal": int(sig.sum()),
        "n_background": int(bkg.sum()),
        "distance_correlation_background": distance_correlation(score[bkg], mass[bkg], seed=seed),
        "working_points": {f"{e:g}": point(threshold_at_efficiency(score[sig], w[sig], e))
                           for e in efficiencies},
        "score_cuts": {f"{c:g}": point(c) for c in score_cuts},
        "definitions": {
            "bins_gev": [float(bins[0]), float(bins[-1]), float(bins[1] - bins[0])],
            "jsd": "Jensen-Shannon divergence in bits between the unit-area background m_yy "
                   "histograms of all test events and of those with score > cut",
            "auc_signal_window": f"AUC of events with {lo:g} <= m_yy <= {hi:g} GeV only",
            "auc_mass_windows": "the same for each window lo-hi (GeV)",
            "weights": "physics weight per event (table column 'weight')"
                       if weight is not None else "event counts",
            "working_point": "cut with weighted signal efficiency eps_s (score > cut)",
            "jsd_random_cut": "mean JSD of 20 random background subsets of the passing size "
                              "(statistical floor)",
        },
    }
