"""The training loop: Adam, class-weighted loss, LR schedule, early stopping, resume.

Class balance: a **class-weighted cross entropy** (weight N/(K·N_c) per class)
rather than a balancing sampler or the seeds' image cloning.  Every training
event is used exactly once per epoch (a sampler repeats rare-class events and
skips common ones), epochs have a fixed length and order that depend only on
(seed, epoch), and rare classes still carry the same total weight as common
ones.  The validation loss that drives early stopping and the LR schedule is
weighted the same way, so model selection targets balanced performance.

Reproducibility and resume: the weights are initialised from the seed; each
epoch's data order and augmentations come from (seed, epoch) (see
:mod:`.data`); dropout draws from torch's CPU generator, whose state is saved
in every checkpoint together with the model, Adam, scheduler and early-stopping
state.  A run resumed from the checkpoint of epoch k therefore continues
exactly as the uninterrupted run would have (tested), given the same thread
count (float sums may associate differently with another).  Interruption
mid-epoch loses only that epoch's partial work.

One loop for every kind of run: :meth:`Trainer.run` is the epoch loop,
:meth:`Trainer.train_batches` the mini-batch loop (order, augmentation, timing,
per-event means) around a *step*, and the epoch's end goes through hooks
(:meth:`~Trainer.row_labels`, :meth:`~Trainer.end_epoch`,
:meth:`~Trainer.save_checkpoints`, :meth:`~Trainer.log_epoch`).  The
adversarial trainer (:mod:`eventlens.adversarial.trainer`) is this loop with
another step and other hooks; :func:`start_run` prepares both kinds of run.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch spelling
from torch import nn

from ..errors import ConfigError, EventLensError
from ..io import write_json
from .checkpoint import BEST, LAST, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import augment_rng, batches, epoch_order
from .setup import Setup, predict, prepare
from .table import ObjectTable

log = logging.getLogger(__name__)

#: Config keys that may change when resuming (everything else must match).
RESUMABLE_CHANGES = ("training.epochs", "training.early_stopping.patience", "threads", "notes")

#: What a training step returns: ``{name: (sum over the batch's events, events)}``.
StepSums = dict[str, tuple[float, int]]
#: A training step on one mini-batch ``(x, y, event indices)``.
Step = Callable[[torch.Tensor, torch.Tensor, np.ndarray], StepSums]


def epoch_timing(seen: int, data_seconds: float, step_seconds: float) -> dict[str, Any]:
    """Events, time split and throughput of one training epoch (for history.json)."""
    total = data_seconds + step_seconds
    return {
        "train_events": seen,
        "data_seconds": data_seconds,
        "step_seconds": step_seconds,
        "data_fraction": data_seconds / total if total > 0 else None,
        "train_images_per_s": seen / total if total > 0 else None,
    }


def make_optimiser(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    o = config.optimiser
    return torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)


def make_scheduler(optimiser: torch.optim.Optimizer, config: TrainConfig) -> Any:
    s = config.scheduler
    if s.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimiser, mode="min", factor=s.factor, patience=s.patience, min_lr=s.min_lr
        )
    if s.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimiser, T_max=config.epochs, eta_min=s.min_lr
        )
    return None


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k not in ("params", "render", "features"):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    a, b = _flatten(old), _flatten(new)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


class Trainer:
    """One training run in ``outdir``: ``last.pt`` every epoch, ``best.pt`` on improvement."""

    def __init__(self, setup: Setup, outdir: Path, progress: bool = True) -> None:
        self.s = setup
        self.cfg = setup.config
        self.outdir = outdir
        self.progress = progress
        self.optimiser = make_optimiser(setup.model, self.cfg)
        self.scheduler = make_scheduler(self.optimiser, self.cfg)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best_val = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.finished = False

    # ---- state ----------------------------------------------------------------
    def payload(self, full: bool) -> dict[str, Any]:
        s = self.s
        data: dict[str, Any] = {
            "config": self.cfg.to_dict(),
            "model": s.model_info(),
            "classes": list(s.classes),
            "render_config": self.cfg.render.to_dict() if self.cfg.render else None,
            "table_spec": self.cfg.features.to_dict() if self.cfg.features else None,
            "data": s.data_info(),
            "state_dict": s.model.state_dict(),
            "epoch": self.epoch,
            "history": list(self.history),
            "early_stopping": {
                "best_val_loss": self.best_val,
                "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs,
            },
            "finished": self.finished,
        }
        if full:
            data["optimiser"] = self.optimiser.state_dict()
            data["scheduler"] = self.scheduler.state_dict() if self.scheduler else None
            data["rng"] = {"torch": torch.get_rng_state()}
        return data

    def restore(self, ckpt: dict[str, Any]) -> None:
        diffs = config_differences(ckpt["config"], self.cfg.to_dict())
        blocking = {k: v for k, v in diffs.items() if k not in RESUMABLE_CHANGES}
        if blocking:
            text = "; ".join(
                f"{k}: checkpoint {a!r}, config {b!r}" for k, (a, b) in blocking.items()
            )
            raise ConfigError(f"cannot resume {ckpt['path']}: the config differs ({text})")
        if ckpt["data"]["split_digests"] != self.s.split.digests:
            raise EventLensError(
                f"cannot resume {ckpt['path']}: the object table's split differs from the one "
                "the run started with (the table changed)"
            )
        self.s.model.load_state_dict(ckpt["state_dict"])
        self.optimiser.load_state_dict(ckpt["optimiser"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.epoch = int(ckpt["epoch"])
        self.history = list(ckpt["history"])
        es = ckpt["early_stopping"]
        self.best_val, self.best_epoch, self.bad_epochs = (
            float(es["best_val_loss"]),
            int(es["best_epoch"]),
            int(es["bad_epochs"]),
        )
        self.finished = (
            self.epoch >= self.cfg.epochs or self.bad_epochs >= self.cfg.early_stopping_patience
        )
        log.info("resumed %s after epoch %d", ckpt["path"], self.epoch)

    # ---- one epoch ------------------------------------------------------------
    def train_batches(self, step: Step, label: str = "") -> tuple[dict[str, float], dict[str, Any]]:
        """Run ``step`` on every training mini-batch of this epoch; return the means and timing.

        The batches are the epoch's (seed, epoch) order and augmentations (see
        :mod:`.data`).  ``step(x, y, idx)`` updates the networks and returns
        ``{name: (sum, events)}``; the result holds ``sum/events`` of each name
        over the epoch (names no step returned events for are absent), then
        :func:`epoch_timing`.  The plain epoch and the adversarial joint epoch
        are both this loop with another step.
        """
        cfg, s = self.cfg, self.s
        order = epoch_order(s.split.train, cfg.seed, self.epoch)
        rng = augment_rng(cfg.seed, self.epoch)
        chunks = list(batches(order, cfg.batch_size, min_size=2))
        data_t = step_t = 0.0
        sums: dict[str, list[float]] = {}
        seen = 0
        from tqdm.auto import tqdm

        bar = tqdm(
            chunks,
            desc=f"epoch {self.epoch + 1}/{cfg.epochs}{label}",
            unit="batch",
            disable=not self.progress,
            leave=False,
            dynamic_ncols=True,
        )
        for idx in bar:
            t0 = time.perf_counter()
            x, y = s.maker.batch(idx, rng, cfg.augment)
            t1 = time.perf_counter()
            out = step(x, y, idx)
            t2 = time.perf_counter()
            data_t += t1 - t0
            step_t += t2 - t1
            for name, (value, n) in out.items():
                acc = sums.setdefault(name, [0.0, 0])
                acc[0] += value
                acc[1] += n
            seen += len(idx)
            bar.set_postfix({k: f"{v / n:.4f}" for k, (v, n) in out.items() if n})
        bar.close()
        means = {k: v / n for k, (v, n) in sums.items() if n}
        return means, epoch_timing(seen, data_t, step_t)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, idx: np.ndarray) -> StepSums:
        """One plain update: class-weighted cross entropy, backward, Adam."""
        self.optimiser.zero_grad(set_to_none=True)
        logits = self.s.model(x)
        loss = F.cross_entropy(logits, y, weight=self.s.class_weights)
        loss.backward()
        self.optimiser.step()
        n = len(idx)
        return {"loss": (loss.item() * n, n), "accuracy": (int((logits.argmax(1) == y).sum()), n)}

    def train_epoch(self) -> dict[str, Any]:
        self.s.model.train()
        means, timing = self.train_batches(self.train_step)
        return {
            "train_loss": means.get("loss", 0.0),
            "train_accuracy": means.get("accuracy", 0.0),
            **timing,
        }

    def validate(self) -> dict[str, Any]:
        s = self.s
        idx = s.split.val
        logits = torch.from_numpy(predict(s.model, s.maker, idx, self.cfg.eval_batch_size))
        if len(idx) == 0:
            return {"val_loss": None, "val_accuracy": None}
        y = torch.from_numpy(s.table.label[idx].astype(np.int64))
        loss = float(F.cross_entropy(logits, y, weight=s.class_weights))
        return {"val_loss": loss, "val_accuracy": float((logits.argmax(1) == y).float().mean())}

    # ---- the epoch's end: what a variation of the loop overrides ---------------
    def row_labels(self) -> dict[str, Any]:
        """Entries of an epoch's history row before its losses (none for plain training)."""
        return {}

    def end_epoch(self, row: Mapping[str, Any]) -> bool:
        """Step the LR schedule, count the epoch, decide early stopping; True if improved.

        The validation loss is monitored (the training loss without a validation split).
        """
        monitor = row["val_loss"] if row["val_loss"] is not None else row["train_loss"]
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(monitor)
            else:
                self.scheduler.step()
        self.epoch += 1
        improved = monitor < self.best_val
        if improved:
            self.best_val, self.best_epoch, self.bad_epochs = monitor, self.epoch, 0
        else:
            self.bad_epochs += 1
        self.finished = self.stopped_early or self.epoch >= self.cfg.epochs
        return improved

    @property
    def stopped_early(self) -> bool:
        return self.bad_epochs >= self.cfg.early_stopping_patience

    def save_checkpoints(self, improved: bool) -> None:
        """``best.pt`` when the monitored loss improved, ``last.pt`` (resumable) always."""
        if improved:
            save_checkpoint(self.outdir / BEST, self.payload(full=False))
        save_checkpoint(self.outdir / LAST, self.payload(full=True))

    def log_epoch(self, row: Mapping[str, Any], improved: bool) -> None:
        log.info(
            "epoch %d/%d: train loss %.4f acc %.3f | val loss %s acc %s | lr %.2g | "
            "%.0f img/s, data %.1f%% | %.0f s%s",
            self.epoch,
            self.cfg.epochs,
            row["train_loss"],
            row["train_accuracy"],
            _fmt(row["val_loss"]),
            _fmt(row["val_accuracy"], 3),
            row["lr"],
            row["train_images_per_s"] or 0,
            100 * (row["data_fraction"] or 0),
            row["seconds"],
            " (best)" if improved else "",
        )
        if self.stopped_early:
            log.info(
                "early stopping: no validation improvement for %d epochs (best: epoch %d)",
                self.bad_epochs,
                self.best_epoch,
            )

    def describe(self) -> str:
        """One line for the log when the run starts."""
        return (
            f"training {self.cfg.model} on {self.cfg.task} "
            f"({self.s.model_info()['n_parameters']} parameters) -> {self.outdir}"
        )

    # ---- the run ----------------------------------------------------------------
    def run(self, on_epoch_end: Callable[[int], None] | None = None) -> None:
        """Train epoch after epoch until the last or early stopping; checkpoint each."""
        while not self.finished and self.epoch < self.cfg.epochs:
            t0 = time.perf_counter()
            row: dict[str, Any] = {"epoch": self.epoch + 1, **self.row_labels()}
            row.update(self.train_epoch())
            row.update(self.validate())
            row["lr"] = self.optimiser.param_groups[0]["lr"]
            improved = self.end_epoch(row)
            row["seconds"] = time.perf_counter() - t0
            self.history.append(row)
            self.save_checkpoints(improved)
            write_json(self.outdir / "history.json", self.history)
            self.log_epoch(row, improved)
            if on_epoch_end is not None:
                on_epoch_end(self.epoch)


