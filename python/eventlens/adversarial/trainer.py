"""Adversarial training as an extension of the plain training loop.

:class:`AdversarialTrainer` is a :class:`eventlens.training.loop.Trainer`
(same table, split, inputs, class-weighted loss, Adam, data order,
augmentations, checkpoints and resume) that trains in three phases:

1. **classifier pre-training** — the plain training epoch, unchanged;
2. **adversary pre-training** — the classifier frozen; its signal probability
   D is computed once for the training background (eval mode, no
   augmentation) and the adversary learns p(m_γγ | D) on those pairs;
3. **joint training** — :func:`.core.joint_step` per batch: gradient
   reversal, classifier on ``L_clf − λ·L_adv``, adversary on ``L_adv``.

Checkpoints are the plain training's (``config`` is the plain config, the
classifier weights are ``state_dict``) plus ``adversary`` (the block),
``adversary_state_dict`` and ``adversary_optimiser`` — so ``eventlens export``
and the evaluation read an adversarial run like any other and export the
classifier only.  ``best.pt`` is written once, after the last epoch: a min-max
game has no validation loss to select on, so the result is the final model.

The epoch and mini-batch loops are the plain trainer's; this class gives them
the joint step (:meth:`AdversarialTrainer._joint_batch`) and overrides the
hooks at the epoch's end (phase in the history row, no early stopping, best =
last).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..training.checkpoint import BEST, LAST, save_checkpoint
from ..training.config import TrainConfig
from ..training.data import batches, epoch_order
from ..training.loop import StepSums, Trainer, start_run
from ..training.setup import Setup, predict
from ..training.table import ObjectTable
from .config import AdversaryConfig, full_dict
from .core import (
    adversary_input,
    adversary_step,
    evaluate_losses,
    joint_step,
    scale_mass,
    signal_score,
)
from .posterior import MixtureAdversary
from .sculpting import jensen_shannon, passing_fraction, shape, threshold_at_efficiency

log = logging.getLogger(__name__)

PHASES = ("classifier", "adversary", "joint")


class AdversarialTrainer(Trainer):
    """A :class:`Trainer` with an adversary on m_γγ (see the module docstring)."""

    def __init__(self, setup: Setup, adv: AdversaryConfig, outdir: Path,
                 progress: bool = True) -> None:
        adv.check_against(setup.config)
        super().__init__(setup, outdir, progress=progress)
        self.adv = adv
        self.signal_index = setup.classes.index(setup.config.signal[0])
        torch.manual_seed(setup.config.seed + 1)  # the adversary's own, fixed initialisation
        self.adversary = MixtureAdversary(1, adv.hidden, adv.components)
        self.adv_optimiser = torch.optim.Adam(self.adversary.parameters(), lr=adv.lr)
        self.m01 = scale_mass(torch.from_numpy(setup.table.mass.astype(np.float32)), adv.mass_range)
        self.weight = torch.from_numpy(setup.table.weight.astype(np.float32))
        self._frozen_scores: torch.Tensor | None = None
        outside = ~((self.m01 >= 0) & (self.m01 <= 1))
        if bool(outside.any()):
            log.warning("%d events have m outside the adversary's mass_range %s: the adversary "
                        "ignores them", int(outside.sum()), list(adv.mass_range))

    # ---- phases -------------------------------------------------------------
    def phase(self, epoch: int) -> str:
        """The phase of 0-based ``epoch``."""
        a = self.adv.pretrain_classifier_epochs
        b = a + self.adv.pretrain_adversary_epochs
        return PHASES[0] if epoch < a else PHASES[1] if epoch < b else PHASES[2]

    def _is_adv_event(self, idx: np.ndarray) -> np.ndarray:
        label = self.s.table.label[idx]
        m = self.m01[idx].numpy()
        inside = (m >= 0) & (m <= 1)
        return inside & (label != self.signal_index) if self.adv.background_only else inside

    def train_adversary_epoch(self) -> dict[str, Any]:
        """Phase 2: the adversary alone on the frozen classifier's D (eval, no augmentation)."""
        cfg, s = self.cfg, self.s
        t0 = time.perf_counter()
        idx = s.split.train[self._is_adv_event(s.split.train)]
        if self._frozen_scores is None:
            logits = torch.from_numpy(predict(s.model, s.maker, idx, cfg.eval_batch_size))
            self._frozen_scores = adversary_input(logits, self.signal_index, self.adv.input)
        scores = self._frozen_scores
        position = np.arange(len(idx))
        order = epoch_order(position, cfg.seed, self.epoch)
        self.adversary.train()
        total = 0.0
        for chunk in batches(order, cfg.batch_size, min_size=2):
            loss = adversary_step(self.adversary, self.adv_optimiser, scores[chunk],
                                  self.m01[idx[chunk]], self.weight[idx[chunk]])
            total += loss * len(chunk)
        seconds = time.perf_counter() - t0
        return {"train_adv_loss": total / max(len(idx), 1), "train_events": len(idx),
                "step_seconds": seconds}

    def _joint_batch(self, x: torch.Tensor, y: torch.Tensor, idx: np.ndarray) -> StepSums:
        """One gradient-reversal update of both networks (:func:`.core.joint_step`)."""
        losses = joint_step(
            self.s.model, self.adversary, self.optimiser, self.adv_optimiser, x, y,
            self.m01[idx], self.weight[idx], self.adv.lam, self.signal_index,
            class_weights=self.s.class_weights, background_only=self.adv.background_only,
            extra_steps=self.adv.extra_steps, input_kind=self.adv.input)
        out = {"clf": (losses.clf * len(idx), len(idx))}
        if losses.adv is not None:
            out["adv"] = (losses.adv * losses.n_adversary, losses.n_adversary)
        return out

    def train_joint_epoch(self) -> dict[str, Any]:
        """Phase 3: the plain epoch's batches, each a joint update of both networks."""
        self.s.model.train()
        self.adversary.train()
        means, timing = self.train_batches(self._joint_batch, " (joint)")
        clf = means.get("clf", 0.0)
        adv = means.get("adv")
        return {
            "train_loss": clf,
            "train_clf_loss": clf,
            "train_adv_loss": adv,
            "train_total_loss": clf - self.adv.lam * (adv or 0.0),
            **timing,
        }

    def train_epoch(self) -> dict[str, Any]:
        """The epoch of the current phase (see the module docstring)."""
        phase = self.phase(self.epoch)
        if phase == "classifier":
            row = super().train_epoch()
            row["train_clf_loss"] = row["train_loss"]
            return row
        if phase == "adversary":
            return self.train_adversary_epoch()
        self._frozen_scores = None
        if self.adv.joint_lr is not None and self.phase(self.epoch - 1) != "joint":
            for group in self.optimiser.param_groups:
                group["lr"] = self.adv.joint_lr
        return self.train_joint_epoch()

    def validate(self) -> dict[str, Any]:
        """Validation L_clf, L_adv, total, accuracy, AUC-free sculpting (JSD at ε_S = 50 %)."""
        s = self.s
        idx = s.split.val
        if len(idx) == 0:
            return {"val_loss": None, "val_accuracy": None}
        logits = torch.from_numpy(predict(s.model, s.maker, idx, self.cfg.eval_batch_size))
        y = torch.from_numpy(s.table.label[idx].astype(np.int64))
        losses = evaluate_losses(logits, y, self.m01[idx], self.weight[idx], self.adversary,
                                 self.adv.lam, self.signal_index, s.class_weights,
                                 self.adv.background_only, self.adv.input)
        score = signal_score(logits, self.signal_index).numpy()
        return {
            "val_loss": losses.clf,
            "val_clf_loss": losses.clf,
            "val_adv_loss": losses.adv,
            "val_total_loss": losses.total,
            "val_accuracy": float((logits.argmax(1) == y).float().mean()),
            "val_jsd_50": _jsd_at(score, s.table.label[idx] == self.signal_index,
                                  s.table.mass[idx], s.table.weight[idx], 0.5),
        }

    # ---- state --------------------------------------------------------------
    def payload(self, full: bool) -> dict[str, Any]:
        data = super().payload(full)
        data["adversary"] = self.adv.to_dict()
        data["adversary_state_dict"] = self.adversary.state_dict()
        if full:
            data["adversary_optimiser"] = self.adv_optimiser.state_dict()
        return data

    def restore(self, ckpt: dict[str, Any]) -> None:
        stored = ckpt.get("adversary")
        if stored is None or AdversaryConfig.from_dict(stored).to_dict() != self.adv.to_dict():
            raise ConfigError(
                f"cannot resume {ckpt['path']}: its adversary block {ckpt.get('adversary')} "
                f"differs from the config's {self.adv.to_dict()}")
        super().restore(ckpt)
        self.adversary.load_state_dict(ckpt["adversary_state_dict"])
        self.adv_optimiser.load_state_dict(ckpt["adversary_optimiser"])
        self.finished = self.epoch >= self.cfg.epochs

    # ---- the epoch's end (the plain loop's hooks) -------------------------------
    def row_labels(self) -> dict[str, Any]:
        return {"phase": self.phase(self.epoch), "lambda": self.adv.lam}

    def end_epoch(self, row: Any) -> bool:
        """No early stopping and no model selection: a min-max game has no validation
        loss to select on, the result is the final model."""
        if self.scheduler is not None:
            self.scheduler.step()
        self.epoch += 1
        self.finished = self.epoch >= self.cfg.epochs
        return False

    def save_checkpoints(self, improved: bool) -> None:
        """``last.pt`` every epoch, ``best.pt`` once: the final model."""
        save_checkpoint(self.outdir / LAST, self.payload(full=True))
        if self.finished:
            self.best_epoch = self.epoch
            save_checkpoint(self.outdir / BEST, self.payload(full=False))

    def log_epoch(self, row: Any, improved: bool) -> None:
        log.info("epoch %d/%d [%s, λ = %g]: clf %s adv %s total %s | val clf %s adv %s "
                 "JSD50 %s | %.0f s", self.epoch, self.cfg.epochs, row["phase"], self.adv.lam,
                 _f(row.get("train_clf_loss")), _f(row.get("train_adv_loss")),
                 _f(row.get("train_total_loss")), _f(row.get("val_clf_loss")),
                 _f(row.get("val_adv_loss")), _f(row.get("val_jsd_50")), row["seconds"])

    def describe(self) -> str:
        a, cfg = self.adv, self.cfg
        return (f"adversarial training of {cfg.model} on {cfg.task}, λ = {a.lam:g}, phases "
                f"{a.pretrain_classifier_epochs}/{a.pretrain_adversary_epochs}/"
                f"{a.joint_epochs(cfg)} epochs -> {self.outdir}")


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _jsd_at(score: np.ndarray, is_signal: np.ndarray, mass: np.ndarray, weight: np.ndarray,
            eff: float) -> float | None:
    bkg = ~is_signal
    if not is_signal.any() or not bkg.any():
        return None
    cut = threshold_at_efficiency(score[is_signal], weight[is_signal], eff)
    passed = bkg & (score > cut)
    if not passed.any() or passing_fraction(score[bkg], weight[bkg], cut) <= 0:
        return None
    return jensen_shannon(shape(mass[bkg], weight[bkg]), shape(mass[passed], weight[passed]))


