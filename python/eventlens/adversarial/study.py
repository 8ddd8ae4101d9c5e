"""FCN vs ANN on H → γγ: the λ scan, the image variant, one results JSON and the figures.

``eventlens hgg-study --table DIR -o OUT`` runs, on one object table:

* ``fcn``: the plain classifier (``configs/train/hgg_fcn.yaml``, the
  ordinary :func:`eventlens.training.loop.fit`: early stopping, LR schedule);
* ``ann_lambda_<λ>`` for every λ of the scan (``configs/train/hgg_ann.yaml``
  with λ replaced): the three-phase adversarial training.  λ = 0 trains the
  same classifier for the same epochs with the adversary watching but
  without influence (the reversal scales its gradient by 0) — the like-for-like
  baseline of the scan;
* optionally the image variant: the compact CNN on rendered photon images
  (``configs/train/hgg_ann_cnn.yaml``) at λ = 0 (``cnn``) and at the config's
  λ (``cnn_ann``);

each in its own run folder (reused when it already holds a finished run with
the same configuration, so a rerun only does what is missing), then measures
every run's test split with :func:`.sculpting.sculpting_report`, adds the
``reference`` block (:func:`.report.mass_reference_of_runs`: the AUC of m_γγ
alone on the same test split, and every run's AUC in narrow m_γγ windows
beside the mass-only AUC there), exports the ANN classifier to ONNX with its
model card, and writes ``results.json`` and the figures of :mod:`.plots`.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EventLensError
from ..io import atomic_path, write_json
from ..training.checkpoint import BEST, LAST, load_checkpoint
from ..training.config import TrainConfig
from ..training.table import ObjectTable, read_table
from .config import AdversaryConfig, load
from .report import decorrelation_of_run, mass_reference_of_runs, test_scores
from .sculpting import SIGNAL_WINDOW, window_key
from .spurious import LUMI_PB

log = logging.getLogger(__name__)

RESULTS = "results.json"
TARGET_JSD_RATIO = 5.0
TARGET_AUC_LOSS = 0.03


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """What to train: config files, λ values, overrides."""

    fcn_config: Path
    ann_config: Path
    lambdas: tuple[float, ...]
    image_config: Path | None = None
    epochs: int | None = None
    image_epochs: int | None = None
    limits: dict[str, int | None] | None = None
    image_limits: dict[str, int | None] | None = None
    export: Path | None = None
    fit: bool = True
    fit_table: Path | None = None
    lumi_pb: float = LUMI_PB
    fit_normalisation: str = "table"


def _lambda_name(lam: float) -> str:
    return f"{lam:g}".replace(".", "p")


def _same_run(rundir: Path, train: TrainConfig, adv: AdversaryConfig | None) -> bool:
    """Whether ``rundir`` holds a finished, evaluated run of exactly this configuration."""
    if not (rundir / BEST).exists() or not (rundir / "test_predictions.npz").exists():
        return False
    ckpt = load_checkpoint(rundir / BEST)
    stored = ckpt.get("adversary")
    if stored is not None:  # defaults of keys added since the run was made
        stored = AdversaryConfig.from_dict(stored).to_dict()
    try:  # today's spelling of the stored config (e.g. table-spec slots as ordered pairs)
        config = TrainConfig.from_dict(ckpt["config"]).to_dict()
    except EventLensError:
        config = ckpt["config"]
    same = config == train.to_dict() and stored == (adv.to_dict() if adv else None)
    # Whether training ended is the run's state, kept in last.pt: a plain run saves best.pt
    # at its best epoch, which is rarely the last one, so best.pt says "not finished".
    state = load_checkpoint(rundir / LAST) if (rundir / LAST).exists() else ckpt
    return bool(same and state.get("finished", True))


def train_run(rundir: Path, train: TrainConfig, adv: AdversaryConfig | None, table: ObjectTable,
              progress: bool, overwrite: bool) -> dict[str, Any]:
    """Train + evaluate one run (or reuse it); returns its decorrelation report."""
    if _same_run(rundir, train, adv):
        log.info("%s: finished run with this configuration found, reusing it", rundir)
    else:
        if rundir.exists():
            if not overwrite:
                raise EventLensError(
                    f"{rundir} holds a different or unfinished run; pass --overwrite to retrain it")
            shutil.rmtree(rundir)
        if adv is None:
            from ..training.loop import fit

            fit(train, rundir, table=table, progress=progress)
        else:
            from .trainer import fit_adversarial

            fit_adversarial(train, adv, rundir, table=table, progress=progress)
    return decorrelation_of_run(rundir)


def _override(train: TrainConfig, table: Path, epochs: int | None,
              limits: dict[str, int | None] | None) -> TrainConfig:
    changes: dict[str, Any] = {"table": str(table)}
    if epochs is not None:
        changes["epochs"] = epochs
    if limits is not None:
        changes["limits"] = {**train.limits, **limits}
    return train.replace(**changes)


def scale_phases(adv: AdversaryConfig, old_epochs: int, new_epochs: int) -> AdversaryConfig:
    """Pre-training epochs scaled with an overridden total, keeping >= 1 joint epoch."""
    if new_epochs == old_epochs:
        return adv
    if new_epochs < 3:
        raise EventLensError(
            f"--epochs {new_epochs}: an adversarial run needs >= 3 (one per phase)")
    f = new_epochs / old_epochs
    clf = max(1, round(adv.pretrain_classifier_epochs * f))
    adv_ep = max(1, round(adv.pretrain_adversary_epochs * f))
    while clf + adv_ep >= new_epochs:
        if clf >= adv_ep and clf > 1:
            clf -= 1
        else:
            adv_ep -= 1
    return adv.replace(pretrain_classifier_epochs=clf, pretrain_adversary_epochs=adv_ep)


def run_study(table_path: str | Path, outdir: str | Path, plan: StudyPlan,
              progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Run the whole study (see the module docstring); returns what ``results.json`` holds."""
    table_path, outdir = Path(table_path), Path(outdir)
    table = read_table(table_path)
    fcn_train, fcn_adv = load(plan.fcn_config)
    if fcn_adv is not None:
        raise EventLensError(f"{plan.fcn_config} has an adversary block; the FCN config must not")
    ann_train, ann_adv = load(plan.ann_config)
    if ann_adv is None:
        raise EventLensError(f"{plan.ann_config} has no adversary block")
    fcn_train = _override(fcn_train, table_path, plan.epochs, plan.limits)
    ann_epochs = ann_train.epochs
    ann_train = _override(ann_train, table_path, plan.epochs, plan.limits)
    ann_adv = scale_phases(ann_adv, ann_epochs, ann_train.epochs)
    ann_adv.check_against(ann_train)
    lambdas = tuple(sorted(set(plan.lambdas) | {0.0, ann_adv.lam}))

    runs: dict[str, dict[str, Any]] = {}
    runs["fcn"] = _entry("fcn", outdir / "fcn", train_run(
        outdir / "fcn", fcn_train, None, table, progress, overwrite), fcn_train, None)
    for lam in lambdas:
        name = f"ann_lambda_{_lambda_name(lam)}"
        adv = ann_adv.replace(lam=lam)
        report = train_run(outdir / name, ann_train, adv, table, progress, overwrite)
        runs[name] = _entry(name, outdir / name, report, ann_train, adv)
    ann_name = f"ann_lambda_{_lambda_name(ann_adv.lam)}"

    image: dict[str, str] = {}
    if plan.image_config is not None:
        img_train, img_adv = load(plan.image_config)
        if img_adv is None:
            raise EventLensError(f"{plan.image_config} has no adversary block")
        img_epochs = img_train.epochs
        img_train = _override(img_train, table_path, plan.image_epochs, plan.image_limits)
        img_adv = scale_phases(img_adv, img_epochs, img_train.epochs)
        img_adv.check_against(img_train)
        for name, adv in (("cnn", img_adv.replace(lam=0.0)), ("cnn_ann", img_adv)):
            report = train_run(outdir / name, img_train, adv, table, progress, overwrite)
            runs[name] = _entry(name, outdir / name, report, img_train, adv)
        image = {"plain": "cnn", "adversarial": "cnn_ann"}

    results: dict[str, Any] = {
        "table": str(table_path),
        "n_events_table": len(table),
        "classes": table.classes,
        "configs": {"fcn": str(plan.fcn_config), "ann": str(plan.ann_config),
                    "image": str(plan.image_config) if plan.image_config else None},
        "comparison": {"fcn": "fcn", "ann": ann_name, "image": image or None},
        "runs": runs,
        "reference": mass_reference_of_runs({n: r["run_dir"] for n, r in runs.items()}),
        "lambda_scan": [_scan_point(runs[f"ann_lambda_{_lambda_name(lam)}"], lam)
                        for lam in lambdas],
        "summary": _summary(runs["fcn"], runs[ann_name]),
        "summary_lambda0_baseline": _summary(runs["ann_lambda_0"], runs[ann_name]),
    }
    if image:
        results["summary_image"] = _summary(runs["cnn"], runs["cnn_ann"])
    samples = None
    if plan.fit:
        samples = add_fits(results, table, plan)
    if plan.export is not None:
        results["export"] = export_classifier(outdir / ann_name, plan.export, runs[ann_name])
    from .plots import plot_fits, plot_study

    figures = plot_study(results, outdir / "figures")
    if samples is not None:
        figures += plot_fits(results, samples, outdir / "figures")
    results["figures"] = [str(p) for p in figures]
    write_json(outdir / RESULTS, results)
    with atomic_path(outdir / "results.md") as tmp:
        tmp.write_text(markdown(results))
    log.info("results: %s, %s", outdir / RESULTS, outdir / "results.md")
    return results


