"""The model as a pyhf workspace (JSON, validated against pyhf's schema).

One channel per region, one sample per process, with the modifiers of
:mod:`eventlens.stats.model`: ``normfactor`` ``mu`` on the signal (the POI),
``normsys`` for ``lumi`` and the lnN normalisations (hi = κ, lo = 1/κ),
``normsys`` + ``histosys`` of one name per template systematic, ``normfactor``
``norm_<process>`` for floating backgrounds and ``staterror`` ``staterror_<region>``.
The measurement is named ``eventlens`` and bounds ``mu`` and the
``norm_<process>`` factors as the fit model says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EventLensError
from ..io import write_json
from .model import POI, Region, StatModel, Template, norm_parameter

WORKSPACE = "workspace.json"
MEASUREMENT = "eventlens"
#: Interpolation used in every fit (closest to combine's lnN/shape morphing).
MODIFIER_SETTINGS = {"normsys": {"interpcode": "code4"}, "histosys": {"interpcode": "code4p"}}
#: Smallest normalisation ratio a template may imply (code4 takes its logarithm).
_MIN_RATIO = 1e-3


def _list(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def _shape_modifiers(syst: str, t: Template, where: str) -> list[dict[str, Any]]:
    up, down = t.variations[syst]
    n = t.rate
    hi, lo = float(up.sum()) / n, float(down.sum()) / n
    if min(hi, lo) < _MIN_RATIO:
        raise EventLensError(
            f"{where}: systematic {syst} leaves {min(hi, lo):.2g} of the nominal yield; "
            "a template with (almost) no events cannot be interpolated — check the variation"
        )
    mods: list[dict[str, Any]] = []
    if not (np.isclose(hi, 1.0, rtol=0, atol=1e-12) and np.isclose(lo, 1.0, rtol=0, atol=1e-12)):
        mods.append({"name": syst, "type": "normsys", "data": {"hi": hi, "lo": lo}})
    hi_data, lo_data = up / hi, down / lo
    if not (np.allclose(hi_data, t.nominal) and np.allclose(lo_data, t.nominal)):
        mods.append(
            {
                "name": syst,
                "type": "histosys",
                "data": {"hi_data": _list(hi_data), "lo_data": _list(lo_data)},
            }
        )
    return mods


def _sample(model: StatModel, region: Region, proc: str, t: Template) -> dict[str, Any]:
    mods: list[dict[str, Any]] = []
    if proc == model.signal:
        mods.append({"name": POI, "type": "normfactor", "data": None})
    if proc in model.floating:
        mods.append({"name": norm_parameter(proc), "type": "normfactor", "data": None})
    for name, kappas in model.lnn.items():
        if proc in kappas:
            k = kappas[proc]
            mods.append({"name": name, "type": "normsys", "data": {"hi": k, "lo": 1.0 / k}})
    for syst in model.shape_systematics:
        if syst in t.variations:
            mods += _shape_modifiers(syst, t, f"{region.name}/{proc}")
    if model.mc_stat:
        mods.append(
            {
                "name": f"staterror_{region.name}",
                "type": "staterror",
                "data": _list(np.sqrt(t.variance)),
            }
        )
    return {"name": proc, "data": _list(t.nominal), "modifiers": mods}


def workspace_spec(model: StatModel) -> dict[str, Any]:
    """The pyhf workspace of ``model``, validated by ``pyhf.Workspace``."""
    import pyhf

    parameters: list[dict[str, Any]] = [{"name": POI, "bounds": [list(model.poi_bounds)]}]
    parameters += [
        {"name": norm_parameter(p), "bounds": [list(model.norm_bounds)]} for p in model.floating
    ]
    spec = {
        "channels": [
            {
                "name": r.name,
                "samples": [_sample(model, r, p, t) for p, t in r.templates.items()],
            }
            for r in model.regions
        ],
        "observations": [{"name": r.name, "data": _list(r.observed)} for r in model.regions],
        "measurements": [{"name": MEASUREMENT, "config": {"poi": POI, "parameters": parameters}}],
        "version": "1.0.0",
    }
    pyhf.Workspace(spec)  # validates against the schema (raises on a bad spec)
    return spec


def write_workspace(model: StatModel, path: str | Path) -> Path:
    """Write the validated workspace JSON (atomically)."""
    path = Path(path)
    write_json(path, workspace_spec(model))
    return path
