"""Spurious signal and expected significance of the categories a classifier cut defines.

For one classifier and each working point (the cut giving ε_S = 70, 50, 30,
10 % on the test-split signal, :data:`FIT_EFFICIENCIES`) the category is
"score > cut".  In it, with :mod:`.bkgfit`:

1. **Signal model**: a double-sided Crystal Ball fitted to the category's
   test-split H → γγ events; the expected yield S_exp is their weight sum at
   the target luminosity (:data:`LUMI_PB`, the samples' cross-sections).
2. **Background function**: chosen on the category's background simulation
   by :data:`.bkgfit.RULE` (Bernstein order by F-test, then lowest AIC among
   exponential, power law, Bernstein).
3. **Spurious signal** S_spur: the signal yield of a signal + background fit
   (signal shape frozen at m_H = 125 GeV, background function and yield free)
   to the *background-only* simulation of the category, scaled to the target
   luminosity; its uncertainty σ_MC is the simulation's statistical one (the
   effective-count likelihood).  Compared with σ_stat, the statistical
   uncertainty of the fitted signal yield for data at the target luminosity
   (Asimov), and with S_exp.  Criterion (ATLAS/CMS H → γγ):
   |S_spur| < 20 % σ_stat **or** |S_spur| < 10 % S_exp.  The verdict with the
   simulation's precision: ``pass`` when |S_spur| + 2σ_MC is below the larger
   threshold, ``fail`` when |S_spur| − 2σ_MC is above it, else ``undecided``;
   ``passes_relaxed_criterion`` is ATLAS's relaxed form (max(0, |S_spur| −
   2σ_MC) in place of |S_spur|).
4. **Expected significance** (Asimov, :func:`.bkgfit.asimov_significance`):
   data = S_exp × signal shape + the background function fitted in step 2,
   with |S_spur| as a systematic on the signal yield; also without it, and at
   |S_spur| ± σ_MC (the statistical range of the systematic).

The background simulation is either a separate background-only sample (the
study's ``--fit-table``: every event counts, none was trained on) or the
test split's background; the other serves as a cross-check when both exist.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EventLensError
from ..training.table import ObjectTable
from . import bkgfit
from .sculpting import threshold_at_efficiency

log = logging.getLogger(__name__)

#: Signal efficiencies of the fitted categories.
FIT_EFFICIENCIES = (0.7, 0.5, 0.3, 0.1)
#: Target luminosity (pb⁻¹): CMS Run 2.
LUMI_PB = 138_000.0
#: The criterion's fractions: of σ_stat, and of S_exp.
MAX_OVER_STAT = 0.2
MAX_OVER_EXPECTED = 0.1


@dataclasses.dataclass(frozen=True)
class Events:
    """Score, m_γγ and weight (yield at the target luminosity) of one sample's events."""

    score: np.ndarray
    mass: np.ndarray
    weight: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.score)
        if len(self.mass) != n or len(self.weight) != n:
            raise EventLensError(f"Events: {n} scores, {len(self.mass)} masses, "
                                 f"{len(self.weight)} weights")

    def passing(self, cut: float) -> Events:
        keep = self.score > cut
        return Events(self.score[keep], self.mass[keep], self.weight[keep])

    def histogram(self) -> bkgfit.Histogram:
        return bkgfit.Histogram.of(self.mass, self.weight)


def _spurious_fit(hist: bkgfit.Histogram, signal: np.ndarray,
                  choice: bkgfit.BackgroundChoice, name: str) -> dict[str, Any]:
    shape = bkgfit.shape_by_name(name)
    f = bkgfit.fit_signal_plus_background(hist, signal, shape, choice.fits[name])
    return {"spurious_signal": f.values["n_sig"], "mc_error": f.errors["n_sig"],
            "valid": f.valid, "chi2_baker_cousins": f.cost, "n_free": f.n_free,
            "values": f.values}


def verdict(spur: float, mc_error: float, threshold: float) -> str:
    """``pass``/``fail``/``undecided`` of |S_spur| < threshold given the ±2σ_MC band."""
    a = abs(spur)
    if a + 2.0 * mc_error < threshold:
        return "pass"
    if a - 2.0 * mc_error > threshold:
        return "fail"
    return "undecided"