def add_fits(results: dict[str, Any], table: ObjectTable, plan: StudyPlan) -> Any:
    """The background-fit measures (:mod:`.spurious`) of every run into ``results``:
    ``runs[name]["fit"]`` and ``fit_summary``.  Returns the events (for the figures)."""
    from .spurious import compare, inclusive_fit, run_fit, sample_agreement, study_samples

    runs = results["runs"]
    fit_table = read_table(plan.fit_table) if plan.fit_table is not None else None
    samples = study_samples({n: r["run_dir"] for n, r in runs.items()}, table, fit_table,
                            plan.lumi_pb, plan.fit_normalisation)
    for name in runs:
        log.info("%s: background fits", name)
        runs[name]["fit"] = run_fit(samples.signal[name], samples.background[name],
                                    samples.check[name])
    comp = results["comparison"]
    fits = {n: r["fit"] for n, r in runs.items()}
    summary: dict[str, Any] = {
        "samples": samples.info,
        "definitions": FIT_DEFINITIONS,
        "hypothesis": compare(fits, comp["fcn"], comp["ann"]),
        "lambda_scan": {n: compare(fits, comp["fcn"], n) for n in runs
                        if n.startswith("ann_lambda_")},
        "best": {n: {"eps_s": f["best"], **({k: f["working_points"][f["best"]].get(k) for k in
                     ("expected_significance", "expected_significance_range",
                      "expected_significance_no_systematic", "spurious_verdict",
                      "passes_spurious_criterion")} if f["best"] else {})}
                 for n, f in fits.items()},
    }
    if comp.get("image"):
        summary["image"] = compare(fits, comp["image"]["plain"], comp["image"]["adversarial"])
    log.info("inclusive category (no cut): background fit")
    summary["inclusive"] = inclusive_fit(samples)
    summary["statistical_floor"] = statistical_floor(results, samples)
    if fit_table is not None:
        summary["fit_sample_vs_test_split"] = {
            n: sample_agreement(samples.background[n], samples.check[n],  # type: ignore[arg-type]
                                {k: wp["cut"] for k, wp in fits[n]["working_points"].items()})
            for n in runs}
    results["fit_summary"] = summary
    return samples