def fit_adversarial(
    config: TrainConfig,
    adv: AdversaryConfig,
    outdir: str | Path,
    resume: bool = False,
    table: ObjectTable | None = None,
    table_path: str | Path | None = None,
    progress: bool = True,
    evaluate: bool = True,
) -> dict[str, Any] | None:
    """Train (or resume) an adversarial run in ``outdir``; evaluate it on the test split.

    Returns the plain evaluation's metrics with ``decorrelation`` (the
    :func:`.sculpting.sculpting_report` of the test split) added, or None
    when ``evaluate`` is false.  Writes ``config.yaml`` (both blocks),
    ``last.pt``/``best.pt``, ``history.json``, ``metrics.json``,
    ``decorrelation.json``, ``test_predictions.npz`` and ``plots/``.
    """
    trainer = start_run(
        config, outdir, lambda setup, out: AdversarialTrainer(setup, adv, out, progress=progress),
        full_dict(config, adv), resume=resume, table=table, table_path=table_path)
    trainer.run()
    if not evaluate:
        return None
    from ..training.evaluate import evaluate_run
    from .report import decorrelation_of_run

    metrics = evaluate_run(trainer.outdir, setup=trainer.s)
    metrics["decorrelation"] = decorrelation_of_run(trainer.outdir)
    return metrics