def category_fit(signal: Events, background: Events, cut: float,
                 check: Events | None = None) -> dict[str, Any]:
    """The numbers of one category (see the module docstring)."""
    sig, bkg = signal.passing(cut), background.passing(cut)
    s_hist, b_hist = sig.histogram(), bkg.histogram()
    out: dict[str, Any] = {"cut": float(cut),
                           "expected_signal": s_hist.total,
                           "n_signal_mc": len(sig.score),
                           "background_yield": b_hist.total,
                           "n_background_mc": len(bkg.score),
                           "n_background_mc_effective": b_hist.n_effective}
    if b_hist.n_effective < 10 or s_hist.n_effective < 20:
        out["skipped"] = (f"too little simulation after the cut ({len(bkg.score)} background, "
                          f"{len(sig.score)} signal events)")
        log.warning("category score > %.4g: %s", cut, out["skipped"])
        return out
    shape = bkgfit.fit_signal_shape(s_hist)
    choice = bkgfit.choose_background(b_hist)
    chosen = bkgfit.shape_by_name(choice.chosen)
    b_fit = choice.fits[choice.chosen]
    b_expected = bkgfit.expected_bins(b_fit, b_hist.edges, {"bkg": chosen})
    by_function = {name: _spurious_fit(b_hist, shape.fractions, choice, name)
                   for name in choice.fits}
    main = by_function[choice.chosen]
    spur, mc_err = main["spurious_signal"], main["mc_error"]
    s_exp = s_hist.total
    stat = bkgfit.expected_signal_error(b_expected, shape.fractions, chosen, b_fit)
    threshold = max(MAX_OVER_STAT * stat, MAX_OVER_EXPECTED * s_exp)
    relaxed = max(0.0, abs(spur) - 2.0 * mc_err)

    def z(spurious: float) -> float:
        return bkgfit.asimov_significance(s_exp, b_expected, shape.fractions, chosen, b_fit,
                                          spurious=spurious)["z"]

    z_syst = z(spur)
    out.update({
        "signal_shape": shape.to_dict(),
        "background_function": choice.to_dict(),
        "background_fit": b_fit.to_dict(),
        "spurious_signal": spur,
        "spurious_signal_mc_error": mc_err,
        "spurious_pull_mc": spur / mc_err if mc_err > 0 else None,
        "stat_error": stat,
        "spurious_over_stat": spur / stat if stat > 0 else None,
        "spurious_over_stat_mc_error": mc_err / stat if stat > 0 else None,
        "spurious_over_expected": spur / s_exp if s_exp > 0 else None,
        "spurious_over_expected_mc_error": mc_err / s_exp if s_exp > 0 else None,
        "passes_spurious_criterion": bool(abs(spur) < threshold),
        "criterion_threshold": threshold,
        "spurious_verdict": verdict(spur, mc_err, threshold),
        "passes_relaxed_criterion": bool(relaxed < threshold),
        "passes_with_any_function": bool(any(
            abs(v["spurious_signal"]) < threshold for v in by_function.values())),
        "spurious_by_function": by_function,
        "expected_significance": z_syst,
        "expected_significance_range": [z(abs(spur) + mc_err), z(max(0.0, abs(spur) - mc_err))],
        "expected_significance_no_systematic": z(0.0),
    })
    if check is not None:
        c_hist = check.passing(cut).histogram()
        if c_hist.n_effective >= 10:
            cc = _spurious_fit(c_hist, shape.fractions, choice, choice.chosen)
            out["cross_check"] = {
                "n_background_mc": int((check.score > cut).sum()),
                "background_yield": c_hist.total, **cc,
                "pull_vs_main": (spur - cc["spurious_signal"]) / math.hypot(mc_err, cc["mc_error"])
                if mc_err > 0 or cc["mc_error"] > 0 else None}
    return out


