"""Collision-data requirements: certified luminosity sections and triggers.

The selection config's ``data:`` block (:class:`eventlens.config.selection.DataConfig`)::

    data:
      lumi_mask: Cert_2018_golden.json     # CMS "golden JSON": {run: [[first, last], ...]}
      triggers: [HLT_IsoMu24, HLT_Ele32_WPTight_Gsf]

Each requirement that is set is one counted cutflow step, right after
``finite_weight`` (data quality comes before any physics cut):

``lumi_mask``  (run, luminosityBlock) certified in the golden JSON, read with
               ``coffea.lumi_tools.LumiMask``;
``trigger``    at least one of the listed HLT paths fired (an OR).

Both apply to collision data only — a chunk without ``genWeight``, which is how
every eventlens run tells data (and pseudo-data) from simulation.  Simulation
passes them, so its cutflow keeps the same steps and still accounts for every
event; a trigger efficiency of simulation belongs in its scale factors.  A data
file without one of the listed HLT branches is a one-line error (checked before
processing, :func:`eventlens.processors.inputs.resolve_branches`): a path that
does not exist in an era would otherwise silently reject all its events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from eventlens.config.selection import TaskConfig, lumi_mask_path
from eventlens.errors import ConfigError

from .cutflow import Cutflow
from .inputs import Inputs

LUMI_STEP, TRIGGER_STEP = "lumi_mask", "trigger"

#: One parsed golden JSON per file version and process (workers parse it on first use).
_MASKS: dict[tuple[str, int, int], Any] = {}


def data_steps(cfg: TaskConfig) -> tuple[str, ...]:
    """The cutflow steps the ``data:`` block adds, in order (none when it is unset)."""
    steps = []
    if cfg.data.lumi_mask is not None:
        steps.append(LUMI_STEP)
    if cfg.data.triggers:
        steps.append(TRIGGER_STEP)
    return tuple(steps)


def lumi_mask(path: str) -> Any:
    """The ``coffea.lumi_tools.LumiMask`` of a golden JSON (cached per process and file
    version: an edited file is read again)."""
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such lumi mask (data.lumi_mask)") from None
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _MASKS:
        from coffea.lumi_tools import LumiMask

        try:
            _MASKS[key] = LumiMask(path)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{path}: not a golden JSON {{run: [[first, last], ...]}} ({exc})"
            ) from exc
    return _MASKS[key]


def certified(cfg: TaskConfig, inputs: Inputs) -> np.ndarray:
    """Per event: (run, luminosityBlock) is in the lumi mask."""
    path = lumi_mask_path(cfg)
    assert path is not None
    runs = np.asarray(inputs.ids["run"], dtype=np.uint32)
    lumis = np.asarray(inputs.ids["luminosityBlock"], dtype=np.uint32)
    return np.asarray(lumi_mask(str(path))(runs, lumis), dtype=bool)


def triggered(cfg: TaskConfig, inputs: Inputs) -> np.ndarray:
    """Per event: at least one of ``data.triggers`` fired."""
    fired = np.zeros(inputs.n, dtype=bool)
    for path in cfg.data.triggers:
        fired |= np.asarray(inputs.triggers[path], dtype=bool)
    return fired


def require_data_quality(cfg: TaskConfig, inputs: Inputs, cutflow: Cutflow) -> None:
    """The ``data:`` steps of one chunk (module docstring); simulation passes them."""
    simulation = inputs.is_simulation
    if cfg.data.lumi_mask is not None:
        cutflow.require(LUMI_STEP, True if simulation else certified(cfg, inputs))
    if cfg.data.triggers:
        cutflow.require(TRIGGER_STEP, True if simulation else triggered(cfg, inputs))
