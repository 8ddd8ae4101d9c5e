"""The adversary: a Gaussian-mixture posterior p(m_γγ | D) from the classifier score.

Seed 001 (after Louppe, Kagan & Cranmer, "Learning to pivot"): an MLP with
hidden layers 200-100-50 (ReLU) reads the classifier output D and emits a
5-component Gaussian mixture over the mass scaled to [0, 1] — mixture weights
(softmax), means (sigmoid, on [0, 1]) and widths (softplus).  Each Gaussian is
truncated to [0, 1] (divided by its integral there), so the posterior is a
proper density on the mass window and its negative log-likelihood is a proper
loss.  If D carried no information about m_γγ the best the adversary could do
is the marginal density; every nat it gains over that is mass information the
classifier's score leaks.

We evaluate the log-density with ``logsumexp`` (the seed sums densities and
takes the log, which underflows for narrow components far from the event) and
add a floor of 1e-3 to the widths so a component cannot collapse onto one
event.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
MIN_WIDTH = 1e-3


class MixtureAdversary(nn.Module):
    """MLP(score) → (log-weights, means, widths) of ``components`` Gaussians on [0, 1].

    Args:
        n_inputs: features per event fed to the adversary (1: the score D).
        hidden: hidden layer widths (seed: 200, 100, 50).
        components: Gaussians in the mixture (seed: 5).
    """

    def __init__(self, n_inputs: int = 1, hidden: Sequence[int] = (200, 100, 50),
                 components: int = 5) -> None:
        super().__init__()
        if components < 1:
            raise ValueError(f"adversary: components = {components}, must be >= 1")
        layers: list[nn.Module] = []
        prev = n_inputs
        for width in hidden:
            layers += [nn.Linear(prev, int(width)), nn.ReLU()]
            prev = int(width)
        self.body = nn.Sequential(*layers)
        self.components = int(components)
        self.head = nn.Linear(prev, 3 * self.components)

    def forward(self, score: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log mixture weights, means in [0, 1], widths > 0), each (N, components)."""
        if score.dim() == 1:
            score = score.unsqueeze(1)
        raw = self.head(self.body(score))
        k = self.components
        log_w = functional.log_softmax(raw[:, :k], dim=1)
        mean = torch.sigmoid(raw[:, k:2 * k])
        width = functional.softplus(raw[:, 2 * k:]) + MIN_WIDTH
        return log_w, mean, width

    def log_prob(self, score: torch.Tensor, m01: torch.Tensor) -> torch.Tensor:
        """log p(m | score) per event, for masses ``m01`` scaled to [0, 1]."""
        return mixture_log_prob(*self(score), m01)


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


def mixture_log_prob(log_w: torch.Tensor, mean: torch.Tensor, width: torch.Tensor,
                     m01: torch.Tensor) -> torch.Tensor:
    """log Σ_k w_k N(m; μ_k, σ_k) / ∫₀¹ N(x; μ_k, σ_k) dx, per event (N,)."""
    m = m01.reshape(-1, 1)
    z = (m - mean) / width
    norm = (_normal_cdf((1.0 - mean) / width) - _normal_cdf(-mean / width)).clamp_min(1e-12)
    log_comp = -0.5 * z**2 - torch.log(width) - _LOG_SQRT_2PI - torch.log(norm)
    return torch.logsumexp(log_w + log_comp, dim=1)


def weighted_nll(log_prob: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Σ w·(−log p) / Σ w (the plain mean without weights); 0 for an empty batch."""
    if log_prob.numel() == 0:
        return log_prob.sum() * 0.0
    if weight is None:
        return -log_prob.mean()
    return -(weight * log_prob).sum() / weight.sum().clamp_min(1e-12)