def statistical_floor(results: dict[str, Any], samples: Any) -> dict[str, Any]:
    """How precise the background simulation makes the spurious-signal test: its
    equivalent luminosity L_MC = L·n_eff/yield, the σ_MC/σ_stat that implies (√(L/L_MC)
    for uniform weights) and the ratio measured in every fitted category."""
    import numpy as np

    from .spurious import Events

    main = samples.fit_background or samples.table_background
    assert isinstance(main, Events)
    w = main.weight
    n_eff = float(w.sum() ** 2 / (w * w).sum())
    lumi = samples.info["luminosity_pb"]
    l_mc = lumi * n_eff / float(w.sum())
    ratios = [wp["spurious_signal_mc_error"] / wp["stat_error"]
              for run in results["runs"].values()
              for wp in run["fit"]["working_points"].values()
              if "skipped" not in wp and wp["stat_error"] > 0]
    return {"n_effective": n_eff, "equivalent_luminosity_pb": l_mc,
            "expected_mc_over_stat": float(np.sqrt(lumi / l_mc)),
            "measured_mc_over_stat": {"median": float(np.median(ratios)),
                                      "min": float(np.min(ratios)),
                                      "max": float(np.max(ratios))} if ratios else None,
            "luminosity_for_mc_over_stat_0p1_pb": lumi * 100.0,
            "note": "deciding |S_spur| < 0.2 sigma_stat at 2 sigma_MC needs sigma_MC <= 0.1 "
                    "sigma_stat, i.e. L_MC >= 100 L"}


