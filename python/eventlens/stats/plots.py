"""Figures of a fit (mplhep, the project's CMS style from :mod:`eventlens.plotting.style`).

- ``prefit_<region>`` / ``postfit_<region>``: the processes stacked (signal on
  top; post-fit: scaled by the fitted μ and nuisance parameters), the data with
  Poisson intervals, the total uncertainty hatched (cabinetry's linear
  propagation, with the post-fit correlations), and a data/prediction ratio panel;
- ``pulls``: (θ̂ − θ₀)/σ_pre ± σ̂/σ_pre of every constrained nuisance parameter
  (lnN and shape; the per-bin MC-statistics parameters are left out);
- ``impacts``: the ranking — pull on the left, pre-fit (open) and post-fit
  (filled) impacts on μ on the right, largest post-fit impact on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..plotting.labels import mpl_label
from ..plotting.spectra import ratio_points
from ..plotting.style import cms_label, pyplot, save
from .fit import Measurement
from .model import POI, StatModel

#: Rows in the impact ranking figure.
MAX_IMPACTS = 20


def _colours(model: StatModel) -> dict[str, Any]:
    cycle = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    return {p: cycle[i % len(cycle)] for i, p in enumerate(model.processes)}


def plot_stacks(
    model: StatModel, meas: Measurement, folder: str | Path, postfit: bool
) -> list[Path]:
    """Pre- or post-fit stack of every region (see module docstring)."""
    import mplhep as hep
    from cabinetry import model_utils

    plt = pyplot()
    pdf = meas.model
    pred = model_utils.prediction(pdf, fit_results=meas.result.cabinetry() if postfit else None)
    samples = list(pdf.config.samples)
    main = np.asarray(meas.data[: pdf.config.nmaindata], dtype=float)
    colours = _colours(model)
    stage = "postfit" if postfit else "prefit"
    data_label = (
        "Asimov data"
        if meas.data_kind == "asimov"
        else ("Data" if model.real_data else "Pseudo-data")
    )
    written: list[Path] = []
    for ich, channel in enumerate(pdf.config.channels):
        region = model.region(channel)
        edges = region.edges
        observed = main[pdf.config.channel_slices[channel]]
        yields = np.asarray(pred.model_yields[ich])
        stdev = np.asarray(pred.total_stdev_model_bins[ich][-1])
        total = yields.sum(axis=0)
        order = [p for p in [*model.backgrounds, model.signal] if p in region.templates]
        fig, (ax, rax) = plt.subplots(
            2,
            1,
            figsize=(10, 10),
            sharex=True,
            gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05},
        )
        hep.histplot(
            [yields[samples.index(p)] for p in order],
            edges,
            stack=True,
            histtype="fill",
            color=[colours[p] for p in order],
            label=[
                mpl_label(model.labels.get(p, p)) + (" (signal)" if p == model.signal else "")
                for p in order
            ],
            ax=ax,
        )
        ax.stairs(
            total + stdev,
            edges,
            baseline=total - stdev,
            fill=True,
            hatch="///",
            facecolor="none",
            edgecolor="grey",
            linewidth=0,
            label="Uncertainty",
        )
        hep.histplot(
            observed,
            edges,
            yerr=True,
            histtype="errorbar",
            color="black",
            label=data_label,
            ax=ax,
        )
        ratio, err = ratio_points(observed, observed, total)
        centres = 0.5 * (edges[1:] + edges[:-1])
        rax.errorbar(centres, ratio, yerr=err, fmt="o", color="black")
        safe = np.where(total > 0, total, 1.0)
        rax.stairs(
            1 + stdev / safe,
            edges,
            baseline=1 - stdev / safe,
            fill=True,
            hatch="///",
            facecolor="none",
            edgecolor="grey",
            linewidth=0,
        )
        rax.axhline(1.0, color="grey", linestyle="--")
        rax.set_ylim(0.5, 1.5)
        rax.set_ylabel("Data / Pred.")
        rax.set_xlabel(model.observable_label)
        ax.set_ylabel("Events / bin")
        ax.set_ylim(0, 1.4 * max(float((total + stdev).max()), float(observed.max()), 1.0))
        title = f"{'Post' if postfit else 'Pre'}-fit, region {mpl_label(channel)}"
        if postfit:
            r = meas.result
            title += rf", $\hat{{\mu}}$ = {r.value(POI):.3f} $\pm$ {r.error(POI):.3f}"
        ax.legend(title=title, fontsize=14, title_fontsize=14, ncols=2)
        cms_label(ax, data=model.real_data, lumi=model.luminosity_pb)
        written += save(fig, Path(folder) / f"{stage}_{channel}")
    return written


def _constrained(meas: Measurement) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, p)
        for name, p in meas.pulls.items()
        if p["type"] in ("lnN", "shape") and not p["fixed"]
    ]


def plot_pulls(meas: Measurement, model: StatModel, folder: str | Path) -> list[Path]:
    """Pulls and constraints of the lnN and shape nuisance parameters."""
    plt = pyplot()
    rows = _constrained(meas)
    if not rows:
        return []
    n = len(rows)
    fig, ax = plt.subplots(figsize=(9, 2 + 0.5 * n))
    y = np.arange(n)[::-1]
    ax.axvspan(-2, 2, color="#ffe600", alpha=0.5, lw=0)
    ax.axvspan(-1, 1, color="#34c759", alpha=0.5, lw=0)
    ax.errorbar(
        [p["pull"] for _, p in rows],
        y,
        xerr=[p["constraint"] for _, p in rows],
        fmt="o",
        color="black",
    )
    ax.axvline(0, color="grey", linestyle="--")
    ax.set_yticks(y, [name for name, _ in rows])
    ax.set_xlim(-3, 3)
    ax.set_ylim(-1, n)
    ax.set_xlabel(r"$(\hat{\theta} - \theta_0) / \Delta\theta$")
    cms_label(ax, data=model.real_data, lumi=model.luminosity_pb, fontsize=14)
    return save(fig, Path(folder) / "pulls")


def plot_impacts(
    meas: Measurement, model: StatModel, folder: str | Path, top: int = MAX_IMPACTS
) -> list[Path]:
    """The impact ranking (at most ``top`` parameters)."""
    plt = pyplot()
    rows = meas.impacts[:top]
    if not rows:
        return []
    n = len(rows)
    fig, (pax, iax) = plt.subplots(
        1,
        2,
        figsize=(13, 2.5 + 0.55 * n),
        sharey=True,
        gridspec_kw={"width_ratios": (1, 1.4), "wspace": 0.05},
    )
    y = np.arange(n)[::-1]
    pax.axvspan(-2, 2, color="#ffe600", alpha=0.5, lw=0)
    pax.axvspan(-1, 1, color="#34c759", alpha=0.5, lw=0)
    for yi, row in zip(y, rows, strict=True):
        p = meas.pulls[row["parameter"]]
        if p["pull"] is not None:
            pax.errorbar(p["pull"], yi, xerr=p["constraint"], fmt="o", color="black")
        else:  # a free normalisation: its value, not a pull
            pax.text(
                0, yi, f"{p['value']:.2f} ± {p['error']:.2f}", ha="center", va="center", fontsize=12
            )
    pax.set_xlim(-3, 3)
    pax.set_xlabel(r"$(\hat{\theta} - \theta_0) / \Delta\theta$")
    pax.set_yticks(y, [r["parameter"] for r in rows])
    pax.set_ylim(-1, n)

    def bars(key: str, **style: Any) -> None:
        values = [np.nan if r[key] is None else r[key] for r in rows]
        iax.barh(y, values, height=0.6, **style)

    bars("prefit_up", fill=False, edgecolor="#c0392b", linewidth=1.5, label="pre-fit +1σ")
    bars("prefit_down", fill=False, edgecolor="#2471a3", linewidth=1.5, label="pre-fit −1σ")
    bars("postfit_up", color="#c0392b", alpha=0.7, label="post-fit +1σ")
    bars("postfit_down", color="#2471a3", alpha=0.7, label="post-fit −1σ")
    iax.axvline(0, color="grey", linestyle="--")
    iax.set_xlabel(r"$\Delta\hat{\mu}$")
    iax.legend(fontsize=12, loc="lower right")
    r = meas.result
    iax.set_title(rf"$\hat{{\mu}}$ = {r.value(POI):.3f} $\pm$ {r.error(POI):.3f}", fontsize=16)
    cms_label(pax, data=model.real_data, lumi=None, rlabel="", fontsize=14)
    return save(fig, Path(folder) / "impacts")


def plot_all(meas: Measurement, model: StatModel, folder: str | Path) -> list[Path]:
    """Every figure of a fit into ``folder``."""
    written = plot_stacks(model, meas, folder, postfit=False)
    if meas.result.converged:
        written += plot_stacks(model, meas, folder, postfit=True)
    written += plot_pulls(meas, model, folder)
    written += plot_impacts(meas, model, folder)
    return written
