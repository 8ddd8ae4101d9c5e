"""Mass spectra per predicted class, confusion matrices and ROC curves from the
inference histograms (:mod:`eventlens.inference.hists`).

Simulation is stacked by true process; (pseudo-)data is drawn as points with
Poisson errors and compared with the stack in a ratio panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hist
import numpy as np

from ..training.metrics import auc, roc_curve
from .labels import mpl_label
from .style import cms_label, pyplot, save


def _present(h: hist.Hist, datasets: Sequence[str]) -> list[str]:
    """The datasets that have a category in ``h`` (datasets with no selected event have none)."""
    have = set(h.axes["dataset"])
    return [d for d in datasets if d in have]


def _project(h: hist.Hist, datasets: Sequence[str], predicted: str | None) -> hist.Hist | None:
    present = _present(h, datasets)
    if not present:
        return None
    sel = sum(h[{"dataset": hist.loc(d), "truth": sum}] for d in present)
    return (
        sel[{"predicted": hist.loc(predicted)}]
        if predicted is not None
        else sel[{"predicted": sum}]
    )


def plot_mass_per_class(
    h: hist.Hist,
    groups: Mapping[str, Sequence[str]],
    path_prefix: str | Path,
    data: Sequence[str] = (),
    data_label: str = "Pseudo-data",
    lumi: float | None = None,
    real_data: bool = False,
    xlabel: str | None = None,
) -> list[Path]:
    """One figure per predicted class (and one for all events): stacked simulation
    by process group, data points with a data/simulation ratio when present.

    ``groups`` maps a legend entry (a process) to its datasets; ``xlabel`` is the
    mass axis title (:func:`~eventlens.plotting.labels.mass_axis_label`), by
    default the histogram's.
    """
    plt = pyplot()
    import mplhep as hep

    xlabel = h.axes["mass"].label if xlabel is None else xlabel
    written: list[Path] = []
    for predicted in [*h.axes["predicted"], None]:
        stack = {name: _project(h, ds, predicted) for name, ds in groups.items()}
        stack = {k: v for k, v in stack.items() if v is not None}
        observed = _project(h, data, predicted) if data else None
        if observed is not None:
            fig, (ax, rax) = plt.subplots(
                2,
                1,
                figsize=(10, 10),
                sharex=True,
                gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05},
            )
        else:
            fig, ax = plt.subplots(figsize=(10, 8))
            rax = None
        if stack:
            hep.histplot(
                list(stack.values()),
                label=[mpl_label(k) for k in stack],
                stack=True,
                histtype="fill",
                ax=ax,
                flow="none",
            )
        if observed is not None:
            hep.histplot(
                observed,
                histtype="errorbar",
                color="black",
                label=mpl_label(data_label),
                ax=ax,
                yerr=np.sqrt(observed.variances()),
                flow="none",
            )
            total = sum(stack.values()) if stack else None
            if total is not None and rax is not None:
                _ratio_panel(rax, observed, total)
                rax.set_xlabel(xlabel)
        ax.set_ylabel("Events / bin")
        ax.set_xlabel("" if rax is not None else xlabel)
        title = f"predicted: {mpl_label(predicted)}" if predicted is not None else "all events"
        ax.legend(title=title, fontsize=14)
        cms_label(ax, data=real_data, lumi=lumi)
        name = f"{Path(path_prefix).name}_predicted_{predicted or 'all'}"
        written += save(fig, Path(path_prefix).with_name(name))
    return written


def ratio_points(
    observed: np.ndarray, variances: np.ndarray, simulation: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Data/simulation ratio and its (data) error per bin; NaN, i.e. not drawn,
    where the simulation predicts nothing or no data event is seen."""
    observed, simulation = np.asarray(observed, float), np.asarray(simulation, float)
    shown = (simulation > 0) & (observed > 0)
    safe = np.where(shown, simulation, 1.0)
    ratio = np.where(shown, observed / safe, np.nan)
    err = np.where(shown, np.sqrt(np.asarray(variances, float)) / safe, np.nan)
    return ratio, err


def _ratio_panel(rax: Any, observed: hist.Hist, total: hist.Hist, top: float = 2.0) -> None:
    """Data / simulation points; a point above the panel is an arrow at its top edge."""
    x = observed.axes[0].centers
    ratio, err = ratio_points(observed.values(), observed.variances(), total.values())
    inside = ratio <= top
    rax.errorbar(x[inside], ratio[inside], yerr=err[inside], fmt="o", color="black")
    above = ratio > top
    if above.any():
        rax.plot(x[above], np.full(above.sum(), 0.93 * top), "^", color="black")
    rax.axhline(1.0, color="grey", linestyle="--")
    rax.set_ylim(0, top)
    rax.set_ylabel("Data / Sim.")


def confusion_from_hist(h: hist.Hist, datasets: Sequence[str] | None = None) -> np.ndarray:
    """Weighted (true class × predicted class) matrix of labelled events."""
    names = list(h.axes["dataset"]) if datasets is None else _present(h, datasets)
    if not names:
        return np.zeros((h.axes["predicted"].size,) * 2)
    per = sum(h[{"dataset": hist.loc(d), "mass": sum}] for d in names)
    classes = list(h.axes["predicted"])
    cm = np.zeros((len(classes), len(classes)))
    for t in per.axes["truth"]:
        if 0 <= t < len(classes):
            cm[t] += per[{"truth": hist.loc(t)}].values()
    return cm


def roc_from_hist(h: hist.Hist, cls: str) -> tuple[np.ndarray, np.ndarray, float]:
    """One-vs-rest ROC of class ``cls`` from the score histogram (bin edges as thresholds).

    Every score bin is one threshold: its signal and background contents enter
    :func:`eventlens.training.metrics.roc_curve` as two weighted "events" at
    the bin's index, so the curve is that of the binned scores.
    """
    classes = list(h.axes["cls"])
    k = classes.index(cls)
    per = h[{"dataset": sum, "cls": hist.loc(cls)}]
    sig = np.zeros(h.axes["score"].size)
    bkg = np.zeros_like(sig)
    for t in per.axes["truth"]:
        if t < 0:
            continue
        (sig if t == k else bkg)[:] += per[{"truth": hist.loc(t)}].values()
    bins = np.arange(sig.size, dtype=np.float64)
    fpr, tpr, _ = roc_curve(
        np.r_[bins, bins], np.r_[np.ones(sig.size, bool), np.zeros(sig.size, bool)], np.r_[sig, bkg]
    )
    return fpr, tpr, auc(fpr, tpr)


def plot_confusion(
    cm: np.ndarray, classes: Sequence[str], path: str | Path, normalised: bool
) -> list[Path]:
    plt = pyplot()
    matrix = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1e-300) if normalised else cm
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ticks = [mpl_label(c) for c in classes]
    ax.set_xticks(range(len(classes)), ticks, rotation=30)
    ax.set_yticks(range(len(classes)), ticks)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            f"{v:.2f}" if normalised else f"{v:.3g}",
            ha="center",
            va="center",
            color="white" if v > 0.6 * matrix.max() else "black",
            fontsize=12,
        )
    cms_label(ax)
    return save(fig, path)


def plot_roc(h: hist.Hist, path: str | Path) -> tuple[list[Path], dict[str, float]]:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 8))
    aucs = {}
    for cls in h.axes["cls"]:
        fpr, tpr, area = roc_from_hist(h, cls)
        aucs[cls] = area
        ax.plot(fpr, tpr, label=f"{mpl_label(cls)} (AUC {area:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.legend(fontsize=14)
    cms_label(ax)
    return save(fig, path), aucs
