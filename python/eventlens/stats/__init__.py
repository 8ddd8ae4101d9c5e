"""From categorised histograms to a measurement: combine/pyhf inputs and a pyhf fit.

- :mod:`.io`: the histogram contract (``OUT/histograms.json``, uhi JSON) the
  analysis run writes and everything here reads;
- :mod:`.config`: the fit model (``configs/fit/<task>.yaml``);
- :mod:`.model`: one binned model built from both, written as combine's
  ``shapes.root`` + ``datacard.txt`` (:mod:`.combine`) and a pyhf workspace
  (:mod:`.workspace`);
- :mod:`.fit`: the profile-likelihood fit (pyhf, numpy + minuit), MINOS,
  pulls, impacts, the expected (Asimov) uncertainty, toys;
- :mod:`.plots`: pre/post-fit stacks, pulls, impact ranking (mplhep, CMS style).

From the analysis pipeline's finish step, the whole statistics output is one call::

    from eventlens.stats import HistogramSet, ProcessInfo, write_statistics_inputs
    write_statistics_inputs(HistogramSet(hists, processes, luminosity_pb=L, task=t),
                            out_dir, fit_model=None)   # None: configs/fit/<task>.yaml
"""

from __future__ import annotations

import logging
from pathlib import Path

from .combine import DATACARD, SHAPES, write_datacard, write_shapes
from .config import FitModel, default_fit_model_path, load_fit_model
from .io import HISTOGRAMS, HistogramSet, ProcessInfo, read_histograms, write_histograms
from .model import StatModel, build_model
from .workspace import WORKSPACE, write_workspace

log = logging.getLogger(__name__)

#: Folder (inside a run's output) that :func:`write_statistics_inputs` fills.
STATS_DIR = "stats"

__all__ = [
    "DATACARD",
    "HISTOGRAMS",
    "SHAPES",
    "STATS_DIR",
    "WORKSPACE",
    "FitModel",
    "HistogramSet",
    "ProcessInfo",
    "StatModel",
    "build_model",
    "read_histograms",
    "resolve_fit_model",
    "write_histograms",
    "write_model_files",
    "write_statistics_inputs",
]


def resolve_fit_model(fit_model: FitModel | str | Path | None, task: str | None) -> FitModel:
    """A :class:`FitModel` from an object, a YAML path, or (None) ``configs/fit/<task>.yaml``;
    with no such file, the defaults (no normalisation uncertainties, nothing floating)."""
    if isinstance(fit_model, FitModel):
        return fit_model
    if fit_model is not None:
        return load_fit_model(fit_model)
    path = default_fit_model_path(task)
    if path is None:
        log.info("no fit model for task %s: using the defaults (see eventlens.stats.config)", task)
        return FitModel()
    return load_fit_model(path)


def write_model_files(model: StatModel, folder: str | Path) -> dict[str, Path]:
    """``shapes.root``, ``datacard.txt`` and ``workspace.json`` of ``model`` in ``folder``."""
    folder = Path(folder)
    return {
        "shapes": write_shapes(model, folder / SHAPES),
        "datacard": write_datacard(model, folder / DATACARD, SHAPES),
        "workspace": write_workspace(model, folder / WORKSPACE),
    }


def write_statistics_inputs(
    hset: HistogramSet,
    out_dir: str | Path,
    fit_model: FitModel | str | Path | None = None,
    *,
    signal: str | None = None,
    observable: str | None = None,
) -> StatModel:
    """Everything a run hands to statistics tools.

    Writes ``out_dir/histograms.json`` (the contract, for ``eventlens fit``) and
    ``out_dir/stats/{shapes.root, datacard.txt, workspace.json}`` (for combine
    and pyhf), each atomically, and returns the model they describe.
    """
    out_dir = Path(out_dir)
    model = build_model(
        hset, resolve_fit_model(fit_model, hset.task), signal=signal, observable=observable
    )
    write_histograms(out_dir / HISTOGRAMS, hset)
    write_model_files(model, out_dir / STATS_DIR)
    return model