FIT_DEFINITIONS = {
    "category": "test-split events with score > cut; the cut gives the signal efficiency eps_s",
    "expected_signal": "weighted H->yy test-split events in the category, scaled to the "
                       "luminosity and by 1/(test share of the signal weight)",
    "background": "the background simulation of the fit (fit_table if given, else the "
                  "test split), weighted to the luminosity",
    "fit": "binned (0.5 GeV, 100-180 GeV) extended likelihood, Bohm-Zech effective counts for "
           "weighted simulation, iminuit; signal: double-sided Crystal Ball fitted to the "
           "category's signal, frozen in S+B fits",
    "background_function": "Bernstein order by F-test (2 dNLL > 3.84), then the lowest "
                           "AIC among exponential, power law and that Bernstein",
    "spurious_signal": "fitted signal yield of an S+B fit to the background-only simulation "
                       "(at the luminosity); spurious_signal_mc_error is its statistical "
                       "uncertainty from the simulation's size",
    "stat_error": "expected statistical uncertainty on the fitted signal yield for data at "
                  "the luminosity (background-only Asimov, background parameters free)",
    "passes_spurious_criterion": "|S_spur| < 0.2 stat_error or |S_spur| < 0.1 expected_signal",
    "spurious_verdict": "pass if |S_spur| + 2 mc_error < threshold, fail if |S_spur| - "
                        "2 mc_error > threshold, else undecided (threshold = the larger of the "
                        "two criterion values)",
    "passes_relaxed_criterion": "ATLAS's relaxed form: max(0, |S_spur| - 2 mc_error) < threshold",
    "expected_significance": "Asimov Z = sqrt(q0) for S+B data, background profiled, the "
                             "spurious signal a signal-shaped term theta*|S_spur|, "
                             "theta ~ N(0, 1)",
    "expected_significance_range": "Z at |S_spur| + mc_error and at max(0, |S_spur| - "
                                   "mc_error): the statistical range of the systematic",
}


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.1f}"


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables (written beside results.json; never typed by hand)."""
    lines = [
        "# H → γγ: FCN vs adversarial classifier (generated by `eventlens hgg-study`)", "",
        f"Table `{results['table']}`, {results['n_events_table']} events; test split only. "
        "JSD in bits between the unit-area background m_γγ histograms (100–180 GeV, 2 GeV bins, "
        "physics weights) before and after the cut; rejection = 1/ε_B; 'floor' = mean JSD of "
        "random background subsets of the passing size (statistical limit).", "",
        "| run | λ | AUC | AUC 120–130 GeV | JSD 50 % (floor) | JSD 30 % (floor) | "
        "JSD 10 % (floor) | 1/ε_B 50 % | 1/ε_B 30 % | 1/ε_B 10 % | dCor(D, m) bkg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ref = results.get("reference")
    if ref:
        window = ref["windows"].get(window_key(SIGNAL_WINDOW)) or {}
        lines.append("| m_γγ alone (likelihood ratio) | - | " + _fmt(ref["auc_mass_only"], 4)
                     + " | " + _fmt(window.get("auc_mass_only"), 4) + " |" + " - |" * 7)
    for name, run in results["runs"].items():
        r = run["report"]
        wp = r["working_points"]
        lam = "-" if run["lambda"] is None else f"{run['lambda']:g}"
        cells = [name, lam, _fmt(r["auc"], 4), _fmt(r.get("auc_signal_window"), 4)]
        effs = ("0.5", "0.3", "0.1")
        cells += [f"{_fmt(wp[e]['jsd'])} ({_fmt(wp[e]['jsd_random_cut'])})" for e in effs]
        cells += [_fmt(wp[e]["background_rejection"]) for e in effs]
        cells.append(_fmt(r["distance_correlation_background"]))
        lines.append("| " + " | ".join(cells) + " |")
    s = results["summary"]
    t = s["target"]
    lines += [
        "", f"Sculpting target of the adversarial issue (ANN `{s['adversarial']}` vs "
        f"`{s['baseline']}`; the background fit below replaces its AUC part): JSD at "
        f"ε_S = 50 % down ≥ {t['jsd_ratio_at_0.5_min']:g}× — measured "
        f"{_fmt(s['jsd_0.5']['ratio'])}× "
        f"({'met' if t['jsd_ratio_met'] else 'not met'}); AUC loss ≤ {t['auc_loss_max']:g} — "
        f"measured {_fmt(s['auc']['loss'])} ({'met' if t['auc_loss_met'] else 'not met'})."
        + (" " + _reference_sentence(ref, s["baseline"], s["adversarial"]) if ref else ""), "",
    ]
    if ref:
        lines += _window_table(results, ref)
    if "fit_summary" in results:
        lines += fit_markdown(results)
    return "\n".join(lines)


def _pm(v: float | None, e: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}g} ± {e:.2g}" if e is not None else f"{v:.{digits}g}"


def _z(wp: dict[str, Any]) -> str:
    z, r = wp.get("expected_significance"), wp.get("expected_significance_range")
    if z is None:
        return "-"
    return f"{z:.2f} [{min(r):.2f}, {max(r):.2f}]" if r else f"{z:.2f}"


def _yes(v: bool | None) -> str:
    return "-" if v is None else "yes" if v else "no"


def fit_markdown(results: dict[str, Any]) -> list[str]:
    """The background-fit section of results.md (spurious signal, significance)."""
    fs = results["fit_summary"]
    info = fs["samples"]
    lumi = info["luminosity_pb"] / 1000.0
    if info.get("fit_table"):
        norm = ("to the training table" if info["normalisation"] == "table"
                else "by its own σ")
        source = (f"the background-only sample `{info['fit_table']}` "
                  f"({info['fit_table_background_events']} selected γγ events, normalised "
                  f"{norm}"
                  f": {info['background_yield_table']:.4g} events at {lumi:g} fb⁻¹ before any "
                  f"cut; its own σ·L gives {info['fit_table_background_yield_own']:.4g}), "
                  "scored by every classifier; the test split's background is the cross-check")
        missing = info.get("background_datasets_missing_from_fit_table")
        if missing:
            source += (" — **background datasets of the table absent from the fit sample "
                       "(not in the fit)**: " + ", ".join(f"{d} ({y:.4g} events)"
                                                         for d, y in missing.items()))
    else:
        source = "the test split's background"
    lines = [
        f"## Background fit: spurious signal and expected significance ({lumi:g} fb⁻¹)", "",
        f"Categories: test-split events with score > cut at ε_S = 70, 50, 30, 10 %. Background "
        f"simulation: {source}. Binned likelihood (0.5 GeV bins, 100–180 GeV; Bohm–Zech "
        "effective counts for the weighted simulation), signal = double-sided Crystal Ball "
        "fitted to the category's H → γγ events; background function: "
        + fs["definitions"]["background_function"] + ". S_spur = signal yield fitted to the "
        "background-only simulation (± its simulation-statistics error σ_MC); σ_stat = "
        "expected statistical error of the signal yield in data at this luminosity (Asimov); "
        "criterion |S_spur| < 0.2 σ_stat or < 0.1 S_exp; verdict with ±2σ_MC: pass / fail / "
        "undecided. Z = Asimov significance with |S_spur| as a systematic on the signal "
        "yield ([Z at |S_spur| ± σ_MC]); 'Z no syst' without it. Only prompt γγ background "
        "(no γ+jet, jet+jet fakes); cross-sections are Pythia's LO ones.", "",
        "| run | ε_S | S_exp | B | function | S_spur ± σ_MC | S_spur/σ_stat | S_spur/S_exp | "
        "passes | verdict (±2σ_MC) | Z [range] | Z no syst | cross-check S_spur (test split) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    inc = fs.get("inclusive")
    if inc and "skipped" not in inc:
        cc = inc.get("cross_check")
        lines.append(
            f"| all selected (no cut) | 100 % | {inc['expected_signal']:.1f} | "
            f"{inc['background_yield']:.0f} | {inc['background_function']['chosen']} | "
            f"{_pm(inc['spurious_signal'], inc['spurious_signal_mc_error'])} | "
            f"{_pm(inc['spurious_over_stat'], inc['spurious_over_stat_mc_error'])} | "
            f"{_pm(inc['spurious_over_expected'], inc['spurious_over_expected_mc_error'])} | "
            f"{_yes(inc['passes_spurious_criterion'])} | {inc['spurious_verdict']} | "
            f"{_z(inc)} | {inc['expected_significance_no_systematic']:.2f} | "
            + (_pm(cc["spurious_signal"], cc["mc_error"])
               + (f" (pull {cc['pull_vs_main']:+.1f}, all table background)"
                  if cc.get("pull_vs_main") is not None else "") if cc else "-") + " |")
    for name, run in results["runs"].items():
        fit = run.get("fit") or {}
        for key, wp in fit.get("working_points", {}).items():
            if "skipped" in wp:
                lines.append(f"| {name} | {100 * float(key):.0f} % | {wp['expected_signal']:.1f} "
                             f"| {wp['background_yield']:.0f} | {wp['skipped']} |"
                             + " - |" * 9)
                continue
            cc = wp.get("cross_check")
            lines.append(
                f"| {name} | {100 * float(key):.0f} % | {wp['expected_signal']:.1f} | "
                f"{wp['background_yield']:.0f} | {wp['background_function']['chosen']} | "
                f"{_pm(wp['spurious_signal'], wp['spurious_signal_mc_error'])} | "
                f"{_pm(wp['spurious_over_stat'], wp['spurious_over_stat_mc_error'])} | "
                f"{_pm(wp['spurious_over_expected'], wp['spurious_over_expected_mc_error'])} | "
                f"{_yes(wp['passes_spurious_criterion'])} | {wp['spurious_verdict']} | "
                f"{_z(wp)} | {wp['expected_significance_no_systematic']:.2f} | "
                + (_pm(cc["spurious_signal"], cc["mc_error"])
                   + (f" (pull {cc['pull_vs_main']:+.1f})" if cc.get("pull_vs_main") is not None
                      else "") if cc else "-") + " |")
    floor = fs.get("statistical_floor")
    if floor:
        m = floor["measured_mc_over_stat"] or {}
        lines += ["", f"Statistical floor: the background simulation is worth "
                  f"{floor['equivalent_luminosity_pb'] / 1000:.3g} fb⁻¹ "
                  f"({floor['n_effective']:.0f} effective events), so σ_MC ≈ √(L/L_MC) σ_stat = "
                  f"{floor['expected_mc_over_stat']:.2f} σ_stat (measured in the categories: "
                  f"median {m.get('median', float('nan')):.2f}, {m.get('min', float('nan')):.2f}–"
                  f"{m.get('max', float('nan')):.2f}). A verdict 'pass' on the 0.2 σ_stat "
                  "criterion at ±2σ_MC would need σ_MC ≤ 0.1 σ_stat, i.e. a background "
                  f"simulation of ≥ {floor['luminosity_for_mc_over_stat_0p1_pb'] / 1000:.0f} fb⁻¹; "
                  "below that only the 10 % S_exp criterion (or a clear fail) can be decided."]
    lines += ["", "Best working point of each classifier (highest Z with the systematic):", "",
              "| run | λ | best ε_S | Z [range] | Z no syst | S_spur verdict |",
              "|---|---|---|---|---|---|"]
    for name, best in fs["best"].items():
        lam = results["runs"][name]["lambda"]
        if best["eps_s"] is None:
            lines.append(f"| {name} | {'-' if lam is None else f'{lam:g}'} | - | - | - | - |")
            continue
        lines.append(
            f"| {name} | {'-' if lam is None else f'{lam:g}'} | {100 * float(best['eps_s']):.0f} % "
            f"| {_z(best)} | {best['expected_significance_no_systematic']:.2f} | "
            f"{best['spurious_verdict']} |")
    lines += ["", hypothesis_sentence(fs["hypothesis"]), ""]
    if "image" in fs:
        lines += [hypothesis_sentence(fs["image"]), ""]
    if "fit_sample_vs_test_split" in fs:
        lines += [
            "Fit sample vs the test split's background (same process, the fit sample without "
            "multiparton interactions): per cut, the background efficiency ε_B, the fraction of "
            "the passing background in 120–130 GeV, and the two-sample χ² of the m_γγ shapes "
            "(10 GeV bins); pulls and χ² with the pooled-fraction errors of the effective counts.",
            "",
            "| run | cut | ε_B fit sample | ε_B test split | pull | 120–130 fraction fit sample "
            "| test split | pull | shape χ²/ndof (p) | events fit / test |",
            "|---|---|---|---|---|---|---|---|---|---|"]
        for name, agree in fs["fit_sample_vs_test_split"].items():
            for key, c in agree["cuts"].items():
                cut = "none" if key == "none" else f"ε_S {100 * float(key):.0f} %"
                e, w, sh = c["eps_b"], c["window_fraction"], c["shape"]
                chi = ("-" if sh["chi2"] is None else
                       f"{sh['chi2']:.1f}/{sh['ndof']} ({sh['p_value']:.2f})")
                lines.append(
                    f"| {name} | {cut} | {_pm(e['fit_sample'], None, 4)} | "
                    f"{_pm(e['test_split'], None, 4)} | {_pm(e['pull'], None, 2)} "
                    f"| {_pm(w['fit_sample'], None, 3)} | {_pm(w['test_split'], None, 3)} | "
                    f"{_pm(w['pull'], None, 2)} | {chi} | {c['n_events']['fit_sample']} / "
                    f"{c['n_events']['test_split']} |")
        lines.append("")
    agree = (inc or {}).get("agreement_with_table")
    if agree:
        c = agree["cuts"]["none"]
        w, sh = c["window_fraction"], c["shape"]
        lines += [
            f"Before any cut, the fit sample ({c['n_events']['fit_sample']} events) against every "
            f"background event of the training table ({c['n_events']['test_split']}, all splits, "
            f"with multiparton interactions): fraction in 120–130 GeV {w['fit_sample']:.4f} vs "
            f"{w['test_split']:.4f} (pull {w['pull']:+.2f}); shape χ² {sh['chi2']:.1f}/"
            f"{sh['ndof']} (p = {sh['p_value']:.2f}).", ""]
    return lines


def hypothesis_sentence(h: dict[str, Any]) -> str:
    """The issue's hypothesis for one pair, in words, from the measured numbers."""
    if "adversarial_at_best" not in h:
        return f"`{h['adversarial']}` vs `{h['baseline']}`: {h.get('reason', 'not decided')}."
    a, b, bb = h["adversarial_at_best"], h["baseline_at_same_eps_s"], h["baseline_at_its_best"]
    eps = 100 * float(h["adversarial_best_eps_s"])

    def spur(wp: dict[str, Any]) -> str:
        return (f"S_spur = {_pm(wp['spurious_signal'], wp['spurious_signal_mc_error'])} "
                f"({_pm(wp['spurious_over_stat'], None)} σ_stat, "
                f"{_pm(100 * wp['spurious_over_expected'], None)} % of S_exp; "
                f"{'passes' if wp['passes_spurious_criterion'] else 'fails'}, "
                f"verdict with ±2σ_MC: {wp['spurious_verdict']})")

    return (
        f"Hypothesis, `{h['adversarial']}` vs `{h['baseline']}`: at its best working point "
        f"(ε_S = {eps:.0f} %) `{h['adversarial']}` has {spur(a)}; `{h['baseline']}` at the same "
        f"ε_S has {spur(b)}. Best Z with the spurious-signal systematic: "
        f"`{h['adversarial']}` {_z(a)}, `{h['baseline']}` {_z(bb)} (at ε_S = "
        f"{100 * float(h['baseline_best_eps_s']):.0f} %). Passes where the baseline fails: "
        f"{_yes(h['passes_where_baseline_fails'])} (with the ±2σ_MC verdicts: "
        f"{_yes(h['passes_where_baseline_fails_with_mc_precision'])}); Z ≥ baseline's: "
        f"{_yes(h['significance_at_least_baseline'])} (ranges: "
        f"{h['significance_at_least_baseline_within_ranges']}). Hypothesis "
        f"{'holds' if h['hypothesis_holds'] else 'does not hold'} on the central values.")


