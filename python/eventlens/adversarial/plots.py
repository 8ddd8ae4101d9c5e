"""Figures of the H → γγ decorrelation study (mplhep, CMS style).

Every figure carries "CMS Simulation, Private work" (generated events, not CMS
data) through the shared ``plotting.style``.  Each function writes one PNG
atomically and returns its path.

* ``roc.png`` — ε_S vs background rejection 1/ε_B, FCN vs ANN (and the
  image variant), AUC in the legend;
* ``mass_D0p6.png`` — the seed's picture: the unit-area background m_γγ
  spectrum of all test events and of those with D > 0.6, FCN vs ANN;
* ``mass_score_cuts.png`` — the same for D > 0.2, 0.4, 0.6, 0.8;
* ``mass_working_points.png`` — the same at ε_S = 50, 30, 10 %;
* ``losses.png`` — training and validation losses (classifier, adversary,
  total) of both networks, with the phase boundaries;
* ``lambda_scan.png`` — 1/JSD vs background rejection at each working point,
  one point per λ, FCN (and CNN) on the same axes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..plotting.style import cms_label, pyplot, save
from ..training.metrics import roc_curve
from .sculpting import MASS_BINS, shape, threshold_at_efficiency

log = logging.getLogger(__name__)

_STYLE = {"fcn": ("FCN", "tab:red"), "ann": ("ANN", "tab:blue"),
          "cnn": ("CNN (images)", "tab:orange"), "cnn_ann": ("CNN + adversary", "tab:green")}


# Right-hand label text of the figures without a more specific one.
_PROCESS = r"H$\to\gamma\gamma$ vs $\gamma\gamma$"
# Smaller than the style's default: the multi-panel figures have long right-hand texts.
_LABEL_SIZE = 16


def _save(fig: Any, path: Path) -> Path:
    """PNG only: the study's results list these figures by their .png path."""
    return save(fig, path, ("png",))[0]


def _curves(results: dict[str, Any]) -> dict[str, str]:
    """Role → run name of the networks to compare (fcn, ann, cnn, cnn_ann)."""
    comp = results["comparison"]
    out = {"fcn": comp["fcn"], "ann": comp["ann"]}
    if comp.get("image"):
        out.update({"cnn": comp["image"]["plain"], "cnn_ann": comp["image"]["adversarial"]})
    return out


def _ann_label(results: dict[str, Any], role: str) -> str:
    name, _ = _STYLE[role]
    lam = results["runs"][_curves(results)[role]].get("lambda")
    return f"{name} (λ = {lam:g})" if role in ("ann", "cnn_ann") and lam is not None else name


