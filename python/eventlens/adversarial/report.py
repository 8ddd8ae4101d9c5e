"""Decorrelation metrics of a finished run (plain or adversarial), from its test predictions.

Both kinds of run leave ``test_predictions.npz`` (logits, label, mass,
weight of the test split) and their config in ``best.pt``; the signal class
is the config's ``evaluation.signal``.  The report is written to
``decorrelation.json`` beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EventLensError
from ..io import write_json
from ..training.checkpoint import BEST, load_checkpoint
from .sculpting import sculpting_report

REPORT = "decorrelation.json"
PREDICTIONS = "test_predictions.npz"


def test_scores(rundir: str | Path) -> dict[str, np.ndarray]:
    """Signal probability, is-signal, mass and weight of a run's test events."""
    rundir = Path(rundir)
    ckpt = load_checkpoint(rundir / BEST)
    signal = (ckpt["config"].get("evaluation") or {}).get("signal") or []
    if len(signal) != 1:
        raise EventLensError(f"{rundir}: need exactly one evaluation.signal class, got {signal}")
    index = list(ckpt["classes"]).index(signal[0])
    path = rundir / PREDICTIONS
    if not path.exists():
        raise EventLensError(f"{rundir}: no {PREDICTIONS} (evaluate the run first)")
    with np.load(path) as data:
        logits = data["logits"].astype(np.float64)
        z = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return {"score": prob[:, index], "is_signal": data["label"] == index,
                "mass": data["mass"].astype(np.float64),
                "weight": data["weight"].astype(np.float64), "label": data["label"]}


def decorrelation_of_run(rundir: str | Path, write: bool = True) -> dict[str, Any]:
    """:func:`.sculpting.sculpting_report` of the run's test split (physics weights)."""
    t = test_scores(rundir)
    report = sculpting_report(t["score"], t["is_signal"], t["mass"], t["weight"])
    if write:
        write_json(Path(rundir) / REPORT, report)
    return report