def _window_label(window: dict[str, Any]) -> str:
    lo, hi = window["range_gev"]
    return f"{lo:g}–{hi:g} GeV"


def _reference_sentence(ref: dict[str, Any], base: str, ann: str) -> str:
    """The measured mass-only numbers behind the target (generated from ``reference``)."""
    above = ref["auc_above_mass_only"]
    narrow = min(ref["windows"].values(),
                 key=lambda w: 1.0 if w["auc_mass_only"] is None else w["auc_mass_only"])
    return (
        f"m_γγ alone (1 GeV likelihood ratio, same test events and weights) gives AUC "
        f"{_fmt(ref['auc_mass_only'], 4)}; the AUC above the mass-only AUC is "
        f"{_fmt(above[base], 3)} for `{base}` and {_fmt(above[ann], 3)} for `{ann}`. "
        f"In {_window_label(narrow)} ({_fmt(100 * narrow['signal_fraction'], 3)} % of the "
        f"signal, {narrow['n_background']} background test events), where m_γγ alone gives "
        f"{_fmt(narrow['auc_mass_only'], 3)}, `{base}` has AUC {_fmt(narrow['auc'][base], 3)} "
        f"and `{ann}` {_fmt(narrow['auc'][ann], 3)}.")


def _window_table(results: dict[str, Any], ref: dict[str, Any]) -> list[str]:
    """Every run's AUC in the narrow m_γγ windows, under the mass-only AUC there."""
    windows = list(ref["windows"].values())
    lines = [
        "## AUC in narrow m_γγ windows", "",
        "Test events with lo ≤ m_γγ ≤ hi only (physics weights). 'm_γγ alone' = AUC of the "
        "signal/background likelihood ratio of the weighted m_γγ histograms (1 GeV bins, "
        "in-sample): how much the mass itself still separates in the window. "
        + "; ".join(f"{_window_label(w)}: {_fmt(100 * w['signal_fraction'], 3)} % of the "
                    f"signal, {w['n_signal']} signal / {w['n_background']} background events"
                    for w in windows) + ".", "",
        "| run | λ | AUC | " + " | ".join(f"AUC {_window_label(w)}" for w in windows) + " |",
        "|---|---|---|" + "---|" * len(windows),
        "| m_γγ alone | - | " + _fmt(ref["auc_mass_only"], 4) + " | "
        + " | ".join(_fmt(w["auc_mass_only"], 4) for w in windows) + " |",
    ]
    for name, run in results["runs"].items():
        lam = "-" if run["lambda"] is None else f"{run['lambda']:g}"
        lines.append(f"| {name} | {lam} | {_fmt(run['report']['auc'], 4)} | "
                     + " | ".join(_fmt(w["auc"].get(name), 4) for w in windows) + " |")
    return [*lines, ""]


