"""Gradient reversal: identity forward, gradient × (−λ) backward.

Why a reversal layer rather than alternating updates: with it one backward
pass of ``L_clf + L_adv`` gives the adversary the gradient of ``L_adv``
(it learns to predict m_γγ) and the classifier the gradient of
``L_clf − λ·L_adv`` (it learns to classify while making the adversary fail) —
exactly the seed's ``L = L_clf − λ·L_adv`` — with no second forward pass and no
bookkeeping of which network is frozen.  The seed (Keras) does the same with a
``GradientReversalLayer``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * (-ctx.scale), None


def reverse_gradient(x: torch.Tensor, lam: float) -> torch.Tensor:
    """``x`` unchanged; the gradient flowing back through it is multiplied by −``lam``.

    ``lam = 0`` blocks the gradient entirely (the classifier then trains as if
    there were no adversary, which makes λ = 0 the plain classifier).
    """
    if lam < 0:
        raise ValueError(f"gradient reversal: lambda = {lam} must be >= 0")
    return _Reverse.apply(x, float(lam))


class GradientReversal(nn.Module):
    """Module form of :func:`reverse_gradient` with a settable λ."""

    def __init__(self, lam: float) -> None:
        super().__init__()
        self.lam = float(lam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reverse_gradient(x, self.lam)

    def extra_repr(self) -> str:
        return f"lambda={self.lam}"
