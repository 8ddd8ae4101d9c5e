"""Figures of explanations (CMS style via mplhep): event overlays and dataset summaries.

* :func:`plot_event` — image models: the event as drawn (channel colours and
  legend, each object labelled at its (η, φ)), the attribution towards the
  predicted class laid over it (IG pixel map, or each object's outline
  painted with its object attribution for the removal methods), and bars of
  every object's attribution towards every class.  Table models: the top
  features with their σ values, and the object bars.
* :func:`plot_summary` — per class, the mean attribution of each object kind
  towards that class in its own events (the "which objects drive each class"
  figure), and for table models the top features.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..plotting.gallery import CHANNEL_COLOURS, composite
from ..plotting.style import cms_label, pyplot, save
from ..render.batch import FlatObjects
from ..render.config import RenderConfig
from .event import EventExplanation
from .naming import KIND_LABELS, class_tex
from .pixels import object_index_maps

#: Colour per object kind in summary bars (the channel colours).
KIND_COLOURS = {
    "electron": CHANNEL_COLOURS["electron"], "muon": CHANNEL_COLOURS["muon"],
    "photon": CHANNEL_COLOURS["photon"], "jet": CHANNEL_COLOURS["jet"],
    "bjet": CHANNEL_COLOURS["bjet"], "met": (0.35, 0.35, 0.35),
}
_FORMATS = ("png",)


def _object_map(ex: EventExplanation, config: RenderConfig, k: int) -> np.ndarray:
    """(H, W): each object's owned pixels carry its attribution spread evenly over them."""
    n = ex.n_objects
    flat = FlatObjects(offsets=np.array([0, n], dtype=np.int64), columns=dict(ex.objects))
    index = object_index_maps(flat, config)[0]
    owner = index.max(0)  # a pixel lit in several channels: any owner will do for display
    counts = np.bincount(owner.ravel(), minlength=n + 1)
    values = np.zeros(n + 1)
    values[1:] = ex.attributions[:, k] / np.maximum(counts[1:], 1)
    return values[owner]


def _draw_event(ax: Any, ex: EventExplanation, config: RenderConfig, image: np.ndarray) -> None:
    lo, hi = config.eta_range
    ax.imshow(composite(image, config), origin="lower", aspect="auto",
              extent=(lo, hi, -np.pi, np.pi), interpolation="nearest")
    for i in np.flatnonzero(ex.in_input):
        ax.annotate(ex.names[i], (float(ex.objects["eta"][i]), _wrap(float(ex.objects["phi"][i]))),
                    fontsize=9, ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0})
    ax.set_xlabel(r"$\eta$")
    ax.set_ylabel(r"$\phi$")


def _wrap(phi: float) -> float:
    return (phi + np.pi) % (2 * np.pi) - np.pi


def _object_bars(ax: Any, ex: EventExplanation, top: int = 10) -> None:
    k0 = ex.predicted
    ranked = ex.ranking(k0)[:top]
    labels = [r["description"] for r in ranked]
    rows = [r["object"] for r in ranked]
    extra = []
    if np.abs(ex.unassigned).max() > 1e-3:
        extra.append(("unassigned", ex.unassigned))
    if np.abs(ex.residual).max() > 1e-3:
        extra.append(("residual", ex.residual))
    y = np.arange(len(rows) + len(extra))
    width = 0.8 / len(ex.classes)
    for k, cls in enumerate(ex.classes):
        values = [ex.attributions[i, k] for i in rows] + [float(v[k]) for _, v in extra]
        ax.barh(y + (k - (len(ex.classes) - 1) / 2) * width, values, height=width,
                label=class_tex(cls))
    ax.set_yticks(y, labels + [name for name, _ in extra], fontsize=10)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("attribution (score change)")
    ax.legend(fontsize=10, loc="lower right")


