"""The fit model: which process is the signal and which uncertainties the model has.

A YAML file per task, ``configs/fit/<task>.yaml``, loaded strictly: an unknown
key (a typo) is a one-line :class:`~eventlens.errors.ConfigError` naming the key
and the file, never silently ignored.  Every key::

    samples:                      # fit samples made of several processes of the run
      ttbar: [ttbar, ttbar_enu]   #   (summed before the model is built; a member the
                                  #   run lacks is skipped; unlisted processes stay as they are)
    signal: ttbar                 # the (sample or) process whose signal strength mu is the POI
                                  # (default: the process the run marked as signal)
    observable: mass              # which contract histogram to fit (default: the only one)
    regions: [ttbar, wjets]       # regions to use (default: all, in the histogram's order)
    luminosity_uncertainty: 0.016 # relative; lnN "lumi" on every simulated non-floating process
    normalisations:               # lnN nuisances: name -> {process: relative uncertainty}
      xsec_dy: {dy: 0.02}         #   (kappa = 1 + value, in every region of the process)
    floating: [wjets]             # free normalisations: combine rateParam / pyhf normfactor
                                  #   named norm_<process>, bounded by norm_bounds
    norm_bounds: [0.0, 10.0]
    poi_bounds: [0.0, 10.0]       # bounds of mu
    shape_systematics: [jes]      # template systematics to use (default: every one found)
    mc_stat: true                 # bin-by-bin MC statistics (combine autoMCStats 0, pyhf staterror)
    rebin: 1                      # merge this many adjacent observable bins
    include_flow: false           # add under/overflow into the first/last bin

The same model goes into ``shapes.root`` + ``datacard.txt`` (combine) and the
pyhf workspace (see :mod:`eventlens.stats.model`).

Loading goes through eventlens' one strict loader (:mod:`eventlens.config`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import config_dir, dump, load, setting
from ..errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitModel:
    """A validated fit model (see module docstring for the meaning of each key)."""

    samples: dict[str, tuple[str, ...]] = field(default_factory=dict)
    signal: str | None = None
    observable: str | None = None
    regions: tuple[str, ...] | None = None
    luminosity_uncertainty: float = 0.0
    normalisations: dict[str, dict[str, float]] = field(default_factory=dict)
    floating: tuple[str, ...] = ()
    norm_bounds: tuple[float, float] = (0.0, 10.0)
    poi_bounds: tuple[float, float] = (0.0, 10.0)
    shape_systematics: tuple[str, ...] | None = None
    mc_stat: bool = True
    rebin: int = 1
    include_flow: bool = False
    source: str = setting("", source=True)

    def members(self, name: str) -> tuple[str, ...]:
        """The run's processes that make fit sample ``name`` (itself, if not a group)."""
        return self.samples.get(name, (name,))

    def to_dict(self) -> dict[str, Any]:
        return dump(self)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form (stored in fit.json for traceability)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def validate(model: FitModel) -> FitModel:
    """Checks a single key's type cannot express; raises ConfigError naming the key."""
    src = model.source or "fit model"
    if not 0.0 <= model.luminosity_uncertainty < 1.0:
        raise ConfigError(f"{src}: 'luminosity_uncertainty' must lie in [0, 1) (relative)")
    for name, per_process in model.normalisations.items():
        if not per_process:
            raise ConfigError(f"{src}: 'normalisations.{name}' names no process")
        for proc, value in per_process.items():
            if not 0.0 < value < 1.0:
                raise ConfigError(
                    f"{src}: 'normalisations.{name}.{proc}' = {value} must lie in (0, 1) "
                    "(a relative uncertainty; kappa = 1 + value)"
                )
    for key in ("norm_bounds", "poi_bounds"):
        lo, hi = getattr(model, key)
        if not lo < hi:
            raise ConfigError(f"{src}: '{key}' needs low < high, got [{lo}, {hi}]")
    if model.rebin < 1:
        raise ConfigError(f"{src}: 'rebin' must be a positive integer")
    seen: dict[str, str] = {}
    for name, members in model.samples.items():
        if not members:
            raise ConfigError(f"{src}: 'samples.{name}' lists no process")
        for proc in members:
            if proc in seen:
                raise ConfigError(
                    f"{src}: process {proc!r} is in both 'samples.{seen[proc]}' and "
                    f"'samples.{name}'"
                )
            seen[proc] = name
    if model.signal is not None and model.signal in model.floating:
        raise ConfigError(f"{src}: the signal {model.signal!r} cannot also be in 'floating'")
    return model


def load_fit_model(path: str | Path) -> FitModel:
    """Read and validate a fit-model YAML file."""
    return validate(load(FitModel, path, "fit model"))


def default_fit_model_path(task: str | None) -> Path | None:
    """``configs/fit/<task>.yaml`` (beside ``configs/selection``), if it exists."""
    if not task:
        return None
    path = config_dir() / "fit" / f"{task}.yaml"
    return path if path.exists() else None
