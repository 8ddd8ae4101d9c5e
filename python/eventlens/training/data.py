"""From event indices to model inputs: gather objects, augment, draw or pad, to tensors.

Everything happens in the main process, one mini-batch at a time: the C++
renderer draws ~10⁵ events/s, so a batch of 128 images costs ~1 ms against
~0.3 s for a compact-CNN training step on two CPU cores — worker processes
would only add pickling and startup (and a renderer per process).

Data order and augmentations come from ``numpy.random.default_rng([seed,
epoch, stream])``: a pure function of (seed, epoch), so a resumed run sees
exactly the batches an uninterrupted one would, without saving any state.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..modelio import INPUT_DTYPE, ModelInput
from ..render.batch import FlatObjects
from .augment import augment
from .config import AugmentConfig
from .table import ObjectTable

_ORDER_STREAM, _AUGMENT_STREAM = 0, 1


class BatchMaker:
    """Build input tensors for events of a table.

    Args:
        table: the object table.
        model_input: how the model's input is made from objects
            (:mod:`eventlens.modelio`: images drawn with a render config, or the
            padded table of a table spec).
        channels_last: image tensors in channels-last memory format (faster
            convolutions on CPU; no effect on table inputs).
    """

    def __init__(
        self, table: ObjectTable, model_input: ModelInput, channels_last: bool = True
    ) -> None:
        self.table = table
        self.input = model_input
        self.channels_last = channels_last
        self._buffer: np.ndarray | None = None

    def objects(
        self, idx: np.ndarray, rng: np.random.Generator | None, aug: AugmentConfig | None
    ) -> FlatObjects:
        flat = self.table.gather(idx)
        if rng is not None and aug is not None:
            augment(flat, rng, aug)
        return flat

    def inputs(self, flat: FlatObjects) -> torch.Tensor:
        """Model input for pre-gathered objects: (N, C, H, W) float32 images or (N, F) tables.

        The raw inputs are drawn into a buffer reused from batch to batch (fresh
        pages cost first-touch faults); the float32 tensor is always new memory,
        so a batch handed out is never overwritten by the next one.  Images are
        in channels-last memory when asked: uint8 pictures are divided straight
        into it, float32 ones copied into it by torch (faster than numpy's
        strided copy: 1.3 vs 2.5 ms for 128 images of 5×64×64, one core).
        """
        n = flat.n_events
        if self._buffer is None or len(self._buffer) < n:
            self._buffer = self.input.allocate(n)
        raw = self.input.raw(flat, out=self._buffer[:n])
        if raw.dtype == INPUT_DTYPE:  # already the network's input: copy it out of the buffer
            fmt = torch.channels_last if self.channels_last and raw.ndim == 4 else None
            return torch.from_numpy(raw).clone(memory_format=fmt or torch.contiguous_format)
        out = self.input.allocate_float(n, channels_last=self.channels_last)
        return torch.from_numpy(self.input.to_float(raw, out=out))

    def batch(
        self,
        idx: np.ndarray,
        rng: np.random.Generator | None = None,
        aug: AugmentConfig | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, labels) for events ``idx``, augmented when ``rng`` and ``aug`` are given."""
        x = self.inputs(self.objects(idx, rng, aug))
        y = torch.from_numpy(self.table.label[idx].astype(np.int64))
        return x, y


def epoch_order(indices: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The training order of an epoch: a permutation fixed by (seed, epoch)."""
    return np.random.default_rng([seed, epoch, _ORDER_STREAM]).permutation(indices)


def augment_rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, _AUGMENT_STREAM])


def batches(indices: np.ndarray, batch_size: int, min_size: int = 1) -> Iterator[np.ndarray]:
    """Consecutive slices of ``indices``; a last slice smaller than ``min_size`` is dropped
    (BatchNorm cannot train on a batch of one)."""
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        if len(chunk) >= min_size:
            yield chunk


def feature_statistics(
    maker: BatchMaker, indices: np.ndarray, chunk: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and σ of the padded-table features over ``indices`` (un-augmented)."""
    total = None
    total_sq = None
    n = 0
    for idx in batches(indices, chunk):
        x = maker.inputs(maker.objects(idx, None, None)).numpy().astype(np.float64)
        total = x.sum(0) if total is None else total + x.sum(0)
        total_sq = (x**2).sum(0) if total_sq is None else total_sq + (x**2).sum(0)
        n += len(x)
    if n == 0 or total is None or total_sq is None:
        raise ValueError("feature statistics: the training split is empty")
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0))
    return mean, std
