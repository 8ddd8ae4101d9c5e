"""The training configuration (one YAML file per task × model, in ``configs/train/``).

Every key is checked: an unknown or misspelt key is a :class:`ConfigError`
naming the known ones, because a silently ignored ``learning_rate:`` would
train something other than what the file says.

Layout (defaults shown where they exist)::

    task: dtw                        # must match the table's manifest task
    table: tables/dtw                # object-table folder (relative to the working dir)
    seed: 1                          # weights, data order, augmentations
    threads: 2                       # torch intra-op threads
    notes: ""                        # free text, e.g. "reduced epochs on CPU"
    model: {name: compact_cnn, params: {}}
    render: {height: 64, width: 64}  # image models: a RenderConfig (style: seed_rgb allowed)
    features: null                   # table models: {slots: {...}, features: [...]}
    split: {train: 0.8, val: 0.1, salt: eventlens-split-v1}
    limits: {train: null, val: null, test: null}   # cap events per split (CPU budgets)
    training:
      epochs: 30
      batch_size: 128
      eval_batch_size: 512
      optimiser: {name: adam, lr: 0.001, weight_decay: 0.0}
      scheduler: {name: plateau, factor: 0.5, patience: 2, min_lr: 1.0e-6}
      early_stopping: {patience: 5}
      balance: loss                  # loss | none
      augment: {phi_rotation: true, eta_reflection: true}
    evaluation:
      signal: [ttbar]                # classes counted as signal in the S-vs-B efficiency
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from ..config import DEFAULT_SOURCE, ConfigValueError, build, dump, load, setting
from ..models import MODEL_NAMES, model_info
from ..models.features import TableSpec
from ..render.config import RenderConfig


@dataclasses.dataclass(frozen=True)
class OptimiserConfig:
    """Adam, the seeds' optimiser (the only one implemented)."""

    name: Literal["adam"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ConfigValueError("lr", f"= {self.lr}, must be > 0")


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    """``plateau`` cuts the LR when the validation loss stalls; ``cosine`` anneals it."""

    name: Literal["plateau", "cosine", "none"] = "plateau"
    factor: float = 0.5
    patience: int = 2
    min_lr: float = 1e-6

    def __post_init__(self) -> None:
        if not 0 < self.factor < 1:
            raise ConfigValueError("factor", f"= {self.factor}, must be in (0, 1)")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Exact symmetries of the event, applied to the objects before drawing."""

    phi_rotation: bool = True
    eta_reflection: bool = True


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """80/10/10 by a hash of each event's identity; keep it equal across models of a task."""

    train: float = 0.8
    val: float = 0.1
    salt: str = "eventlens-split-v1"

    def __post_init__(self) -> None:
        if not (0 < self.train < 1 and 0 < self.val < 1 and self.train + self.val < 1):
            raise ConfigValueError(
                "val", f"= {self.val} with train = {self.train}: need both in (0, 1) and a "
                "test share left"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A complete, validated training configuration.

    Flat for the code that reads it (``cfg.epochs``); each field's ``key`` is
    its place in the YAML layout of the module docstring.  Fields are in the
    order of that layout, which :meth:`to_dict` writes.
    """

    task: str
    table: str
    seed: int = 1
    threads: int = 2
    notes: str = ""
    model: str = setting(key="model.name")
    model_params: dict[str, Any] = setting(key="model.params", default_factory=dict)
    render: RenderConfig | None = None  # image models (default: RenderConfig())
    features: TableSpec | None = None  # table models (default: the model's own spec)
    split: SplitConfig = SplitConfig()
    limits: dict[str, int | None] = setting(
        closed=True, default_factory=lambda: {"train": None, "val": None, "test": None}
    )
    epochs: int = setting(30, key="training.epochs")
    batch_size: int = setting(128, key="training.batch_size")
    eval_batch_size: int = setting(512, key="training.eval_batch_size")
    optimiser: OptimiserConfig = setting(OptimiserConfig(), key="training.optimiser")
    scheduler: SchedulerConfig = setting(SchedulerConfig(), key="training.scheduler")
    early_stopping_patience: int = setting(5, key="training.early_stopping.patience")
    balance: Literal["loss", "none"] = setting("loss", key="training.balance")
    augment: AugmentConfig = setting(AugmentConfig(), key="training.augment")
    signal: tuple[str, ...] = setting((), key="evaluation.signal")
    #: The file the config was read from (for messages; not compared, not stored).
    source: str = setting(DEFAULT_SOURCE, source=True, compare=False)

    def __post_init__(self) -> None:
        if self.model not in MODEL_NAMES:
            raise ConfigValueError(
                "model.name", f"= {self.model!r}: unknown model {self.model!r}; known models: "
                f"{', '.join(MODEL_NAMES)}"
            )
        info = model_info(self.model)
        if info.input_kind == "image":
            if self.features is not None:
                raise ConfigValueError(
                    "features", f"must be left out: model {self.model!r} takes images"
                )
            if self.render is None:
                object.__setattr__(self, "render", RenderConfig())
        else:
            if self.render is not None:
                raise ConfigValueError(
                    "render", f"must be left out: model {self.model!r} takes the object table"
                )
            if self.features is None:
                object.__setattr__(self, "features", info.default_table_spec)
        for key, value, least in (
            ("training.epochs", self.epochs, 1),
            ("training.batch_size", self.batch_size, 2),
            ("training.eval_batch_size", self.eval_batch_size, 1),
            ("threads", self.threads, 1),
            ("training.early_stopping.patience", self.early_stopping_patience, 1),
        ):
            if value < least:
                raise ConfigValueError(key, f"= {value}, must be >= {least}")
        for k, v in self.limits.items():
            if v is not None and v < 1:
                raise ConfigValueError(f"limits.{k}", f"= {v}, must be null or >= 1")

    @property
    def input_kind(self) -> str:
        return model_info(self.model).input_kind

    # ---- (de)serialisation ------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: str = DEFAULT_SOURCE) -> TrainConfig:
        """Build from the YAML layout (a parsed file, or :meth:`to_dict` of a checkpoint)."""
        return build(cls, data, "", source)

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout, fully expanded (stored in checkpoints and model cards)."""
        return dump(self)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a training YAML file."""
    return load(TrainConfig, path, "training config")
