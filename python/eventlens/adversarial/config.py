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
from typing import Any

import yaml

from ..errors import ConfigError
from ..training.config import TrainConfig

_KEYS = {
    "lambda", "mass_range", "components", "hidden", "background_only", "lr", "extra_steps",
    "pretrain_classifier_epochs", "pretrain_adversary_epochs", "joint_lr", "input",
}


@dataclasses.dataclass(frozen=True)
class AdversaryConfig:
    """The validated ``adversary:`` block (see the module docstring)."""

    lam: float = 3.0
    mass_range: tuple[float, float] = (100.0, 180.0)
    components: int = 5
    hidden: tuple[int, ...] = (200, 100, 50)
    input: str = "probability"
    background_only: bool = True
    lr: float = 1e-3
    joint_lr: float | None = None
    extra_steps: int = 0
    pretrain_classifier_epochs: int = 5
    pretrain_adversary_epochs: int = 3

    @classmethod
    def from_dict(cls, data: Any) -> AdversaryConfig:
        if not isinstance(data, Mapping):
            raise ConfigError(f"config: adversary must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ConfigError(
                f"config: unknown key(s) {unknown} in adversary; known: {sorted(_KEYS)}")
        d = cls()
        try:
            mass_range = tuple(float(x) for x in data.get("mass_range", d.mass_range))
            cfg = cls(
                lam=float(data.get("lambda", d.lam)),
                mass_range=mass_range,  # type: ignore[arg-type]
                components=int(data.get("components", d.components)),
                hidden=tuple(int(h) for h in data.get("hidden", d.hidden)),
                input=str(data.get("input", d.input)),
                background_only=_bool(data.get("background_only", d.background_only)),
                lr=float(data.get("lr", d.lr)),
                joint_lr=None if data.get("joint_lr") is None else float(data["joint_lr"]),
                extra_steps=int(data.get("extra_steps", d.extra_steps)),
                pretrain_classifier_epochs=int(
                    data.get("pretrain_classifier_epochs", d.pretrain_classifier_epochs)),
                pretrain_adversary_epochs=int(
                    data.get("pretrain_adversary_epochs", d.pretrain_adversary_epochs)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"config: adversary: {exc}") from None
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout (key ``lambda``, lists for tuples)."""
        return {
            "lambda": self.lam,
            "mass_range": list(self.mass_range),
            "components": self.components,
            "hidden": list(self.hidden),
            "input": self.input,
            "background_only": self.background_only,
            "lr": self.lr,
            "joint_lr": self.joint_lr,
            "extra_steps": self.extra_steps,
            "pretrain_classifier_epochs": self.pretrain_classifier_epochs,
            "pretrain_adversary_epochs": self.pretrain_adversary_epochs,
        }

    def replace(self, **changes: Any) -> AdversaryConfig:
        cfg = dataclasses.replace(self, **changes)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(f"config: adversary.{msg}")

        need(self.lam >= 0, f"lambda = {self.lam}, must be >= 0")
        need(len(self.mass_range) == 2 and self.mass_range[0] < self.mass_range[1],
             f"mass_range = {list(self.mass_range)}, need [low, high] with low < high")
        need(self.components >= 1, f"components = {self.components}, must be >= 1")
        need(len(self.hidden) >= 1 and min(self.hidden) >= 1,
             f"hidden = {list(self.hidden)}, need >= 1 layer of >= 1 unit")
        need(self.lr > 0, f"lr = {self.lr}, must be > 0")
        need(self.input in ("probability", "logit"),
             f"input = {self.input!r}, choose probability or logit")
        need(self.joint_lr is None or self.joint_lr > 0, f"joint_lr = {self.joint_lr}, must be > 0")
        need(self.extra_steps >= 0, f"extra_steps = {self.extra_steps}, must be >= 0")
        need(self.pretrain_classifier_epochs >= 0, "pretrain_classifier_epochs must be >= 0")
        need(self.pretrain_adversary_epochs >= 0, "pretrain_adversary_epochs must be >= 0")

    def check_against(self, train: TrainConfig) -> None:
        """Cross-checks with the rest of the training config."""
        pre = self.pretrain_classifier_epochs + self.pretrain_adversary_epochs
        if train.epochs <= pre:
            raise ConfigError(
                f"config: training.epochs = {train.epochs} leaves no joint epochs after "
                f"{self.pretrain_classifier_epochs} + {self.pretrain_adversary_epochs} "
                "pre-training epochs; training.epochs is the total of all three phases")
        if train.scheduler.name == "plateau":
            raise ConfigError(
                "config: training.scheduler.name = 'plateau' cannot drive adversarial training "
                "(the min-max objective does not decrease monotonically); use 'cosine' or 'none'")
        if len(train.signal) != 1:
            raise ConfigError(
                f"config: adversarial training needs exactly one evaluation.signal class "
                f"(the score the adversary reads), got {list(train.signal)}")

    def joint_epochs(self, train: TrainConfig) -> int:
        return train.epochs - self.pretrain_classifier_epochs - self.pretrain_adversary_epochs


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {value!r}")


def split_config(data: Mapping[str, Any]) -> tuple[TrainConfig, AdversaryConfig | None]:
    """(the plain training config, the adversary block or None) from a parsed YAML mapping."""
    rest = dict(data)
    block = rest.pop("adversary", None)
    train = TrainConfig.from_dict(rest)
    if block is None:
        return train, None
    adv = AdversaryConfig.from_dict(block)
    adv.check_against(train)
    return train, adv


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    return dict(data)


def load(path: str | Path) -> tuple[TrainConfig, AdversaryConfig | None]:
    """Read a training YAML; the second element is None for a plain (non-adversarial) config."""
    return split_config(read_yaml(path))


def is_adversarial(path: str | Path) -> bool:
    """Whether a training YAML has an ``adversary:`` block (for ``eventlens train`` to dispatch)."""
    return "adversary" in read_yaml(path)


def full_dict(train: TrainConfig, adv: AdversaryConfig | None) -> dict[str, Any]:
    """The YAML layout of both parts (what ``config.yaml`` in a run folder holds)."""
    data = train.to_dict()
    if adv is not None:
        data["adversary"] = adv.to_dict()
    return data
