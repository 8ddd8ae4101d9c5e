"""Training and evaluation figures in the CMS style (mplhep).

Each function writes one PNG (atomically) and returns its path.  The label is
"CMS Simulation" — the inputs are generated events, not CMS data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..plotting.style import cms_label, pyplot, save

log = logging.getLogger(__name__)


def _setup() -> tuple[Any, Any]:
    import mplhep as hep

    return pyplot(), hep


def _label(hep: Any, ax: Any, rlabel: str) -> None:
    """ "CMS Simulation" on the left (generated events), the run's title on the right."""
    cms_label(ax, data=False, rlabel=rlabel, fontsize=18)


def _save(fig: Any, path: Path) -> Path:
    """PNG (returned) and PDF beside it, atomically; the figure is closed."""
    return save(fig, path)[0]


def plot_curves(
    history: Sequence[dict[str, Any]], key: str, ylabel: str, path: Path, title: str
) -> Path:
    """Train and validation ``key`` (e.g. loss, accuracy) per epoch."""
    plt, hep = _setup()
    fig, ax = plt.subplots(figsize=(9, 7))
    epochs = [h["epoch"] for h in history]
    for split, style in (("train", "-o"), ("val", "-s")):
        values = [h.get(f"{split}_{key}") for h in history]
        if any(v is not None for v in values):
            ax.plot(epochs, [np.nan if v is None else v for v in values], style, label=split)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    _label(hep, ax, title)
    return _save(fig, path)


def plot_confusion(
    cm: np.ndarray, classes: Sequence[str], path: Path, normalised: bool, title: str
) -> Path:
    """Confusion matrix, rows = true class; counts or row fractions."""
    plt, hep = _setup()
    cm = np.asarray(cm, dtype=np.float64)
    k = len(classes)
    fig, ax = plt.subplots(figsize=(2.2 * k + 4, 2.0 * k + 3))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if normalised else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    top = cm.max() if cm.size else 1
    for i in range(k):
        for j in range(k):
            text = f"{cm[i, j]:.1%}" if normalised else f"{int(cm[i, j])}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=14,
                color="white" if cm[i, j] > 0.5 * (1 if normalised else top) else "black",
            )
    ax.set_xticks(range(k), classes, rotation=30, ha="right")
    ax.set_yticks(range(k), classes)
    ax.minorticks_off()
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    _label(hep, ax, title)
    return _save(fig, path)


def plot_per_class(metrics: dict[str, Any], path: Path, title: str) -> Path:
    """Per-class accuracy (recall) and F1 as bars."""
    plt, hep = _setup()
    classes = metrics["classes"]
    acc = [metrics["per_class"][c]["accuracy"] for c in classes]
    f1 = [metrics["per_class"][c]["f1"] for c in classes]
    fig, ax = plt.subplots(figsize=(max(9, 1.6 * len(classes) + 4), 7))
    x = np.arange(len(classes))
    ax.bar(x - 0.2, acc, width=0.4, label="accuracy (recall)")
    ax.bar(x + 0.2, f1, width=0.4, label="F1")
    ax.set_xticks(x, classes, rotation=30, ha="right")
    ax.minorticks_off()
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("test split")
    ax.legend(ncols=2)
    _label(hep, ax, title)
    return _save(fig, path)


def plot_roc(metrics: dict[str, Any], path: Path, title: str) -> Path:
    """One-vs-rest ROC curves with their AUC."""
    plt, hep = _setup()
    fig, ax = plt.subplots(figsize=(9, 8))
    for name, curve in metrics["roc"].items():
        a = metrics["per_class"][name]["auc"]
        ax.plot(curve["fpr"], curve["tpr"], label=f"{name} vs rest (AUC {a:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=14)
    _label(hep, ax, title)
    return _save(fig, path)


def plot_all(
    metrics: dict[str, Any], history: Sequence[dict[str, Any]], outdir: Path, title: str
) -> list[Path]:
    """Every figure of a training run into ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    if history:
        paths.append(
            plot_curves(
                history, "loss", "loss (class-weighted cross entropy)", outdir / "loss.png", title
            )
        )
        paths.append(plot_curves(history, "accuracy", "accuracy", outdir / "accuracy.png", title))
    classes = metrics["classes"]
    paths.append(
        plot_confusion(
            np.array(metrics["confusion"]), classes, outdir / "confusion.png", False, title
        )
    )
    paths.append(
        plot_confusion(
            np.array(metrics["confusion_normalised"]),
            classes,
            outdir / "confusion_normalised.png",
            True,
            title,
        )
    )
    paths.append(plot_per_class(metrics, outdir / "per_class_accuracy.png", title))
    if metrics["roc"]:
        paths.append(plot_roc(metrics, outdir / "roc.png", title))
    log.debug("wrote %d figures to %s", len(paths), outdir)
    return paths