def plot_roc(results: dict[str, Any], scores: dict[str, dict[str, np.ndarray]],
             path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 8))
    for role, name in _curves(results).items():
        t = scores[name]
        eps_b, eps_s, _ = roc_curve(t["score"], t["is_signal"], t["weight"])
        keep = eps_b > 0
        auc = results["runs"][name]["report"]["auc"]
        ax.plot(eps_s[keep], 1.0 / eps_b[keep], color=_STYLE[role][1],
                label=f"{_ann_label(results, role)}, AUC {auc:.3f}")
    for eff in (0.5, 0.3, 0.1):
        ax.axvline(eff, color="grey", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    ax.legend(fontsize=14, loc="upper right")
    cms_label(ax, rlabel=_PROCESS, fontsize=_LABEL_SIZE)
    return _save(fig, path)


def _mass_panel(ax: Any, results: dict[str, Any], scores: dict[str, dict[str, np.ndarray]],
                cut_of: Any, title: str, where: tuple[str, str]) -> None:
    import mplhep as hep

    first = scores[_curves(results)["fcn"]]
    bkg = ~first["is_signal"]
    hep.histplot(shape(first["mass"][bkg], first["weight"][bkg]), MASS_BINS, ax=ax,
                 histtype="fill", color="lightgrey", label="background, all")
    for role, name in _curves(results).items():
        t = scores[name]
        b = ~t["is_signal"]
        cut = cut_of(t)
        passed = b & (t["score"] > cut)
        if not passed.any():
            continue
        wp = results["runs"][name]["report"]
        jsd = (wp[where[0]].get(where[1]) or {}).get("jsd")
        text = f"{_ann_label(results, role)}" + (f", JSD {jsd:.3g}" if jsd is not None else "")
        hep.histplot(shape(t["mass"][passed], t["weight"][passed]), MASS_BINS, ax=ax,
                     color=_STYLE[role][1], lw=2, label=text)
    ax.set_xlabel(r"$m_{\gamma\gamma}$ [GeV]")
    ax.set_ylabel("fraction / 2 GeV")
    ax.set_xlim(MASS_BINS[0], MASS_BINS[-1])
    ax.set_ylim(0, None)
    ax.legend(fontsize=11, title=title, title_fontsize=12, loc="upper right")


def plot_mass_cuts(results: dict[str, Any], scores: dict[str, dict[str, np.ndarray]],
                   cuts: list[float], path: Path) -> Path:
    plt = pyplot()
    n = len(cuts)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(9 * cols, 7.5 * rows), squeeze=False)
    for ax, cut in zip(axes.flat, cuts, strict=False):
        _mass_panel(ax, results, scores, lambda t, c=cut: c, f"D > {cut:g}",
                    ("score_cuts", f"{cut:g}"))
        cms_label(ax, rlabel="background, test split", fontsize=_LABEL_SIZE)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def plot_mass_working_points(results: dict[str, Any], scores: dict[str, dict[str, np.ndarray]],
                             path: Path) -> Path:
    plt = pyplot()
    effs = (0.5, 0.3, 0.1)
    fig, axes = plt.subplots(1, 3, figsize=(27, 7.5))
    for ax, eff in zip(axes, effs, strict=True):
        def cut_of(t: dict[str, np.ndarray], e: float = eff) -> float:
            s = t["is_signal"]
            return threshold_at_efficiency(t["score"][s], t["weight"][s], e)

        _mass_panel(ax, results, scores, cut_of, f"ε_S = {100 * eff:.0f} %",
                    ("working_points", f"{eff:g}"))
        cms_label(ax, rlabel="background, test split", fontsize=_LABEL_SIZE)
    fig.tight_layout()
    return _save(fig, path)