def _entry(name: str, rundir: Path, report: dict[str, Any], train: TrainConfig,
           adv: AdversaryConfig | None) -> dict[str, Any]:
    import json

    history = json.loads((rundir / "history.json").read_text())
    return {
        "name": name,
        "run_dir": str(rundir),
        "model": train.model,
        "input_kind": train.input_kind,
        "lambda": adv.lam if adv else None,
        "adversary": adv.to_dict() if adv else None,
        "epochs_trained": len(history),
        "seed": train.seed,
        "report": report,
        "history": history,
    }


def _scan_point(run: dict[str, Any], lam: float) -> dict[str, Any]:
    r = run["report"]
    return {
        "lambda": lam,
        "run": run["name"],
        "auc": r["auc"],
        "auc_signal_window": r.get("auc_signal_window"),
        "auc_mass_windows": r.get("auc_mass_windows"),
        "distance_correlation_background": r["distance_correlation_background"],
        **{f"{k}_{key}": wp[key] for k, wp in r["working_points"].items()
           for key in ("jsd", "inverse_jsd", "background_rejection", "jsd_random_cut")},
    }


def _summary(base: dict[str, Any], ann: dict[str, Any]) -> dict[str, Any]:
    """The issue's target: JSD at ε_S = 50 % down ≥ 5×, AUC down ≤ 0.03."""
    b, a = base["report"], ann["report"]
    out: dict[str, Any] = {"baseline": base["name"], "adversarial": ann["name"],
                           "auc": {"baseline": b["auc"], "adversarial": a["auc"],
                                   "loss": b["auc"] - a["auc"]},
                           "auc_signal_window": {"baseline": b.get("auc_signal_window"),
                                                 "adversarial": a.get("auc_signal_window")}}
    for eff in b["working_points"]:
        jb, ja = b["working_points"][eff]["jsd"], a["working_points"][eff]["jsd"]
        out[f"jsd_{eff}"] = {"baseline": jb, "adversarial": ja,
                             "ratio": (jb / ja) if jb is not None and ja else None,
                             "random_cut_floor": a["working_points"][eff]["jsd_random_cut"]}
        out[f"background_rejection_{eff}"] = {
            "baseline": b["working_points"][eff]["background_rejection"],
            "adversarial": a["working_points"][eff]["background_rejection"]}
    ratio = out["jsd_0.5"]["ratio"]
    out["target"] = {
        "jsd_ratio_at_0.5_min": TARGET_JSD_RATIO, "auc_loss_max": TARGET_AUC_LOSS,
        "jsd_ratio_met": bool(ratio is not None and ratio >= TARGET_JSD_RATIO),
        "auc_loss_met": bool(out["auc"]["loss"] <= TARGET_AUC_LOSS),
    }
    out["target"]["met"] = out["target"]["jsd_ratio_met"] and out["target"]["auc_loss_met"]
    return out


