"""Selection configs: ``configs/selection/<task>.yaml`` loaded into typed dataclasses.

Every cut value of a task lives in its YAML file, never in code.  The loader
is strict on purpose: an unknown key (a typo such as ``pt_mni``) raises
:class:`~eventlens.errors.ConfigError` naming the key path and the file, so a
cut can never be silently ignored.  The resolved config is stored, with its
SHA-256, in every output manifest, which makes a table traceable to the exact
cuts that produced it.

Layout shared by all tasks (task-specific parameters go under ``selection``)::

    task: dtw
    luminosity_pb: 1000.0            # weights are events per this luminosity
    classes: [dy, wjets, ttbar]       # class index = position in this list
    labels: {source: metadata, processes: {dy_lowmass: dy}}
    objects:                          # muon / electron / photon / jet blocks
      muon: {collection: Muon, pt_min: 20, abs_eta_max: 2.4,
             id: {branch: tightId}, isolation: {branch: pfRelIso04_all, max: 0.15}}
      jet:  {collection: Jet, pt_min: 30, abs_eta_max: 2.4, id: {branch: jetId, min: 2},
             cleaning_dr: 0.4}
    btag: {branch: btagDeepFlavB, working_point: medium,
           working_points: {loose: 0.049, medium: 0.2783, tight: 0.71}}
    met: {collections: [MET, PFMET, PuppiMET]}   # first one present is used
    selection: {min_leptons: 1, min_jets: 1, min_btag: 0}
    table: {collections: [Electron, Muon, Jet, MET]}
    histograms: {mass: {bins: 100, start: 0, stop: 200}, met: {bins: 50, start: 0, stop: 250}}
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from eventlens.errors import ConfigError

#: NanoAOD-level object kinds a config may select, by their YAML block name.
OBJECT_BLOCKS = ("electron", "muon", "photon", "jet")
#: Collections a training table may contain, in the canonical eventlens order.
TABLE_COLLECTIONS = ("Electron", "Muon", "Photon", "Jet", "MET")
LABEL_SOURCES = ("mass_windows", "metadata")


@dataclass(frozen=True)
class IdCut:
    """An identification requirement: a boolean flag, or an integer/float ``>= min``."""

    branch: str
    min: float | None = None


@dataclass(frozen=True)
class IsoCut:
    """Relative isolation: ``branch < max``."""

    branch: str
    max: float


@dataclass(frozen=True)
class ObjectCuts:
    """Object-level selection of one NanoAOD collection.

    ``eta_gap`` excludes ``lo <= |eta| <= hi`` (the ECAL barrel-endcap gap for
    e/γ).  ``cleaning_dr`` (jets only) removes jets within ΔR of the task's
    selected leptons/photons, so one particle is not drawn twice.  An
    ``optional`` collection that a file lacks is treated as empty instead of
    an error.

    ``draw_pt_min`` (leptons): the event is *selected* on the objects passing
    every cut above, but *drawn* (table, image) with every object of the
    collection above ``draw_pt_min`` inside the same |η| acceptance, whatever
    its ID and isolation — as an analysis counts tight leptons but vetoes on
    loose ones.  A Drell-Yan event whose second muon fails ID or isolation
    passes a one-lepton selection looking like W+jets; drawn, that muon tells
    them apart.
    """

    collection: str
    pt_min: float
    abs_eta_max: float
    eta_gap: tuple[float, float] | None = None
    id: IdCut | None = None
    isolation: IsoCut | None = None
    dxy_max: float | None = None
    dz_max: float | None = None
    cleaning_dr: float | None = None
    optional: bool = False
    draw_pt_min: float | None = None


@dataclass(frozen=True)
class BTagConfig:
    """b-tag discriminant and its named working points (score >= value is tagged)."""

    branch: str
    working_point: str
    working_points: dict[str, float]

    @property
    def threshold(self) -> float:
        return self.working_points[self.working_point]


@dataclass(frozen=True)
class MetConfig:
    """MET collection names, tried in order: NanoAOD v15 calls it ``PFMET``."""

    collections: tuple[str, ...] = ("MET", "PFMET", "PuppiMET")


@dataclass(frozen=True)
class LabelConfig:
    """How an event gets its class index.

    ``mass_windows``: by the task mass, windows inclusive at both edges,
    ``default`` outside all of them.  ``metadata``: per dataset, from the
    fileset metadata ``label`` (class name or index), else ``process``, else
    the dataset name; ``processes`` maps generator process names to classes.
    """

    source: str
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    default: str | None = None
    processes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Binning:
    bins: int
    start: float
    stop: float


@dataclass(frozen=True)
class HistConfig:
    mass: Binning
    met: Binning = Binning(50, 0.0, 250.0)


@dataclass(frozen=True)
class TableConfig:
    """Which of the task's selected collections go into the training table."""

    collections: tuple[str, ...]


@dataclass(frozen=True)
class TaskConfig:
    """A task's complete, validated selection configuration."""

    task: str
    classes: tuple[str, ...]
    labels: LabelConfig
    objects: dict[str, ObjectCuts]
    btag: BTagConfig
    table: TableConfig
    histograms: HistConfig
    luminosity_pb: float = 1000.0
    description: str = ""
    met: MetConfig = MetConfig()
    selection: Any = None  # the task's own parameter dataclass
    source: str = field(default="", metadata={"internal": True})  # file read (not hashed)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data (what the manifest stores)."""
        out = dataclasses.asdict(self)
        out.pop("source")
        return out

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: equal digests mean equal cuts."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