def plot_event(ex: EventExplanation, config: RenderConfig | None, path: str | Path,
               image: np.ndarray | None = None) -> list[Path]:
    """One event's explanation figure (see the module docstring); returns the files written."""
    plt = pyplot()
    k = ex.predicted
    title = (f"run {ex.identity.get('run')}, event {ex.identity.get('event')}: "
             f"{class_tex(ex.label) if ex.label else 'unlabelled'} → "
             f"{class_tex(ex.classes[k])} ({ex.scores[k]:.2f})")
    if config is not None and image is not None:
        fig, axes = plt.subplots(1, 3, figsize=(24, 7.5),
                                 gridspec_kw={"width_ratios": [1, 1.15, 1.2]})
        _draw_event(axes[0], ex, config, image)
        if config.style != "seed_rgb":
            from matplotlib.patches import Patch

            handles = [Patch(facecolor=CHANNEL_COLOURS[c], label=c) for c in config.channels]
            axes[0].legend(handles=handles, fontsize=11, loc="upper center", ncol=len(handles),
                           bbox_to_anchor=(0.5, -0.13), frameon=False, handlelength=1.0,
                           columnspacing=0.8)
        amap = (ex.pixel_maps[k].sum(0) if ex.pixel_maps is not None
                else _object_map(ex, config, k))
        nonzero = np.abs(amap[amap != 0])
        # The 99th percentile: one saturated pixel must not wash out the others.
        lim = float(np.percentile(nonzero, 99)) if nonzero.size else 1.0
        lo, hi = config.eta_range
        gray = composite(image, config).mean(-1)
        axes[1].imshow(gray, origin="lower", aspect="auto", cmap="gray", vmin=0, vmax=1,
                       extent=(lo, hi, -np.pi, np.pi), alpha=0.35, interpolation="nearest")
        shown = np.ma.masked_where(amap == 0, amap)
        im = axes[1].imshow(shown, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim,
                            vmax=lim, extent=(lo, hi, -np.pi, np.pi), interpolation="nearest")
        fig.colorbar(im, ax=axes[1], label=f"attribution towards {class_tex(ex.classes[k])}")
        axes[1].set_xlabel(r"$\eta$")
        axes[1].set_title("pixels" if ex.pixel_maps is not None else "objects", fontsize=12)
        _object_bars(axes[2], ex)
    else:
        fig, axes = plt.subplots(1, 2, figsize=(20, 7.5))
        _feature_bars(axes[0], ex)
        _object_bars(axes[1], ex)
    fig.suptitle(title, fontsize=15)
    cms_label(axes[0], rlabel="", fontsize=13)
    fig.tight_layout()
    return save(fig, path, _FORMATS)


def _feature_bars(ax: Any, ex: EventExplanation, top: int = 12) -> None:
    k = ex.predicted
    if ex.features is None:
        ax.set_axis_off()
        return
    ranked = ex.features.ranked(k, top)
    labels = [f"{f['feature']} = " + (f"{f['sigma']:+.2f}σ" if f["sigma"] is not None
                                     else f"{f['value']:.3g}") for f in ranked]
    values = [f["attribution"] for f in ranked]
    ax.barh(np.arange(len(values)), values,
            color=["tab:red" if v > 0 else "tab:blue" for v in values])
    ax.set_yticks(np.arange(len(values)), labels, fontsize=10)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"attribution towards {class_tex(ex.classes[k])}")


def plot_summary(summary: dict[str, Any], path: str | Path, title: str = "") -> list[Path]:
    """Mean attribution per object kind towards each class, in that class's events."""
    plt = pyplot()
    classes: Sequence[str] = summary["classes"]
    kinds = [k for k in summary["kinds"]
             if any(summary["per_class"][c]["kinds"][k]["n_objects"] for c in classes)]
    fig, axes = plt.subplots(1, len(classes), figsize=(7 * len(classes), 6.5), squeeze=False,
                             sharey=True)
    for ax, cls in zip(axes[0], classes, strict=True):
        pc = summary["per_class"][cls]
        means = [pc["kinds"][k]["mean"] for k in kinds]
        abs_ = [pc["kinds"][k]["mean_abs"] for k in kinds]
        x = np.arange(len(kinds))
        ax.bar(x, abs_, color=[KIND_COLOURS.get(k, "gray") for k in kinds], alpha=0.3,
               label="mean |attribution|")
        ax.bar(x, means, width=0.5, color=[KIND_COLOURS.get(k, "gray") for k in kinds],
               edgecolor="black", label="mean attribution")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x, [KIND_LABELS.get(k, k) for k in kinds], rotation=30, fontsize=12)
        ax.set_title(f"{class_tex(cls)} events ({pc['n_events']})", fontsize=14, loc="right")
        ax.set_ylabel(f"towards {class_tex(cls)} per event", fontsize=13)
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(facecolor="gray", alpha=0.3, label="mean |attribution|"),
                           Patch(facecolor="gray", edgecolor="black", label="mean attribution")],
                  fontsize=10)
    cms_label(axes[0][0], rlabel="", fontsize=13)
    if title:
        fig.suptitle(title, fontsize=15)
    fig.tight_layout()
    return save(fig, path, _FORMATS)


def plot_feature_summary(summary: dict[str, Any], path: str | Path) -> list[Path] | None:
    """Top features by mean |attribution| per class (table models)."""
    classes = summary["classes"]
    tables = [summary["per_class"][c]["features"] for c in classes]
    if not any(tables):
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(classes), figsize=(7 * len(classes), 6.5), squeeze=False)
    for ax, cls, table in zip(axes[0], classes, tables, strict=True):
        if not table:
            ax.set_axis_off()
            continue
        top = table["top"]
        ax.barh(np.arange(len(top)), [t["mean_abs"] for t in top], color="tab:gray")
        ax.set_yticks(np.arange(len(top)), [t["feature"] for t in top], fontsize=11)
        ax.invert_yaxis()
        ax.set_xlabel(f"mean |attribution| towards {class_tex(cls)}", fontsize=12)
    cms_label(axes[0][0], rlabel="", fontsize=13)
    fig.tight_layout()
    return save(fig, path, _FORMATS)