def publish(outdir: str | Path, target: str | Path) -> list[Path]:
    """Copy a finished study's ``results.json``, ``results.md`` and ``figures/*.png`` into
    ``target`` (each file atomically; other files there, e.g. a README, are kept)."""
    outdir, target = Path(outdir), Path(target)
    files = [outdir / RESULTS, outdir / "results.md", *sorted((outdir / "figures").glob("*.png"))]
    missing = [str(f) for f in files[:2] if not f.exists()]
    if missing:
        raise EventLensError(f"publish: {', '.join(missing)} missing; run the study first")
    written = []
    for f in files:
        dest = target / f.relative_to(outdir)
        with atomic_path(dest) as tmp:
            tmp.write_bytes(f.read_bytes())
        written.append(dest)
    return written


def export_classifier(rundir: Path, output: Path, run: dict[str, Any]) -> dict[str, Any]:
    """ONNX-export the ANN's classifier (not the adversary) with the standard card, plus a
    ``decorrelation`` section (λ, adversary, test-split sculpting) in the card."""
    from ..export import export_checkpoint
    from ..modelcard import card_path

    card = export_checkpoint(rundir / BEST, output)
    r = run["report"]
    card = dataclasses.replace(card, decorrelation={
        "method": "adversarial (gradient reversal), L = L_clf - lambda * L_adv; the adversary "
                  "(not exported) predicts m_yy from the signal probability on background events",
        "adversary": run["adversary"],
        "test": {"auc": r["auc"], "working_points": r["working_points"],
                 "definitions": r["definitions"]},
    })
    card.write(output)
    return {"onnx": str(output), "card": str(card_path(output)),
            "max_abs_diff": card.onnx.max_abs_diff}


def scores_of(results: dict[str, Any], name: str) -> dict[str, Any]:
    """Test-split scores of a run of a study (for the figures)."""
    return test_scores(results["runs"][name]["run_dir"])


def parse_lambdas(values: Sequence[str]) -> tuple[float, ...]:
    out = []
    for v in values:
        for part in str(v).split(","):
            if part.strip():
                out.append(float(part))
    if any(x < 0 for x in out):
        raise EventLensError(f"lambda values must be >= 0, got {out}")
    return tuple(out)
