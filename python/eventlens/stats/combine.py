"""The model for CMS combine: ``shapes.root`` and ``datacard.txt``.

``shapes.root`` (written with uproot, one TH1D per template) has the layout of
the datacard's shapes line
``shapes * * shapes.root $CHANNEL/$PROCESS $CHANNEL/$PROCESS_$SYSTEMATIC``::

    <region>/<process>              nominal, with sum of squared weights (autoMCStats)
    <region>/<process>_<syst>Up     template systematics, for the processes they act on
    <region>/<process>_<syst>Down
    <region>/data_obs               the observation

The datacard lists the regions as bins, the signal as process 0 and the
backgrounds as 1, 2, …, their rates (sums of weights), one ``lnN`` line per
normalisation uncertainty, one ``shape`` line per template systematic, a
``rateParam`` per floating background and ``* autoMCStats 0`` (Barlow–Beeston
lite in every bin: pyhf's ``staterror``).  combine's POI ``r`` is pyhf's ``mu``.
"""

from __future__ import annotations

from pathlib import Path

import hist
import numpy as np

from ..io import atomic_path
from .model import StatModel, norm_parameter

SHAPES = "shapes.root"
DATACARD = "datacard.txt"
DATA_OBS = "data_obs"


def _th1(
    edges: np.ndarray, values: np.ndarray, variances: np.ndarray | None, label: str
) -> hist.Hist:
    axis = hist.axis.Variable(edges, name="x", label=label, underflow=True, overflow=True)
    if variances is None:
        h = hist.Hist(axis, storage=hist.storage.Double())
        h.view(flow=False)[...] = values
    else:
        h = hist.Hist(axis, storage=hist.storage.Weight())
        view = h.view(flow=False)
        view.value = values
        view.variance = variances
    return h


def shape_histograms(model: StatModel) -> dict[str, hist.Hist]:
    """``{"<region>/<name>": hist}``: everything ``shapes.root`` holds (layout above)."""
    out: dict[str, hist.Hist] = {}
    for r in model.regions:
        label = model.observable_label
        for proc, t in r.templates.items():
            out[f"{r.name}/{proc}"] = _th1(r.edges, t.nominal, t.variance, label)
            for syst, (up, down) in t.variations.items():
                out[f"{r.name}/{proc}_{syst}Up"] = _th1(r.edges, up, None, label)
                out[f"{r.name}/{proc}_{syst}Down"] = _th1(r.edges, down, None, label)
        out[f"{r.name}/{DATA_OBS}"] = _th1(r.edges, r.observed, None, label)
    return out


def write_shapes(model: StatModel, path: str | Path) -> Path:
    """Write ``shapes.root`` (atomically) with uproot."""
    import uproot

    path = Path(path)
    with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        for key, h in shape_histograms(model).items():
            f[key] = h
    return path


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def datacard_text(model: StatModel, shapes_file: str = SHAPES) -> str:
    """The datacard of ``model`` (see module docstring)."""
    index = {p: i for i, p in enumerate(model.processes)}
    cols = [(r, p) for r in model.regions for p in r.templates]
    names = [r.name for r in model.regions]
    rule = "-" * 60
    lines = [
        f"# eventlens datacard: observable {model.observable}, signal {model.signal} "
        f"(POI r = pyhf mu), observation: {model.observation}",
        f"imax {len(model.regions)}  number of channels",
        f"jmax {len(model.processes) - 1}  number of backgrounds",
        "kmax *  number of nuisance parameters",
        rule,
        f"shapes * * {shapes_file} $CHANNEL/$PROCESS $CHANNEL/$PROCESS_$SYSTEMATIC",
        rule,
        "bin          " + " ".join(names),
        "observation  " + " ".join(_fmt(r.observed.sum()) for r in model.regions),
        rule,
    ]
    table = [
        ["bin", "", *[r.name for r, _ in cols]],
        ["process", "", *[p for _, p in cols]],
        ["process", "", *[str(index[p]) for _, p in cols]],
        ["rate", "", *[_fmt(r.templates[p].rate) for r, p in cols]],
    ]
    systs: list[list[str]] = []
    for name, kappas in model.lnn.items():
        systs.append([name, "lnN", *[_fmt(kappas[p]) if p in kappas else "-" for _, p in cols]])
    for syst in model.shape_systematics:
        systs.append(
            [syst, "shape", *["1" if syst in r.templates[p].variations else "-" for r, p in cols]]
        )
    rows = [*table, ["-"], *systs]
    width0 = max(len(row[0]) for row in rows)
    width1 = max((len(row[1]) for row in rows if len(row) > 1), default=0)
    widths = [max(len(row[i + 2]) for row in rows if len(row) > 2) for i in range(len(cols))]
    for row in rows:
        if row == ["-"]:
            lines.append(rule)
            continue
        cells = [row[0].ljust(width0), row[1].ljust(width1)]
        cells += [c.rjust(w) for c, w in zip(row[2:], widths, strict=True)]
        lines.append(" ".join(cells).rstrip())
    lo, hi = model.norm_bounds
    for proc in model.floating:
        lines.append(f"{norm_parameter(proc)} rateParam * {proc} 1 [{_fmt(lo)},{_fmt(hi)}]")
    if model.mc_stat:
        lines.append("* autoMCStats 0")
    return "\n".join(lines) + "\n"


def write_datacard(model: StatModel, path: str | Path, shapes_file: str = SHAPES) -> Path:
    """Write ``datacard.txt`` (atomically); ``shapes_file`` is relative to it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(datacard_text(model, shapes_file))
    return path
