"""Everything a run needs before its first step: table, split, inputs, model, loss.

Shared by training, evaluation and the benchmarks, so all of them build the
model and its inputs the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..modelio import ModelInput, model_input
from ..models import build_model
from .config import TrainConfig
from .data import BatchMaker, feature_statistics
from .split import Split, split_table
from .table import ObjectTable, manifest_selection, read_table

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Setup:
    """A prepared run: the data, its split, the input maker and a fresh model."""

    config: TrainConfig
    table: ObjectTable
    split: Split
    maker: BatchMaker
    model: nn.Module
    class_weights: torch.Tensor

    @property
    def classes(self) -> list[str]:
        return self.table.classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.maker.input.shape

    def data_info(self) -> dict[str, Any]:
        """What the model was trained on (for checkpoints and model cards)."""
        labelled = np.flatnonzero(self.table.label >= 0)
        return {
            "table": str(self.table.path),
            "task": self.table.task,
            "selection": manifest_selection(self.table.manifest),
            "table_eventlens_version": self.table.manifest.get("eventlens_version"),
            "table_format": self.table.manifest.get("format"),
            "samples": self.table.manifest.get("datasets"),
            "luminosity_pb": self.table.manifest.get("luminosity_pb"),
            "datasets": self.table.datasets_per_class(labelled),
            "events": self.split.counts(self.table.label, self.classes),
            "split": dataclasses.asdict(self.config.split),
            "split_method": "hash of (dataset, run, luminosityBlock, event) with the salt",
            "split_digests": dict(self.split.digests),
            "limits": dict(self.config.limits),
            "n_events_table": len(self.table),
            "seed": self.config.seed,
        }

    def model_info(self) -> dict[str, Any]:
        return {
            "name": self.config.model,
            "params": dict(self.config.model_params),
            "input_kind": self.config.input_kind,
            "input_shape": list(self.input_shape),
            "n_parameters": int(sum(p.numel() for p in self.model.parameters())),
        }


def training_input(config: TrainConfig) -> ModelInput:
    """The input of the config's model: images of its render config or its padded table."""
    return model_input(config.input_kind, config.render, config.features)


def configure_torch(threads: int) -> None:
    """Fixed thread count and deterministic kernels (where torch has them) on the CPU."""
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # fixed once per process
        torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)


def check_table(config: TrainConfig, table: ObjectTable) -> None:
    """The table must be for the config's task and contain its signal classes."""
    if table.task is not None and table.task != config.task:
        raise ConfigError(
            f"{config.source}: 'task' = {config.task!r} but the object table {table.path} "
            f"is for task {table.task!r}"
        )
    unknown = [s for s in config.signal if s not in table.classes]
    if unknown:
        raise ConfigError(
            f"{config.source}: 'evaluation.signal' {unknown} not among the table's classes "
            f"{table.classes}"
        )


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """N / (K · N_c) per class: every class carries the same total weight in the loss.

    A class absent from the training split gets weight 0 (and a warning).
    """
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    if (counts == 0).any():
        log.warning("classes %s have no training events", np.flatnonzero(counts == 0).tolist())
    w = np.divide(counts.sum(), n_classes * counts, out=np.zeros(n_classes), where=counts > 0)
    return torch.tensor(w, dtype=torch.float32)


def prepare(
    config: TrainConfig, table: ObjectTable | None = None, table_path: str | Path | None = None
) -> Setup:
    """Read (or take) the table, split it, and build the model with the config's seed."""
    configure_torch(config.threads)
    if table is None:
        table = read_table(table_path or config.table)
    check_table(config, table)
    split = split_table(table, config.split, config.limits)
    counts = split.counts(table.label, table.classes)
    log.info(
        "split (hash of event identity): %s",
        ", ".join(f"{s} {sum(c.values())}" for s, c in counts.items()),
    )
    if len(split.train) < 2:
        raise ConfigError(
            f"object table {table.path}: only {len(split.train)} labelled training events"
        )
    inputs = training_input(config)
    maker = BatchMaker(table, inputs, channels_last=True)
    torch.manual_seed(config.seed)
    model = build_model(
        config.model,
        input_shape=inputs.shape,
        n_classes=len(table.classes),
        params=config.model_params,
    )
    standardise = getattr(model, "standardise", None)
    if standardise is not None:  # table models standardise inside, with the training split's
        mean, std = feature_statistics(maker, split.train)
        standardise.set(mean, std)
    if len(inputs.shape) == 3:  # (C, H, W) images: channels-last convolutions
        model = model.to(memory_format=torch.channels_last)
    calibrate_batchnorm(model, maker.batch(split.train[: min(config.batch_size, 256)])[0])
    if config.balance == "loss":
        weights = class_weights(table.label[split.train], len(table.classes))
    else:
        weights = torch.ones(len(table.classes))
    return Setup(
        config=config, table=table, split=split, maker=maker, model=model, class_weights=weights
    )


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, x: torch.Tensor) -> None:
    """Start every BatchNorm's running statistics from one batch of real inputs.

    Why: the running mean/variance start at 0/1 and move with momentum 0.1 per
    step, but sparse event images make the first layer's activations ~100×
    smaller than 1 (variance ~0.007 on 64×64 DTW images), so after a few dozen
    steps the running variance is still several times too large and the model
    in eval mode (validation, test, ONNX) sees wrongly scaled features — on a
    small table validation accuracy then sits at one class while training
    accuracy climbs.  One forward pass with momentum 1 (dropout off, so no
    random numbers are drawn) sets each layer's statistics to those of real
    data; training then updates them as usual.  Models without BatchNorm are
    untouched.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.train()
        m.momentum = 1.0
    model(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
        m.num_batches_tracked.zero_()
    model.train(was_training)


@torch.no_grad()
def predict(
    model: nn.Module, maker: BatchMaker, indices: np.ndarray, batch_size: int
) -> np.ndarray:
    """Logits (eval mode, no augmentation) for events ``indices``, in that order."""
    from .data import batches

    model.eval()
    out = [model(maker.batch(idx)[0]).float().numpy() for idx in batches(indices, batch_size)]
    if not out:
        n_out = model(maker.batch(np.zeros(1, np.int64))[0]).shape[1] if len(maker.table) else 0
        return np.zeros((0, n_out), dtype=np.float32)
    return np.concatenate(out)