def plot_losses(results: dict[str, Any], path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(27, 7.5))
    curves = _curves(results)
    titles = ("classifier loss", "adversary loss (NLL of $m_{\\gamma\\gamma}$)",
              "total loss $L_{clf} - \\lambda L_{adv}$")
    keys = ("clf_loss", "adv_loss", "total_loss")
    for ax, title, key in zip(axes, titles, keys, strict=True):
        for role in ("fcn", "ann"):
            hist = results["runs"][curves[role]]["history"]
            epochs = [h["epoch"] for h in hist]
            for split, ls in (("train", "-"), ("val", "--")):
                k = f"{split}_{key}" if role == "ann" or key != "clf_loss" else f"{split}_loss"
                values = [h.get(k) for h in hist]
                if all(v is None for v in values):
                    continue
                ax.plot(epochs, [np.nan if v is None else v for v in values], ls,
                        color=_STYLE[role][1], label=f"{_ann_label(results, role)}, {split}")
        hist = results["runs"][curves["ann"]]["history"]
        for i in range(1, len(hist)):
            if hist[i].get("phase") != hist[i - 1].get("phase"):
                ax.axvline(hist[i - 1]["epoch"] + 0.5, color="grey", ls=":", lw=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.legend(fontsize=12)
        cms_label(ax, rlabel="train (solid), validation (dashed)", fontsize=_LABEL_SIZE)
    fig.tight_layout()
    return _save(fig, path)


def plot_lambda_scan(results: dict[str, Any], path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(27, 8))
    for ax, eff in zip(axes, ("0.5", "0.3", "0.1"), strict=True):
        pts = results["lambda_scan"]
        x = [p[f"{eff}_background_rejection"] for p in pts]
        y = [p[f"{eff}_inverse_jsd"] for p in pts]
        ax.plot(x, y, "-o", color=_STYLE["ann"][1], label="ANN, λ scan")
        for p, xi, yi in zip(pts, x, y, strict=True):
            if xi is not None and yi is not None:
                ax.annotate(f"λ={p['lambda']:g}", (xi, yi), textcoords="offset points",
                            xytext=(6, 6), fontsize=12)
        extra = [("fcn", "*", 22)]
        if results["comparison"].get("image"):
            extra += [("cnn", "s", 12), ("cnn_ann", "D", 12)]
        curves = _curves(results)
        for role, marker, size in extra:
            wp = results["runs"][curves[role]]["report"]["working_points"][eff]
            ax.plot([wp["background_rejection"]], [wp["inverse_jsd"]], marker, ms=size,
                    color=_STYLE[role][1], ls="none", label=_ann_label(results, role))
        floor = [p[f"{eff}_jsd_random_cut"] for p in pts]
        if any(f for f in floor):
            ax.axhline(1.0 / float(np.nanmean([f for f in floor if f])), color="grey", ls=":",
                       label="random cut (statistical limit)")
        ax.set_yscale("log")
        ax.set_xlabel(rf"background rejection $1/\varepsilon_B$ at $\varepsilon_S$ = "
                      rf"{100 * float(eff):.0f} %")
        ax.set_ylabel("1 / JSD (background $m_{\\gamma\\gamma}$)")
        ax.legend(fontsize=12)
        cms_label(ax, rlabel=_PROCESS, fontsize=_LABEL_SIZE)
    fig.tight_layout()
    return _save(fig, path)


def plot_study(results: dict[str, Any], outdir: Path) -> list[Path]:
    """Every figure of the study into ``outdir``."""
    from .report import test_scores

    scores = {name: test_scores(results["runs"][name]["run_dir"])
              for name in _curves(results).values()}
    paths = [
        plot_roc(results, scores, outdir / "roc.png"),
        plot_mass_cuts(results, scores, [0.6], outdir / "mass_D0p6.png"),
        plot_mass_cuts(results, scores, [0.2, 0.4, 0.6, 0.8], outdir / "mass_score_cuts.png"),
        plot_mass_working_points(results, scores, outdir / "mass_working_points.png"),
        plot_losses(results, outdir / "losses.png"),
        plot_lambda_scan(results, outdir / "lambda_scan.png"),
    ]
    log.info("wrote %d figures to %s", len(paths), outdir)
    return paths


# --- background fits (issue 16) ---------------------------------------------------------------

_DISPLAY_REBIN = 4  # 0.5 GeV fit bins drawn as 2 GeV


def _fit_curves(wp: dict[str, Any]) -> dict[str, np.ndarray]:
    """Expected Σw per fit bin of the category's fits: B only, S+B (its B and its S), and
    the expected signal, from the parameters stored in the working point."""
    from . import bkgfit

    edges = bkgfit.FIT_EDGES
    dscb = bkgfit.DoubleCrystalBall()
    sv = wp["signal_shape"]["values"]
    signal = bkgfit.bin_fractions(
        lambda m: dscb.density(m, *(sv[f"sig_{p}"] for p in dscb.params)), edges)
    name = wp["background_function"]["chosen"]
    shape = bkgfit.shape_by_name(name)
    bonly = bkgfit.Fit(values=wp["background_fit"]["values"], errors={}, cost=0.0, n_free=0,
                       n_bins=0, valid=True, shapes={})
    sb_values = wp["spurious_by_function"][name]["values"]
    sb = bkgfit.Fit(values=sb_values, errors={}, cost=0.0, n_free=0, n_bins=0, valid=True,
                    shapes={})
    b_only = bkgfit.expected_bins(bonly, edges, {"bkg": shape})
    sb_b = bkgfit.expected_bins(sb, edges, {"sig": signal, "bkg": shape}, only=["bkg"])
    return {"b_only": b_only, "sb_b": sb_b, "sb_s": sb_values["n_sig"] * signal,
            "expected_signal": wp["expected_signal"] * signal}


def _rebin(v: np.ndarray) -> np.ndarray:
    return v.reshape(-1, _DISPLAY_REBIN).sum(axis=1)


def _fit_panel(ax: Any, rax: Any, wp: dict[str, Any], events: Any, label: str) -> None:
    import mplhep as hep

    from . import bkgfit

    edges = bkgfit.FIT_EDGES[::_DISPLAY_REBIN]
    passed = events.passing(wp["cut"])
    hist = bkgfit.Histogram.of(passed.mass, passed.weight)
    y, yerr = _rebin(hist.sumw), np.sqrt(_rebin(hist.sumw2))
    c = _fit_curves(wp)
    x = 0.5 * (edges[1:] + edges[:-1])
    b_only, sb = _rebin(c["b_only"]), _rebin(c["sb_b"] + c["sb_s"])
    hep.histplot(y, edges, yerr=yerr, ax=ax, histtype="errorbar", color="black",
                 label="γγ simulation after the cut")
    ax.step(edges, np.r_[b_only, b_only[-1]], where="post", color="tab:blue", lw=2,
            label=f"background-only fit ({wp['background_function']['chosen']})")
    ax.step(edges, np.r_[sb, sb[-1]], where="post", color="tab:red", lw=2, ls="--",
            label="S+B fit")
    sig = _rebin(c["expected_signal"]) + b_only
    ax.step(edges, np.r_[sig, sig[-1]], where="post", color="tab:green", lw=1.5, ls=":",
            label=f"+ expected H→γγ ({wp['expected_signal']:.0f})")
    ax.set_ylabel("events / 2 GeV")
    ax.set_ylim(0, None)
    text = (f"{label}, $\\varepsilon_S$ = {100 * wp['eps_s']:.0f} %\n"
            f"$S_{{spur}}$ = {wp['spurious_signal']:.0f} ± {wp['spurious_signal_mc_error']:.0f} "
            f"(sim. stat.)\n"
            f"$\\sigma_{{stat}}$ = {wp['stat_error']:.0f}, $S_{{exp}}$ = "
            f"{wp['expected_signal']:.0f}\n"
            f"$S_{{spur}}/\\sigma_{{stat}}$ = {wp['spurious_over_stat']:.2f}, "
            f"verdict: {wp['spurious_verdict']}")
    ax.legend(fontsize=11, title=text, title_fontsize=11, loc="upper right")
    rax.errorbar(x, y - b_only, yerr=yerr, fmt="o", color="black", ms=3)
    spur = _rebin(c["sb_b"] + c["sb_s"]) - b_only
    rax.step(edges, np.r_[spur, spur[-1]], where="post", color="tab:red", lw=2, ls="--")
    exp_s = _rebin(c["expected_signal"])
    rax.step(edges, np.r_[exp_s, exp_s[-1]], where="post", color="tab:green", lw=1.5, ls=":")
    rax.axhline(0, color="grey", lw=1)
    rax.set_ylabel("sim. − B fit")
    rax.set_xlabel(r"$m_{\gamma\gamma}$ [GeV]")
    rax.set_xlim(edges[0], edges[-1])


def plot_fit_working_point(results: dict[str, Any], samples: Any, key: str,
                           path: Path) -> Path | None:
    """m_γγ of the background simulation after the cut at ε_S = key, with the
    background-only and S+B fits and the residuals: FCN and ANN side by side."""
    plt = pyplot()
    curves = _curves(results)
    roles = [r for r in ("fcn", "ann") if "skipped" not in
             results["runs"][curves[r]]["fit"]["working_points"][key]]
    if not roles:
        return None
    fig, axes = plt.subplots(2, len(roles), figsize=(11 * len(roles), 11), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.2], "hspace": 0.05},
                             sharex="col")
    lumi = results["fit_summary"]["samples"]["luminosity_pb"]
    for col, role in enumerate(roles):
        name = curves[role]
        wp = results["runs"][name]["fit"]["working_points"][key]
        _fit_panel(axes[0, col], axes[1, col], wp, samples.background[name],
                   _ann_label(results, role))
        cms_label(axes[0, col], rlabel="13 TeV", lumi=lumi, fontsize=_LABEL_SIZE)
    return _save(fig, path)


