"""The ``adversary:`` block of a training config: it makes ``eventlens train`` adversarial.

A training YAML (``configs/train/*.yaml``, format of
:mod:`eventlens.training.config`) plus one block::

    adversary:
      lambda: 3.0                   # L = L_clf − λ·L_adv (seed 001: λ = 3)
      mass_range: [100.0, 180.0]    # m_γγ mapped to [0, 1] for the posterior
      components: 5                 # Gaussians in the posterior (seed: 5)
      hidden: [200, 100, 50]        # adversary MLP (seed: 200-100-50)
      input: probability            # what it reads: D (seed) or its log-odds, logit
      background_only: true         # the adversary sees background only (seed)
      lr: 1.0e-3                    # adversary Adam learning rate
      joint_lr: null                # classifier learning rate in the joint phase (null: keep)
      extra_steps: 0                # extra adversary-only updates per joint batch
      pretrain_classifier_epochs: 5 # phase 1: classifier alone
      pretrain_adversary_epochs: 3  # phase 2: adversary alone on the frozen score
                                    # phase 3: joint, for the remaining training.epochs

``training.epochs`` is the total over the three phases.  The signal class is
``evaluation.signal`` (exactly one); every other class is background.  The
rest of the file means what it means for a plain run; two keys change
meaning, and are checked rather than silently ignored: the LR schedule must
be ``none`` or ``cosine`` (``plateau`` needs a validation objective that only
goes down, which a min-max game does not have), and early stopping is not
applied — the model after the last joint epoch is the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..config import DEFAULT_SOURCE, ConfigValueError, build, dump, read_yaml, setting
from ..errors import ConfigError
from ..training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class AdversaryConfig:
    """The validated ``adversary:`` block (see the module docstring)."""

    lam: float = setting(3.0, key="lambda")
    mass_range: tuple[float, float] = (100.0, 180.0)
    components: int = 5
    hidden: tuple[int, ...] = (200, 100, 50)
    input: Literal["probability", "logit"] = "probability"
    background_only: bool = True
    lr: float = 1e-3
    joint_lr: float | None = None
    extra_steps: int = 0
    pretrain_classifier_epochs: int = 5
    pretrain_adversary_epochs: int = 3

    def __post_init__(self) -> None:
        def need(ok: bool, key: str, problem: str) -> None:
            if not ok:
                raise ConfigValueError(key, problem)

        need(self.lam >= 0, "lambda", f"= {self.lam}, must be >= 0")
        need(len(self.mass_range) == 2 and self.mass_range[0] < self.mass_range[1],
             "mass_range", f"= {list(self.mass_range)}, need [low, high] with low < high")
        need(self.components >= 1, "components", f"= {self.components}, must be >= 1")
        need(len(self.hidden) >= 1 and min(self.hidden) >= 1,
             "hidden", f"= {list(self.hidden)}, need >= 1 layer of >= 1 unit")
        need(self.lr > 0, "lr", f"= {self.lr}, must be > 0")
        need(self.joint_lr is None or self.joint_lr > 0, "joint_lr",
             f"= {self.joint_lr}, must be > 0")
        need(self.extra_steps >= 0, "extra_steps", f"= {self.extra_steps}, must be >= 0")
        need(self.pretrain_classifier_epochs >= 0, "pretrain_classifier_epochs", "must be >= 0")
        need(self.pretrain_adversary_epochs >= 0, "pretrain_adversary_epochs", "must be >= 0")

    @classmethod
    def from_dict(cls, data: Any, source: str = DEFAULT_SOURCE) -> AdversaryConfig:
        """Build from the ``adversary:`` block (a parsed file, or :meth:`to_dict`)."""
        return build(cls, data, "adversary", source)

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout (key ``lambda``, lists for tuples)."""
        return dump(self)

    def replace(self, **changes: Any) -> AdversaryConfig:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def check_against(self, train: TrainConfig) -> None:
        """Cross-checks with the rest of the training config."""
        src = train.source
        pre = self.pretrain_classifier_epochs + self.pretrain_adversary_epochs
        if train.epochs <= pre:
            raise ConfigError(
                f"{src}: 'training.epochs' = {train.epochs} leaves no joint epochs after "
                f"{self.pretrain_classifier_epochs} + {self.pretrain_adversary_epochs} "
                "pre-training epochs; training.epochs is the total of all three phases")
        if train.scheduler.name == "plateau":
            raise ConfigError(
                f"{src}: 'training.scheduler.name' = 'plateau' cannot drive adversarial training "
                "(the min-max objective does not decrease monotonically); use 'cosine' or 'none'")
        if len(train.signal) != 1:
            raise ConfigError(
                f"{src}: 'evaluation.signal' must name exactly one class for adversarial "
                f"training (the score the adversary reads), got {list(train.signal)}")

    def joint_epochs(self, train: TrainConfig) -> int:
        return train.epochs - self.pretrain_classifier_epochs - self.pretrain_adversary_epochs


def split_config(
    data: Mapping[str, Any], source: str = DEFAULT_SOURCE
) -> tuple[TrainConfig, AdversaryConfig | None]:
    """(the plain training config, the adversary block or None) from a parsed YAML mapping."""
    rest = dict(data)
    block = rest.pop("adversary", None)
    train = TrainConfig.from_dict(rest, source)
    if block is None:
        return train, None
    adv = AdversaryConfig.from_dict(block, source)
    adv.check_against(train)
    return train, adv


def load(path: str | Path) -> tuple[TrainConfig, AdversaryConfig | None]:
    """Read a training YAML; the second element is None for a plain (non-adversarial) config."""
    return split_config(read_yaml(path, "training config"), str(path))


def is_adversarial(path: str | Path) -> bool:
    """Whether a training YAML has an ``adversary:`` block (for ``eventlens train`` to dispatch)."""
    return "adversary" in read_yaml(path, "training config")


def full_dict(train: TrainConfig, adv: AdversaryConfig | None) -> dict[str, Any]:
    """The YAML layout of both parts (what ``config.yaml`` in a run folder holds)."""
    data = train.to_dict()
    if adv is not None:
        data["adversary"] = adv.to_dict()
    return data