T = TypeVar("T")


def build(cls: type[T], data: Any, where: str, source: str) -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types.

    ``where`` is the dotted key path used in error messages, ``source`` the file.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: '{where}' must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
    known = [f.name for f in fields]
    unknown = sorted(set(data) - set(known))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"{source}: unknown key '{key}' (allowed here: {', '.join(known)})")
    kwargs: dict[str, Any] = {}
    for f in fields:
        path = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            kwargs[f.name] = _coerce(hints[f.name], data[f.name], path, source)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{source}: missing required key '{path}'")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, path: str, source: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, path, source)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path, source)
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{path}' must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{path}' must be an integer, got {value!r}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise ConfigError(f"{source}: '{path}' must be a {hint.__name__}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: '{path}' must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{path}[{i}]", source) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{source}: '{path}' must have {len(args)} entries, got {value!r}")
        return tuple(
            _coerce(a, v, f"{path}[{i}]", source)
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: '{path}' must be a mapping, got {value!r}")
        return {str(k): _coerce(args[1], v, f"{path}.{k}", source) for k, v in value.items()}
    raise TypeError(f"unsupported config type {hint!r} at {path}")  # a bug, not a user error


def default_config_dir() -> Path:
    """Where ``configs/selection`` lives: ``$EVENTLENS_CONFIG_DIR`` or the source tree.

    The YAML files are part of the repository, not of the wheel, so an
    installed copy needs ``EVENTLENS_CONFIG_DIR`` or an explicit ``--config``.
    """
    env = os.environ.get("EVENTLENS_CONFIG_DIR")
    if env:
        return Path(env) / "selection"
    return Path(__file__).resolve().parent.parent / "configs" / "selection"


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping, turning every failure into a ConfigError naming the file."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such selection config") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a selection config must be a YAML mapping")
    return data


def validate_common(
    cfg: TaskConfig, required_objects: tuple[str, ...], provides: tuple[str, ...]
) -> None:
    """Checks that need more than one key: class names, windows, working point, table."""
    src = cfg.source
    if not cfg.classes or len(set(cfg.classes)) != len(cfg.classes):
        raise ConfigError(f"{src}: 'classes' must be a non-empty list of distinct names")
    for block in cfg.objects:
        if block not in OBJECT_BLOCKS:
            raise ConfigError(
                f"{src}: unknown key 'objects.{block}' (allowed here: {', '.join(OBJECT_BLOCKS)})"
            )
    for block in required_objects:
        if block not in cfg.objects:
            raise ConfigError(f"{src}: task {cfg.task} needs 'objects.{block}'")
    for block, cuts in cfg.objects.items():
        if cuts.draw_pt_min is not None and not 0 <= cuts.draw_pt_min <= cuts.pt_min:
            raise ConfigError(
                f"{src}: 'objects.{block}.draw_pt_min' = {cuts.draw_pt_min} must lie in "
                f"[0, pt_min = {cuts.pt_min}] (drawn objects include the selected ones)"
            )
    lab = cfg.labels
    if lab.source not in LABEL_SOURCES:
        raise ConfigError(
            f"{src}: 'labels.source' must be one of {LABEL_SOURCES}, got {lab.source!r}"
        )
    names = set(cfg.classes)
    if lab.source == "mass_windows":
        if lab.default not in names:
            raise ConfigError(
                f"{src}: 'labels.default' must be one of the classes {list(cfg.classes)}"
            )
        edges = sorted(lab.windows.values())
        for name, (lo, hi) in lab.windows.items():
            if name not in names:
                raise ConfigError(f"{src}: 'labels.windows.{name}' is not one of the classes")
            if not lo < hi:
                raise ConfigError(
                    f"{src}: 'labels.windows.{name}' needs low < high, got [{lo}, {hi}]"
                )
        for (_, hi), (lo, _) in itertools.pairwise(edges):
            if lo <= hi:
                raise ConfigError(f"{src}: 'labels.windows' overlap around {lo} GeV")
    for proc, cls in lab.processes.items():
        if cls not in names:
            raise ConfigError(f"{src}: 'labels.processes.{proc}' maps to unknown class {cls!r}")
    if cfg.btag.working_point not in cfg.btag.working_points:
        raise ConfigError(
            f"{src}: 'btag.working_point' {cfg.btag.working_point!r} is not in "
            f"btag.working_points {sorted(cfg.btag.working_points)}"
        )
    if not cfg.table.collections:
        raise ConfigError(f"{src}: 'table.collections' must name at least one collection")
    for coll in cfg.table.collections:
        if coll not in TABLE_COLLECTIONS or coll not in provides:
            raise ConfigError(
                f"{src}: 'table.collections' entry {coll!r}: "
                f"task {cfg.task} provides {list(provides)}"
            )
    for name in ("mass", "met"):
        b: Binning = getattr(cfg.histograms, name)
        if b.bins <= 0 or not b.start < b.stop:
            raise ConfigError(f"{src}: 'histograms.{name}' needs bins > 0 and start < stop")
    if not cfg.luminosity_pb > 0:
        raise ConfigError(f"{src}: 'luminosity_pb' must be positive")
    if not cfg.met.collections:
        raise ConfigError(f"{src}: 'met.collections' must name at least one collection")
