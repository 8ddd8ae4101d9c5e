"""Decorrelation metrics of a finished run (plain or adversarial), from its test predictions.

Both kinds of run leave ``test_predictions.npz`` (logits, label, mass,
weight of the test split) and their config in ``best.pt``; the signal class
is the config's ``evaluation.signal``.  The report is written to
``decorrelation.json`` beside them.  :func:`mass_reference_of_runs` adds
what m_γγ alone gives on the same test split, beside every run's AUC in the
narrow mass windows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EventLensError
from ..io import write_json
from ..training.checkpoint import BEST, load_checkpoint
from ..training.metrics import roc_auc, softmax
from ..training.table import ObjectTable
from .sculpting import (
    MASS_WINDOWS,
    mass_reference,
    sculpting_report,
    window_auc,
    window_key,
)

REPORT = "decorrelation.json"
PREDICTIONS = "test_predictions.npz"


def signal_index(ckpt: dict[str, Any], where: str | Path) -> int:
    """Index of the run's one ``evaluation.signal`` class among its classes."""
    signal = (ckpt["config"].get("evaluation") or {}).get("signal") or []
    if len(signal) != 1:
        raise EventLensError(f"{where}: need exactly one evaluation.signal class, got {signal}")
    return list(ckpt["classes"]).index(signal[0])


def signal_probability(logits: np.ndarray, index: int) -> np.ndarray:
    """Softmax probability of class ``index`` (float64: the one softmax, stable for large
    logits)."""
    return softmax(np.asarray(logits, dtype=np.float64))[:, index]


def test_scores(rundir: str | Path) -> dict[str, np.ndarray]:
    """Signal probability, is-signal, mass and weight of a run's test events."""
    rundir = Path(rundir)
    ckpt = load_checkpoint(rundir / BEST)
    index = signal_index(ckpt, rundir)
    path = rundir / PREDICTIONS
    if not path.exists():
        raise EventLensError(f"{rundir}: no {PREDICTIONS} (evaluate the run first)")
    with np.load(path) as data:
        return {"score": signal_probability(data["logits"], index),
                "is_signal": data["label"] == index,
                "mass": data["mass"].astype(np.float64),
                "weight": data["weight"].astype(np.float64), "label": data["label"]}


def table_scores(rundir: str | Path, table: ObjectTable, idx: np.ndarray | None = None,
                 batch_size: int = 8192) -> np.ndarray:
    """A finished run's signal probability for events ``idx`` (all if None) of another
    table: how the study scores its independent background sample for the fit.

    The table must have the run's classes in the same order (same task)."""
    import torch

    from ..export import rebuild_model
    from ..modelio import checkpoint_input
    from ..training.config import TrainConfig
    from ..training.data import BatchMaker
    from ..training.setup import predict

    rundir = Path(rundir)
    ckpt = load_checkpoint(rundir / BEST)
    if list(ckpt["classes"]) != list(table.classes):
        raise EventLensError(f"{table.path}: classes {table.classes} differ from the run "
                             f"{rundir}'s {ckpt['classes']}; score a table of the same task")
    config = TrainConfig.from_dict(ckpt["config"])
    torch.set_num_threads(config.threads)
    inputs = checkpoint_input(ckpt)
    maker = BatchMaker(table, inputs, channels_last=True)
    model = rebuild_model(ckpt)
    if inputs.kind == "image":
        model = model.to(memory_format=torch.channels_last)
    idx = np.arange(len(table)) if idx is None else np.asarray(idx, dtype=np.int64)
    logits = predict(model, maker, idx, batch_size)
    return signal_probability(logits, signal_index(ckpt, rundir))


def decorrelation_of_run(rundir: str | Path, write: bool = True) -> dict[str, Any]:
    """:func:`.sculpting.sculpting_report` of the run's test split (physics weights)."""
    t = test_scores(rundir)
    report = sculpting_report(t["score"], t["is_signal"], t["mass"], t["weight"])
    if write:
        write_json(Path(rundir) / REPORT, report)
    return report


def mass_reference_of_runs(runs: dict[str, str | Path]) -> dict[str, Any]:
    """:func:`.sculpting.mass_reference` of the runs' common test split, and per window
    every run's AUC there (``runs``: name -> run folder, all on the same test events).

    Raises EventLensError if the runs' test events (mass, label, weight) differ.
    """
    if not runs:
        raise EventLensError("mass_reference_of_runs: no runs")
    first_name, first = next(iter(runs.items()))
    t = test_scores(first)
    aucs: dict[str, dict[str, float | None]] = {}
    for name, rundir in runs.items():
        other = t if name == first_name else test_scores(rundir)
        if name != first_name and not all(
                np.array_equal(t[k], other[k]) for k in ("mass", "is_signal", "weight")):
            raise EventLensError(f"{rundir}: test events differ from {first}'s; "
                                 "the mass reference needs one common test split")
        score, sig, mass, w = other["score"], other["is_signal"], other["mass"], other["weight"]
        aucs[name] = {"auc": roc_auc(score, sig, w),
                      **{window_key(win): window_auc(score, sig, mass, w, win)
                         for win in MASS_WINDOWS}}
    ref = mass_reference(t["mass"], t["is_signal"], t["weight"])
    ref["test_split_of"] = first_name
    for key, window in ref["windows"].items():
        window["auc"] = {name: a[key] for name, a in aucs.items()}
    ref["auc_above_mass_only"] = {name: a["auc"] - ref["auc_mass_only"]
                                  for name, a in aucs.items()}
    return ref
