"""One optimisation step of each phase, on tensors (no tables, no files).

Kept apart from the trainer so the tests can drive the exact update the
training uses on a toy in memory.

Losses:

* ``L_clf``: cross entropy of the classifier's logits (class-weighted when
  ``class_weights`` is given, as the plain training does);
* ``L_adv``: the adversary's negative log-likelihood of m_γγ (scaled to
  [0, 1]) given the classifier's signal probability D, over background events
  only when ``background_only`` (the seed's choice: the signal *should* peak
  at 125 GeV; only the background must stay smooth), weighted by the physics
  weights;
* the classifier minimises ``L_clf − λ·L_adv`` through the gradient reversal
  layer, the adversary minimises ``L_adv``; the total reported is
  ``L_clf − λ·L_adv``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.nn import functional

from .grl import reverse_gradient
from .posterior import MixtureAdversary, weighted_nll


@dataclasses.dataclass
class StepLosses:
    """Losses of one step (floats); ``adv`` is None without background events."""

    clf: float
    adv: float | None
    total: float
    n_adversary: int


def signal_score(logits: torch.Tensor, signal_index: int) -> torch.Tensor:
    """D = softmax(logits)[:, signal], the signal probability (the seed's sigmoid output)."""
    return torch.softmax(logits, dim=1)[:, signal_index]


def adversary_input(logits: torch.Tensor, signal_index: int, kind: str = "probability"
                    ) -> torch.Tensor:
    """What the adversary reads: D itself (``probability``, the seed's choice) or its
    log-odds log D − log(1 − D) (``logit``).

    Why the option: a classifier can hide mass information where D saturates
    (D = 0.001 vs 0.002 for background events far from the peak); on the log-odds
    scale those differences are as visible to the adversary as any other.
    """
    if kind == "probability":
        return signal_score(logits, signal_index)
    if kind == "logit":
        log_p = torch.log_softmax(logits, dim=1)
        others = torch.cat([log_p[:, :signal_index], log_p[:, signal_index + 1:]], dim=1)
        return log_p[:, signal_index] - torch.logsumexp(others, dim=1)
    raise ValueError(f"adversary input {kind!r}: choose probability or logit")


def scale_mass(mass: torch.Tensor, mass_range: tuple[float, float]) -> torch.Tensor:
    """m → (m − low)/(high − low), so the window maps onto the posterior's [0, 1]."""
    lo, hi = mass_range
    return (mass - lo) / (hi - lo)


def adversary_mask(labels: torch.Tensor, m01: torch.Tensor, signal_index: int,
                   background_only: bool) -> torch.Tensor:
    """Events the adversary learns from: background (or all) with the mass inside the window."""
    inside = (m01 >= 0) & (m01 <= 1) & torch.isfinite(m01)
    return inside & (labels != signal_index) if background_only else inside


def joint_step(
    classifier: nn.Module,
    adversary: MixtureAdversary,
    clf_opt: torch.optim.Optimizer,
    adv_opt: torch.optim.Optimizer,
    x: torch.Tensor,
    labels: torch.Tensor,
    m01: torch.Tensor,
    weight: torch.Tensor,
    lam: float,
    signal_index: int,
    class_weights: torch.Tensor | None = None,
    background_only: bool = True,
    extra_steps: int = 0,
    input_kind: str = "probability",
) -> StepLosses:
    """One joint update: classifier on ``L_clf − λ·L_adv`` (reversal), adversary on ``L_adv``."""
    logits = classifier(x)
    l_clf = functional.cross_entropy(logits, labels, weight=class_weights)
    d = adversary_input(logits, signal_index, input_kind)
    mask = adversary_mask(labels, m01, signal_index, background_only)
    n_adv = int(mask.sum())
    clf_opt.zero_grad(set_to_none=True)
    adv_opt.zero_grad(set_to_none=True)
    if n_adv:
        log_p = adversary.log_prob(reverse_gradient(d[mask], lam), m01[mask])
        l_adv = weighted_nll(log_p, weight[mask])
        (l_clf + l_adv).backward()
    else:
        l_adv = None
        l_clf.backward()
    clf_opt.step()
    if n_adv:
        adv_opt.step()
        d_fixed = d.detach()[mask]
        for _ in range(extra_steps):
            adversary_step(adversary, adv_opt, d_fixed, m01[mask], weight[mask])
    adv_value = None if l_adv is None else float(l_adv.detach())
    return StepLosses(clf=float(l_clf.detach()), adv=adv_value,
                      total=float(l_clf.detach()) - lam * (adv_value or 0.0), n_adversary=n_adv)


def adversary_step(adversary: MixtureAdversary, adv_opt: torch.optim.Optimizer,
                   score: torch.Tensor, m01: torch.Tensor, weight: torch.Tensor | None) -> float:
    """One adversary-only update on fixed scores (pre-training and ``extra_steps``)."""
    adv_opt.zero_grad(set_to_none=True)
    loss = weighted_nll(adversary.log_prob(score, m01), weight)
    loss.backward()
    adv_opt.step()
    return float(loss.detach())


@torch.no_grad()
def evaluate_losses(
    logits: torch.Tensor,
    labels: torch.Tensor,
    m01: torch.Tensor,
    weight: torch.Tensor,
    adversary: MixtureAdversary,
    lam: float,
    signal_index: int,
    class_weights: torch.Tensor | None = None,
    background_only: bool = True,
    input_kind: str = "probability",
) -> StepLosses:
    """The three losses on held-out predictions (no update)."""
    l_clf = float(functional.cross_entropy(logits, labels, weight=class_weights))
    mask = adversary_mask(labels, m01, signal_index, background_only)
    n_adv = int(mask.sum())
    adv: float | None = None
    if n_adv:
        was_training = adversary.training
        adversary.eval()
        d = adversary_input(logits, signal_index, input_kind)[mask]
        adv = float(weighted_nll(adversary.log_prob(d, m01[mask]), weight[mask]))
        adversary.train(was_training)
    return StepLosses(clf=l_clf, adv=adv, total=l_clf - lam * (adv or 0.0), n_adversary=n_adv)