def plot_significance(results: dict[str, Any], path: Path) -> Path:
    """Expected significance vs ε_S per classifier (with and without the spurious-signal
    systematic), and S_spur/σ_stat with its simulation error."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(22, 8.5))
    runs = results["runs"]
    ann_names = [n for n in runs if n.startswith("ann_lambda_")]
    cmap = plt.get_cmap("Blues")  # the λ scan light → dark; FCN red, CNNs orange/green
    colours = {n: cmap(0.35 + 0.65 * i / max(1, len(ann_names) - 1))
               for i, n in enumerate(ann_names)}
    colours.update({"fcn": _STYLE["fcn"][1], "cnn": _STYLE["cnn"][1],
                    "cnn_ann": _STYLE["cnn_ann"][1]})
    for k, (name, run) in enumerate(runs.items()):
        pts = [(float(key), wp) for key, wp in run["fit"]["working_points"].items()
               if "skipped" not in wp]
        if not pts:
            continue
        eff = np.array([100 * e for e, _ in pts])
        z = np.array([wp["expected_significance"] for _, wp in pts])
        lo = np.array([min(wp["expected_significance_range"]) for _, wp in pts])
        hi = np.array([max(wp["expected_significance_range"]) for _, wp in pts])
        z0 = np.array([wp["expected_significance_no_systematic"] for _, wp in pts])
        lam = run["lambda"]
        label = name if lam is None else f"{name} (λ = {lam:g})"
        colour = colours.get(name, f"C{k}")
        ax.errorbar(eff, z, yerr=[z - lo, hi - z], fmt="-o", color=colour, capsize=3,
                    label=label)
        ax.plot(eff, z0, ":", color=colour, lw=1.2)
        ratio = np.array([wp["spurious_over_stat"] for _, wp in pts])
        rerr = np.array([wp["spurious_over_stat_mc_error"] for _, wp in pts])
        bx.errorbar(eff + 0.6 * (k - len(runs) / 2), ratio, yerr=rerr, fmt="o", color=colour,
                    capsize=3, label=label)
    ax.set_xlabel(r"signal efficiency of the cut $\varepsilon_S$ [%]")
    ax.set_ylabel("expected significance Z (Asimov)")
    ax.set_ylim(0, None)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=13,
               bbox_to_anchor=(0.5, -0.1), title="solid: with the spurious signal as a "
               "systematic on the signal yield (bars: its simulation-statistics range); "
               "dotted: without", title_fontsize=13)
    for v in (-0.2, 0.2):
        bx.axhline(v, color="grey", ls="--", lw=1, label="±0.2 (criterion)" if v > 0 else None)
    bx.axhline(0, color="grey", lw=1)
    bx.set_yscale("symlog", linthresh=1.0)
    bx.set_xlabel(r"signal efficiency of the cut $\varepsilon_S$ [%]")
    bx.set_ylabel(r"$S_{spur}/\sigma_{stat}$ (± simulation statistics)")
    lumi = results["fit_summary"]["samples"]["luminosity_pb"]
    cms_label(ax, rlabel="13 TeV", lumi=lumi, fontsize=_LABEL_SIZE)
    cms_label(bx, rlabel="13 TeV", lumi=lumi, fontsize=_LABEL_SIZE)
    fig.tight_layout()
    return _save(fig, path)


def plot_fits(results: dict[str, Any], samples: Any, outdir: Path) -> list[Path]:
    """The background-fit figures: one per working point (FCN | ANN) and Z vs ε_S."""
    paths = []
    keys = results["runs"][_curves(results)["fcn"]]["fit"]["working_points"]
    for key in keys:
        p = plot_fit_working_point(results, samples, key,
                                   outdir / f"fit_eps{100 * float(key):.0f}.png")
        if p is not None:
            paths.append(p)
    paths.append(plot_significance(results, outdir / "significance.png"))
    log.info("wrote %d fit figures to %s", len(paths), outdir)
    return paths
