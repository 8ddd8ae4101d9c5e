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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..models import model_info
from ..models.features import TableSpec
from ..render.config import RenderConfig


def _strict(section: str, data: Any, known: set[str]) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config: {section} must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"config: unknown key(s) {unknown} in {section}; known: {sorted(known)}")
    return dict(data)


@dataclasses.dataclass(frozen=True)
class OptimiserConfig:
    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    """``plateau`` cuts the LR when the validation loss stalls; ``cosine`` anneals it."""

    name: str = "plateau"
    factor: float = 0.5
    patience: int = 2
    min_lr: float = 1e-6


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


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A complete, validated training configuration."""

    task: str
    table: str
    model: str
    model_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    render: RenderConfig | None = None
    features: TableSpec | None = None
    seed: int = 1
    threads: int = 2
    notes: str = ""
    split: SplitConfig = SplitConfig()
    limits: dict[str, int | None] = dataclasses.field(
        default_factory=lambda: {"train": None, "val": None, "test": None}
    )
    epochs: int = 30
    batch_size: int = 128
    eval_batch_size: int = 512
    optimiser: OptimiserConfig = OptimiserConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    early_stopping_patience: int = 5
    balance: str = "loss"
    augment: AugmentConfig = AugmentConfig()
    signal: tuple[str, ...] = ()

    @property
    def input_kind(self) -> str:
        return model_info(self.model).input_kind

    # ---- (de)serialisation ------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        top = _strict(
            "the top level",
            data,
            {
                "task",
                "table",
                "seed",
                "threads",
                "notes",
                "model",
                "render",
                "features",
                "split",
                "limits",
                "training",
                "evaluation",
            },
        )
        for key in ("task", "table", "model"):
            if key not in top:
                raise ConfigError(f"config: missing required key {key!r}")
        model = _strict("model", top["model"], {"name", "params"})
        if "name" not in model:
            raise ConfigError("config: model.name is required")
        try:
            info = model_info(model["name"])
        except ValueError as exc:
            raise ConfigError(f"config: {exc}") from None
        render = features = None
        try:
            if info.input_kind == "image":
                render = RenderConfig.from_dict(top.get("render") or {})
                if top.get("features") is not None:
                    raise ConfigError(
                        f"config: model {info.name!r} takes images; remove 'features'"
                    )
            else:
                spec = top.get("features")
                features = TableSpec.from_dict(spec) if spec else info.default_table_spec
                if top.get("render") is not None:
                    raise ConfigError(
                        f"config: model {info.name!r} takes the object table; remove 'render'"
                    )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"config: {exc}") from None
        tr = _strict(
            "training",
            top.get("training"),
            {
                "epochs",
                "batch_size",
                "eval_batch_size",
                "optimiser",
                "scheduler",
                "early_stopping",
                "balance",
                "augment",
            },
        )
        early = _strict("training.early_stopping", tr.get("early_stopping"), {"patience"})
        limits = _strict("limits", top.get("limits"), {"train", "val", "test"})
        ev = _strict("evaluation", top.get("evaluation"), {"signal"})
        cfg = cls(
            task=str(top["task"]),
            table=str(top["table"]),
            model=info.name,
            model_params=dict(model.get("params") or {}),
            render=render,
            features=features,
            seed=int(top.get("seed", 1)),
            threads=int(top.get("threads", 2)),
            notes=str(top.get("notes", "") or ""),
            split=_sub(SplitConfig, "split", top.get("split")),
            limits={
                k: (None if limits.get(k) is None else int(limits[k]))
                for k in ("train", "val", "test")
            },
            epochs=int(tr.get("epochs", 30)),
            batch_size=int(tr.get("batch_size", 128)),
            eval_batch_size=int(tr.get("eval_batch_size", 512)),
            optimiser=_sub(OptimiserConfig, "training.optimiser", tr.get("optimiser")),
            scheduler=_sub(SchedulerConfig, "training.scheduler", tr.get("scheduler")),
            early_stopping_patience=int(early.get("patience", 5)),
            balance=str(tr.get("balance", "loss")),
            augment=_sub(AugmentConfig, "training.augment", tr.get("augment")),
            signal=tuple(str(s) for s in (ev.get("signal") or ())),
        )
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout, fully expanded (stored in checkpoints and model cards)."""
        return {
            "task": self.task,
            "table": self.table,
            "seed": self.seed,
            "threads": self.threads,
            "notes": self.notes,
            "model": {"name": self.model, "params": dict(self.model_params)},
            "render": self.render.to_dict() if self.render else None,
            "features": self.features.to_dict() if self.features else None,
            "split": dataclasses.asdict(self.split),
            "limits": dict(self.limits),
            "training": {
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "eval_batch_size": self.eval_batch_size,
                "optimiser": dataclasses.asdict(self.optimiser),
                "scheduler": dataclasses.asdict(self.scheduler),
                "early_stopping": {"patience": self.early_stopping_patience},
                "balance": self.balance,
                "augment": dataclasses.asdict(self.augment),
            },
            "evaluation": {"signal": list(self.signal)},
        }

    def replace(self, **changes: Any) -> TrainConfig:
        cfg = dataclasses.replace(self, **changes)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(f"config: {msg}")

        need(self.epochs >= 1, f"training.epochs = {self.epochs}, must be >= 1")
        need(self.batch_size >= 2, f"training.batch_size = {self.batch_size}, must be >= 2")
        need(self.eval_batch_size >= 1, "training.eval_batch_size must be >= 1")
        need(self.threads >= 1, f"threads = {self.threads}, must be >= 1")
        need(
            self.optimiser.name == "adam",
            f"training.optimiser.name = {self.optimiser.name!r}; "
            "only 'adam' (the seeds' optimiser) is implemented",
        )
        need(self.optimiser.lr > 0, "training.optimiser.lr must be > 0")
        need(
            self.scheduler.name in ("plateau", "cosine", "none"),
            f"training.scheduler.name = {self.scheduler.name!r}; choose plateau, cosine or none",
        )
        need(0 < self.scheduler.factor < 1, "training.scheduler.factor must be in (0, 1)")
        need(self.early_stopping_patience >= 1, "training.early_stopping.patience must be >= 1")
        need(
            self.balance in ("loss", "none"),
            f"training.balance = {self.balance!r}; choose loss (class-weighted loss) or none",
        )
        s = self.split
        need(
            0 < s.train < 1 and 0 < s.val < 1 and s.train + s.val < 1,
            f"split: train = {s.train}, val = {s.val}; need both in (0, 1) and a test share left",
        )
        for k, v in self.limits.items():
            need(v is None or v >= 1, f"limits.{k} = {v}, must be null or >= 1")


def _sub(cls: type, section: str, data: Any) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    values = _strict(section, data, known)
    defaults = cls()
    for key, value in values.items():
        # Cast to the default's type: YAML reads ``1e-3`` (no dot) as a string.
        kind = type(getattr(defaults, key))
        try:
            values[key] = kind(value) if kind is not bool else _bool(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"config: {section}.{key} = {value!r}, expected a {kind.__name__}"
            ) from None
    return cls(**values)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(value)


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a training YAML file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    return TrainConfig.from_dict(data)