def run_fit(signal: Events, background: Events, check: Events | None = None,
            efficiencies: Sequence[float] = FIT_EFFICIENCIES) -> dict[str, Any]:
    """:func:`category_fit` at each working point; keys "0.7", "0.5", ... plus ``best``
    (the working point of highest expected significance with the systematic)."""
    out: dict[str, Any] = {}
    for eff in efficiencies:
        cut = threshold_at_efficiency(signal.score, signal.weight, eff)
        entry = category_fit(signal, background, cut, check)
        entry["eps_s"] = float(eff)
        entry["eps_b"] = (entry["background_yield"] / background.weight.sum()
                          if background.weight.sum() > 0 else None)
        out[f"{eff:g}"] = entry
        log.info("eps_S %.0f %%: S_exp %.1f, B %.0f, S_spur %.1f ± %.1f (%s), Z %.2f", 100 * eff,
                 entry["expected_signal"], entry["background_yield"],
                 entry.get("spurious_signal", math.nan),
                 entry.get("spurious_signal_mc_error", math.nan),
                 entry.get("spurious_verdict", "-"), entry.get("expected_significance", math.nan))
    return {"working_points": out, "best": best_working_point(out)}


def best_working_point(points: dict[str, Any]) -> str | None:
    """Key of the working point with the highest expected significance (with systematic)."""
    scored = {k: v["expected_significance"] for k, v in points.items()
              if v.get("expected_significance") is not None}
    return max(scored, key=lambda k: scored[k]) if scored else None


def compare(fits: dict[str, dict[str, Any]], baseline: str, adversarial: str) -> dict[str, Any]:
    """The issue's hypothesis for one pair of runs, from their ``fit`` blocks.

    At the adversarial run's best working point: does it pass the criterion where the
    baseline at the same ε_S fails?  Is its best expected significance (with the
    spurious-signal systematic) at least the baseline's?  Both with the statistical
    ranges (±2σ_MC verdicts; significance at |S_spur| ± σ_MC)."""
    a, b = fits[adversarial], fits[baseline]
    key = a["best"]
    if key is None or b["best"] is None:
        return {"baseline": baseline, "adversarial": adversarial, "decided": False,
                "reason": "a run has no fitted working point"}
    pa, pb = a["working_points"][key], b["working_points"][key]
    pbest = b["working_points"][b["best"]]
    za, zb = pa["expected_significance"], pbest["expected_significance"]
    ra, rb = pa["expected_significance_range"], pbest["expected_significance_range"]
    pass_where_fails = bool(pa.get("passes_spurious_criterion")
                            and not pb.get("passes_spurious_criterion", True))
    return {
        "baseline": baseline, "adversarial": adversarial,
        "adversarial_best_eps_s": key, "baseline_best_eps_s": b["best"],
        "adversarial_at_best": {k: pa.get(k) for k in _SUMMARY_KEYS},
        "baseline_at_same_eps_s": {k: pb.get(k) for k in _SUMMARY_KEYS},
        "baseline_at_its_best": {k: pbest.get(k) for k in _SUMMARY_KEYS},
        "passes_where_baseline_fails": pass_where_fails,
        "passes_where_baseline_fails_with_mc_precision": bool(
            pa.get("spurious_verdict") == "pass" and pb.get("spurious_verdict") == "fail"),
        "significance_at_least_baseline": bool(za >= zb),
        "significance_at_least_baseline_within_ranges": (
            "yes" if min(ra) >= max(rb) else "no" if max(ra) < min(rb) else "overlapping"),
        "hypothesis_holds": bool(pass_where_fails and za >= zb),
    }


_SUMMARY_KEYS = ("cut", "expected_signal", "background_yield", "spurious_signal",
                 "spurious_signal_mc_error", "stat_error", "spurious_over_stat",
                 "spurious_over_expected", "passes_spurious_criterion", "spurious_verdict",
                 "passes_relaxed_criterion", "expected_significance",
                 "expected_significance_range", "expected_significance_no_systematic")


# --- the study's runs ------------------------------------------------------------------------

