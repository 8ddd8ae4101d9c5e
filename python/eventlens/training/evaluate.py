"""Evaluate a run's best model on its test split: ``metrics.json``, predictions, figures.

The test split is recomputed from the table with the run's split settings and
must have the digest recorded at training time — a model is never evaluated
on events it may have trained on, even if the table was rewritten meanwhile.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EventLensError
from ..io import write_json, write_npz
from .channels import CHANNELS, MULTILEPTON, event_channels
from .checkpoint import BEST, load_checkpoint
from .config import TrainConfig
from .metrics import classification_metrics, metrics_by_category
from .setup import Setup, predict, prepare
from .table import ObjectTable

log = logging.getLogger(__name__)

METRICS = "metrics.json"


def evaluate_run(
    rundir: str | Path,
    setup: Setup | None = None,
    table_path: str | Path | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Evaluate ``rundir/best.pt`` on the test split.

    Writes ``metrics.json``, ``test_predictions.npz`` and ``plots/``; returns the metrics.
    """
    rundir = Path(rundir)
    ckpt = load_checkpoint(rundir / BEST)
    config = TrainConfig.from_dict(ckpt["config"])
    if setup is None:
        setup = prepare(config, table_path=table_path)
    if setup.split.digests["test"] != ckpt["data"]["split_digests"]["test"]:
        raise EventLensError(
            f"{rundir}: the test split of {setup.table.path} differs from the one recorded at "
            "training time (the table changed); evaluate on the original table"
        )
    setup.model.load_state_dict(ckpt["state_dict"])
    idx = setup.split.test
    logits = predict(setup.model, setup.maker, idx, config.eval_batch_size)
    labels = setup.table.label[idx]
    test = classification_metrics(labels, logits, setup.classes, config.signal)
    test.update(channel_metrics(setup.table, idx, labels, logits, setup.classes, config.signal))
    history = run_history(rundir, ckpt)
    last_rows = [h for h in history if h.get("train_images_per_s")]
    metrics: dict[str, Any] = {
        "task": config.task,
        "model": setup.model_info(),
        "notes": config.notes,
        "run_dir": str(rundir),
        "checkpoint": str(rundir / BEST),
        "best_epoch": int(ckpt["epoch"]),
        "epochs_trained": len(history),
        "render_config": config.render.to_dict() if config.render else None,
        "render_config_digest": config.render.digest() if config.render else None,
        "table_spec": config.features.to_dict() if config.features else None,
        "data": ckpt["data"],
        "test_split_digest": setup.split.digests["test"],
        "test": test,
        "val": {k: history[int(ckpt["epoch"]) - 1].get(k) for k in ("val_loss", "val_accuracy")}
        if history
        else {},
        "timing": {
            "train_images_per_s": float(np.median([h["train_images_per_s"] for h in last_rows]))
            if last_rows
            else None,
            "data_fraction": float(np.median([h["data_fraction"] for h in last_rows]))
            if last_rows
            else None,
            "threads": config.threads,
        },
    }
    write_json(rundir / METRICS, metrics)
    write_npz(
        rundir / "test_predictions.npz",
        logits=logits,
        label=labels,
        mass=setup.table.mass[idx],
        weight=setup.table.weight[idx],
        run=setup.table.run[idx],
        luminosityBlock=setup.table.lumi[idx],
        event=setup.table.event[idx],
    )
    if plots and test["n_events"]:
        from .plots import plot_all

        plot_all(test, history, rundir / "plots", f"{config.task}: {config.model}")
    for name, ch in (test.get("by_channel") or {}).items():
        log.info("  channel %-4s %5d events (%s): accuracy %s, S-vs-B %s", name, ch["n_events"],
                 _pct(ch["share"]), _pct(ch["accuracy"]), _pct(ch.get("signal_vs_background")))
    svb = test.get("signal_vs_background", {}).get("efficiency")
    log.info(
        "test (%d events): accuracy %s, macro F1 %s, macro AUC %s%s",
        test["n_events"],
        _pct(test["accuracy"]),
        _pct(test["macro_f1"]),
        _fmt(test["macro_auc"]),
        f", S-vs-B efficiency {_pct(svb)}" if svb is not None else "",
    )
    return metrics


def channel_metrics(
    table: ObjectTable,
    idx: np.ndarray,
    labels: np.ndarray,
    logits: np.ndarray,
    classes: list[str],
    signal: list[str],
) -> dict[str, Any]:
    """``by_channel`` (accuracy, S-vs-B per lepton channel) and ``dilepton_share`` (per
    class, the share of events with two or more leptons) for tables with electrons and
    muons (:mod:`.channels`); empty for other tables."""
    channels = event_channels(table, idx)
    if channels is None:
        return {}
    multi = np.isin(channels, MULTILEPTON)
    share = {
        name: float(multi[labels == i].mean()) if (labels == i).any() else None
        for i, name in enumerate(classes)
    }
    return {
        "by_channel": metrics_by_category(labels, logits, channels, classes, signal, CHANNELS),
        "dilepton_share": share,
    }


def run_history(rundir: Path, ckpt: dict[str, Any]) -> list[dict[str, Any]]:
    """Every epoch of the run: ``history.json`` (rewritten each epoch), else the
    history stored in the checkpoint (which ends at the checkpoint's epoch)."""
    path = rundir / "history.json"
    if path.exists():
        return list(json.loads(path.read_text()))
    return list(ckpt.get("history") or [])


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"
