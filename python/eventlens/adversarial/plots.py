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
