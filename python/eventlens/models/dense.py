"""Fully connected baselines on the padded object table.

* ``ffn`` — seed 002 §6: "a net of 5 hidden layers with 500 units per layer
  and standard 50 % dropout between layers", on the objects padded to a fixed
  number of slots per type (:data:`~eventlens.models.features.FFN_DEFAULT_SPEC`).
* ``hgg_fcn`` — seed 001's classifier on the two photons' four-vectors
  (pT, η, φ, E), hidden layers 24-16-8.  The adversarial decorrelation from
  m_γγ is a later step; this is the plain classifier it starts from.

Both standardise their input with the training split's mean and σ, kept as
buffers: they are saved with the weights and exported into the ONNX graph, so
the deployed model takes the raw padded table and cannot be fed features
standardised with other numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class Standardise(nn.Module):
    """(x − mean) / σ with fixed buffers (identity until :meth:`set` is called)."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def set(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Set from training-set statistics; σ below 1e-6 (constant features) becomes 1."""
        std = np.where(np.asarray(std) < 1e-6, 1.0, std)
        self.mean.copy_(torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    """Standardise → [Linear → activation → Dropout] × n → Linear."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: Sequence[int],
        dropout: float,
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.standardise = Standardise(n_features)
        layers: list[nn.Module] = []
        prev = n_features
        for width in hidden:
            layers += [nn.Linear(prev, width), activation()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = width
        layers.append(nn.Linear(prev, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.standardise(x))


def build_ffn(
    input_shape: tuple[int, ...],
    n_classes: int,
    hidden: Sequence[int] = (500, 500, 500, 500, 500),
    dropout: float = 0.5,
) -> MLP:
    """Seed 002 §6: 5 hidden layers × 500 units, ReLU, dropout 0.5."""
    return MLP(input_shape[0], n_classes, tuple(hidden), dropout)


def build_hgg_fcn(
    input_shape: tuple[int, ...],
    n_classes: int,
    hidden: Sequence[int] = (24, 16, 8),
    dropout: float = 0.0,
) -> MLP:
    """Seed 001: hidden layers 24-16-8 (ReLU) on the two photons' (pT, η, φ, E)."""
    return MLP(input_shape[0], n_classes, tuple(hidden), dropout)