#: How the separate background sample is normalised: ``table`` scales each of its
#: datasets' selected yield to the same dataset's in the training table (the reference
#: simulation; a dataset the table lacks keeps its own weights), ``sample`` keeps its own
#: σ·L/Σw weights.  Background datasets of the table that the fit sample lacks are
#: listed in the results (``background_datasets_missing_from_fit_table``).
NORMALISATIONS = ("table", "sample")


def _lumi_scale(table: ObjectTable, lumi_pb: float) -> float:
    lumi = table.manifest.get("luminosity_pb")
    if not lumi or lumi <= 0:
        raise EventLensError(f"{table.path}: manifest has no luminosity_pb; the weights need "
                             "it to be scaled to the target luminosity (rewrite the table with "
                             "`eventlens select`)")
    return lumi_pb / float(lumi)


def _dataset_yields(table: ObjectTable, idx: np.ndarray, scale: float) -> dict[str, float]:
    """Weight sum (× ``scale``) of events ``idx`` per dataset name."""
    names = np.asarray(table.datasets)[table.dataset[idx]]
    w = table.weight[idx] * scale
    return {str(d): float(w[names == d].sum()) for d in np.unique(names)}


def _class_index(table: ObjectTable, name: str) -> int:
    if name not in table.classes:
        raise EventLensError(f"{table.path}: no class {name!r} (classes {table.classes})")
    return table.classes.index(name)


@dataclasses.dataclass
class StudySamples:
    """Per-run events for the fits, and what they are (for ``results.json``)."""

    signal: dict[str, Events]
    background: dict[str, Events]
    check: dict[str, Events | None]
    info: dict[str, Any]
    #: Every background event of the training table (all splits; score 0): the
    #: inclusive category needs no classifier, so no event of it is biased.
    table_background: Events | None = None
    #: Every background event of the fit table (score 0), if there is one.
    fit_background: Events | None = None


def study_samples(runs: dict[str, str | Path], table: ObjectTable,
                  fit_table: ObjectTable | None = None, lumi_pb: float = LUMI_PB,
                  normalisation: str = "table", background_class: str = "background"
                  ) -> StudySamples:
    """Signal (test split) and background (``fit_table``, else the test split) events
    of every run, weighted to ``lumi_pb``.

    Test-split weights are divided by the split's share of the class's weight in the
    table, so the test events stand for the whole sample."""
    from .report import test_scores

    if normalisation not in NORMALISATIONS:
        raise EventLensError(f"fit normalisation {normalisation!r}: use one of {NORMALISATIONS}")
    scale = _lumi_scale(table, lumi_pb)
    b_idx = _class_index(table, background_class)
    total_bkg = float(table.weight[table.label == b_idx].sum()) * scale
    is_b = table.label == b_idx
    out = StudySamples({}, {}, {}, {"luminosity_pb": lumi_pb,
                                    "table_luminosity_pb": table.manifest.get("luminosity_pb"),
                                    "background_yield_table": total_bkg})
    out.table_background = Events(np.zeros(int(is_b.sum())),
                                  table.mass[is_b].astype(np.float64),
                                  table.weight[is_b] * scale)
    fit_w: np.ndarray | None = None
    fit_idx: np.ndarray | None = None
    if fit_table is not None:
        fb = _class_index(fit_table, background_class)
        fit_idx = np.flatnonzero(fit_table.label == fb)
        if fit_idx.size == 0:
            raise EventLensError(f"{fit_table.path}: no {background_class!r} events to fit")
        fit_w = fit_table.weight[fit_idx] * _lumi_scale(fit_table, lumi_pb)
        own = float(fit_w.sum())
        per_dataset = _dataset_yields(table, np.flatnonzero(is_b), scale)
        fit_names = np.asarray(fit_table.datasets)[fit_table.dataset[fit_idx]]
        norm: dict[str, Any] = {}
        for d in np.unique(fit_names):
            sel = fit_names == d
            d_own = float(fit_w[sel].sum())
            d_table = per_dataset.get(str(d))
            factor = d_table / d_own if normalisation == "table" and d_table else 1.0
            fit_w[sel] *= factor
            norm[str(d)] = {"yield_own": d_own, "yield_table": d_table, "factor": factor}
        missing = {d: y for d, y in per_dataset.items() if d not in norm}
        if missing:
            log.warning("background datasets of %s absent from the fit sample %s: %s; the "
                        "fit describes the rest only", table.path, fit_table.path, missing)
        out.info.update({"fit_table_normalisation_per_dataset": norm,
                         "background_datasets_missing_from_fit_table": missing})
        out.fit_background = Events(np.zeros(fit_idx.size),
                                    fit_table.mass[fit_idx].astype(np.float64), fit_w)
        out.info.update({"fit_table": str(fit_table.path), "normalisation": normalisation,
                         "fit_table_background_events": int(fit_idx.size),
                         "fit_table_background_yield_own": own,
                         "fit_table_background_yield_used": float(fit_w.sum()),
                         "fit_table_datasets": fit_table.manifest.get("datasets")})
    for name, rundir in runs.items():
        t = test_scores(rundir)
        sig, bkg = t["is_signal"], t["label"] == b_idx
        w = t["weight"] * scale
        f_sig = float(t["weight"][sig].sum() / table.weight[table.label != b_idx].sum())
        f_bkg = float(t["weight"][bkg].sum() / table.weight[table.label == b_idx].sum())
        out.signal[name] = Events(t["score"][sig], t["mass"][sig], w[sig] / f_sig)
        test_bkg = Events(t["score"][bkg], t["mass"][bkg], w[bkg] / f_bkg)
        if fit_table is not None:
            assert fit_idx is not None and fit_w is not None
            score = cached_table_scores(rundir, fit_table, fit_idx)
            out.background[name] = Events(score, fit_table.mass[fit_idx].astype(np.float64),
                                          fit_w)
            out.check[name] = test_bkg
        else:
            out.background[name] = test_bkg
            out.check[name] = None
        out.info.setdefault("test_fraction", {})[name] = {"signal": f_sig, "background": f_bkg}
    return out