def _fmt(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def start_run(
    config: TrainConfig,
    outdir: str | Path,
    make_trainer: Callable[[Setup, Path], Trainer],
    saved_config: Mapping[str, Any],
    resume: bool = False,
    table: ObjectTable | None = None,
    table_path: str | Path | None = None,
) -> Trainer:
    """Everything before the first epoch of any run: refuse to overwrite a run, prepare the
    table/split/model, build the trainer (resumed from ``last.pt`` when ``resume``) and
    write ``saved_config`` to ``config.yaml``."""
    outdir = Path(outdir)
    last = outdir / LAST
    if last.exists() and not resume:
        raise EventLensError(
            f"{outdir} already holds a training run ({LAST}); pass --resume to continue it "
            "or choose another output folder"
        )
    setup = prepare(config, table=table, table_path=table_path)
    outdir.mkdir(parents=True, exist_ok=True)
    trainer = make_trainer(setup, outdir)
    if resume and last.exists():
        trainer.restore(load_checkpoint(last))
    elif resume:
        log.info("no checkpoint in %s: starting from scratch", outdir)
    import yaml

    from ..io import atomic_path

    with atomic_path(outdir / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(dict(saved_config), sort_keys=False))
    log.info("%s", trainer.describe())
    return trainer


def fit(
    config: TrainConfig,
    outdir: str | Path,
    resume: bool = False,
    table: ObjectTable | None = None,
    table_path: str | Path | None = None,
    progress: bool = True,
    evaluate: bool = True,
    on_epoch_end: Callable[[int], None] | None = None,
) -> dict[str, Any] | None:
    """Train (or resume) a run in ``outdir``, then evaluate its best model on the test split.

    Returns the metrics (see :func:`eventlens.training.evaluate.evaluate_run`), or
    None when ``evaluate`` is false.
    """
    trainer = start_run(
        config,
        outdir,
        lambda setup, out: Trainer(setup, out, progress=progress),
        config.to_dict(),
        resume=resume,
        table=table,
        table_path=table_path,
    )
    trainer.run(on_epoch_end)
    if not evaluate:
        return None
    from .evaluate import evaluate_run

    return evaluate_run(trainer.outdir, setup=trainer.s)
