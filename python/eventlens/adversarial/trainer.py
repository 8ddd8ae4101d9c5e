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
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, EventLensError
from ..io import write_json
from ..training.checkpoint import BEST, LAST, load_checkpoint, save_checkpoint
from ..training.config import TrainConfig
from ..training.data import augment_rng, batches, epoch_order
from ..training.loop import Trainer, epoch_timing
from ..training.setup import Setup, predict, prepare
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

    def train_joint_epoch(self) -> dict[str, Any]:
        """Phase 3: gradient-reversal updates of both networks."""
        cfg, s = self.cfg, self.s
        s.model.train()
        self.adversary.train()
        order = epoch_order(s.split.train, cfg.seed, self.epoch)
        rng = augment_rng(cfg.seed, self.epoch)
        chunks = list(batches(order, cfg.batch_size, min_size=2))
        from tqdm.auto import tqdm

        bar = tqdm(chunks, desc=f"epoch {self.epoch + 1}/{cfg.epochs} (joint)", unit="batch",
                   disable=not self.progress, leave=False, dynamic_ncols=True)
        sums = {"clf": 0.0, "adv": 0.0, "total": 0.0}
        seen = seen_adv = 0
        data_t = step_t = 0.0
        for idx in bar:
            t0 = time.perf_counter()
            x, y = s.maker.batch(idx, rng, cfg.augment)
            t1 = time.perf_counter()
            losses = joint_step(
                s.model, self.adversary, self.optimiser, self.adv_optimiser, x, y,
                self.m01[idx], self.weight[idx], self.adv.lam, self.signal_index,
                class_weights=s.class_weights, background_only=self.adv.background_only,
                extra_steps=self.adv.extra_steps, input_kind=self.adv.input)
            t2 = time.perf_counter()
            data_t += t1 - t0
            step_t += t2 - t1
            sums["clf"] += losses.clf * len(idx)
            if losses.adv is not None:
                sums["adv"] += losses.adv * losses.n_adversary
                seen_adv += losses.n_adversary
            seen += len(idx)
            bar.set_postfix(clf=f"{losses.clf:.4f}", adv=f"{losses.adv or 0:.4f}")
        bar.close()
        clf = sums["clf"] / max(seen, 1)
        adv = sums["adv"] / seen_adv if seen_adv else None
        return {
            "train_loss": clf,
            "train_clf_loss": clf,
            "train_adv_loss": adv,
            "train_total_loss": clf - self.adv.lam * (adv or 0.0),
            **epoch_timing(seen, data_t, step_t),
        }

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

    # ---- the run --------------------------------------------------------------
    def run(self, on_epoch_end: Any = None) -> None:
        cfg = self.cfg
        while self.epoch < cfg.epochs:
            t0 = time.perf_counter()
            phase = self.phase(self.epoch)
            row: dict[str, Any] = {"epoch": self.epoch + 1, "phase": phase, "lambda": self.adv.lam}
            if phase == "classifier":
                row.update(super().train_epoch())
                row["train_clf_loss"] = row["train_loss"]
            elif phase == "adversary":
                row.update(self.train_adversary_epoch())
            else:
                self._frozen_scores = None
                if self.adv.joint_lr is not None and self.phase(self.epoch - 1) != "joint":
                    for group in self.optimiser.param_groups:
                        group["lr"] = self.adv.joint_lr
                row.update(self.train_joint_epoch())
            row.update(self.validate())
            row["lr"] = self.optimiser.param_groups[0]["lr"]
            if self.scheduler is not None:
                self.scheduler.step()
            self.epoch += 1
            self.finished = self.epoch >= cfg.epochs
            row["seconds"] = time.perf_counter() - t0
            self.history.append(row)
            save_checkpoint(self.outdir / LAST, self.payload(full=True))
            if self.finished:
                self.best_epoch = self.epoch
                save_checkpoint(self.outdir / BEST, self.payload(full=False))
            write_json(self.outdir / "history.json", self.history)
            log.info("epoch %d/%d [%s, λ = %g]: clf %s adv %s total %s | val clf %s adv %s "
                     "JSD50 %s | %.0f s", self.epoch, cfg.epochs, phase, self.adv.lam,
                     _f(row.get("train_clf_loss")), _f(row.get("train_adv_loss")),
                     _f(row.get("train_total_loss")), _f(row.get("val_clf_loss")),
                     _f(row.get("val_adv_loss")), _f(row.get("val_jsd_50")), row["seconds"])
            if on_epoch_end is not None:
                on_epoch_end(self.epoch)


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
    import yaml

    from ..io import atomic_path

    outdir = Path(outdir)
    last = outdir / LAST
    if last.exists() and not resume:
        raise EventLensError(
            f"{outdir} already holds a training run ({LAST}); pass --resume to continue it "
            "or choose another output folder")
    setup = prepare(config, table=table, table_path=table_path)
    outdir.mkdir(parents=True, exist_ok=True)
    trainer = AdversarialTrainer(setup, adv, outdir, progress=progress)
    if resume and last.exists():
        trainer.restore(load_checkpoint(last))
    with atomic_path(outdir / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(full_dict(config, adv), sort_keys=False))
    log.info("adversarial training of %s on %s, λ = %g, phases %d/%d/%d epochs -> %s",
             config.model, config.task, adv.lam, adv.pretrain_classifier_epochs,
             adv.pretrain_adversary_epochs, adv.joint_epochs(config), outdir)
    trainer.run()
    if not evaluate:
        return None
    from ..training.evaluate import evaluate_run
    from .report import decorrelation_of_run

    metrics = evaluate_run(outdir, setup=setup)
    metrics["decorrelation"] = decorrelation_of_run(outdir)
    return metrics