FIT_SCORES = "fit_scores.npz"


def _fingerprint(rundir: Path, table: ObjectTable, idx: np.ndarray) -> str:
    """What the scores depend on: the model (best.pt's bytes), the table (its manifest)
    and which events."""
    import hashlib

    from ..training.checkpoint import BEST

    h = hashlib.sha256()
    h.update((rundir / BEST).read_bytes())
    h.update(json.dumps(table.manifest, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
    return h.hexdigest()


def cached_table_scores(rundir: str | Path, table: ObjectTable, idx: np.ndarray) -> np.ndarray:
    """:func:`.report.table_scores`, kept in ``rundir/fit_scores.npz`` with a fingerprint
    of model, table and events: scoring 2·10⁵ events with the image CNN takes minutes, and a
    rerun of the study (new fits, --publish) should not repeat it."""
    from ..io import write_npz
    from .report import table_scores

    rundir = Path(rundir)
    key = _fingerprint(rundir, table, idx)
    path = rundir / FIT_SCORES
    if path.exists():
        with np.load(path) as data:
            if str(data["fingerprint"]) == key:
                log.info("%s: fit-sample scores from %s", rundir, path)
                return data["score"].astype(np.float64)
    log.info("%s: scoring %d events of %s", rundir, len(idx), table.path)
    score = table_scores(rundir, table, idx)
    write_npz(path, score=score, fingerprint=np.array(key))
    return score


#: Coarse m_γγ binning of the sample-agreement χ² (10 GeV).
AGREEMENT_EDGES = np.linspace(bkgfit.MASS_RANGE[0], bkgfit.MASS_RANGE[1], 9)
#: The window whose background fraction the agreement compares.
AGREEMENT_WINDOW = (120.0, 130.0)


def _n_eff(w: np.ndarray) -> float:
    s2 = float((w * w).sum())
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


def _compare_fractions(a: Events, keep_a: np.ndarray, b: Events,
                       keep_b: np.ndarray) -> dict[str, Any]:
    """Weighted fractions of ``a`` in ``keep_a`` and ``b`` in ``keep_b`` and their pull,
    the error from the pooled fraction (the hypothesis that both samples are one
    population; an empty or tiny sample then still has an honest error)."""
    na, nb = _n_eff(a.weight), _n_eff(b.weight)
    if na <= 0 or nb <= 0:
        return {"fit_sample": None, "test_split": None, "pull": None}
    pa = float(a.weight[keep_a].sum() / a.weight.sum())
    pb = float(b.weight[keep_b].sum() / b.weight.sum())
    pooled = (pa * na + pb * nb) / (na + nb)
    err = math.sqrt(max(pooled * (1.0 - pooled), 0.0) * (1.0 / na + 1.0 / nb))
    return {"fit_sample": pa, "test_split": pb, "n_effective": [na, nb],
            "pull": (pa - pb) / err if err > 0 else None}


def shape_chi2(a: Events, b: Events, edges: np.ndarray = AGREEMENT_EDGES) -> dict[str, Any]:
    """Two-sample χ² of the unit-area m_γγ shapes of two weighted samples: per bin
    (p̂_a − p̂_b)² / [p̂ (1/n_a + 1/n_b)], p̂ the pooled fraction and n the effective
    counts; its ndof (bins − 1) and p-value (asymptotic: rough below ~5 events a bin)."""
    from scipy.stats import chi2

    na, nb = _n_eff(a.weight), _n_eff(b.weight)
    if na <= 0 or nb <= 0:
        return {"chi2": None, "ndof": 0, "p_value": None}
    ha, _ = np.histogram(a.mass, edges, weights=a.weight)
    hb, _ = np.histogram(b.mass, edges, weights=b.weight)
    pa, pb = ha / a.weight.sum(), hb / b.weight.sum()
    pooled = (pa * na + pb * nb) / (na + nb)
    ok = pooled > 0
    value = float(np.sum((pa[ok] - pb[ok]) ** 2 / (pooled[ok] * (1.0 / na + 1.0 / nb))))
    ndof = int(ok.sum()) - 1
    return {"chi2": value, "ndof": ndof, "n_effective": [na, nb],
            "p_value": float(chi2.sf(value, ndof)) if ndof > 0 else None}


def inclusive_fit(samples: StudySamples) -> dict[str, Any]:
    """The category of all selected events (no classifier): the spurious signal of the
    unsculpted γγ continuum, the reference every cut is compared with.  Background: the
    fit table if there is one (cross-check: every background event of the training
    table), else the training table's."""
    first = next(iter(samples.signal.values()))
    signal = Events(np.zeros(len(first.mass)), first.mass, first.weight)
    assert samples.table_background is not None
    main, check = samples.table_background, None
    if samples.fit_background is not None:
        main, check = samples.fit_background, samples.table_background
    out = category_fit(signal, main, -1.0, check)
    out["cut"] = None
    out["eps_s"] = 1.0
    if check is not None:
        out["agreement_with_table"] = sample_agreement(main, check, {})
    return out


def sample_agreement(fit_sample: Events, test_split: Events,
                     cuts: dict[str, float]) -> dict[str, Any]:
    """Whether the separate background sample (``fit_sample``) and the test split's
    background are the same physics, before and after each cut: the background
    efficiency of the cut in both, the fraction of the passing background in
    120–130 GeV in both (with their pull), and the two-sample χ² of the m_γγ shapes in
    10 GeV bins."""
    out: dict[str, Any] = {"window_gev": list(AGREEMENT_WINDOW), "cuts": {}}
    lo, hi = AGREEMENT_WINDOW
    for key, cut in {"none": -math.inf, **cuts}.items():
        fa, fb = fit_sample.passing(cut), test_split.passing(cut)
        out["cuts"][key] = {
            "eps_b": _compare_fractions(fit_sample, fit_sample.score > cut,
                                        test_split, test_split.score > cut),
            "window_fraction": _compare_fractions(fa, (fa.mass > lo) & (fa.mass < hi),
                                                  fb, (fb.mass > lo) & (fb.mass < hi)),
            "shape": shape_chi2(fa, fb),
            "n_events": {"fit_sample": len(fa.mass), "test_split": len(fb.mass)},
        }
    return out
