"""Selection configs: ``configs/selection/<task>.yaml`` loaded into typed dataclasses.

This is the schema; the task modules (``eventlens.processors.<task>``) hold the
physics that reads it, and ``eventlens.processors.registry.load_config`` ties a
file to its task.

Every cut value of a task lives in its YAML file, never in code.  The loader
is strict on purpose: an unknown key (a typo such as ``pt_mni``) raises
:class:`~eventlens.errors.ConfigError` naming the key path and the file, so a
cut can never be silently ignored.  The resolved config is stored, with its
SHA-256, in every output manifest, which makes a table traceable to the exact
cuts that produced it.

**The digest covers the effective cuts only** (:meth:`TaskConfig.cut_data`):
a field added later with a "no cut" default (``draw_pt_min``, ``electron_veto``,
``jet_cleaning``, ``id.endcap_min``, ...) enters it only when set, so adding
such a field leaves every existing config's digest — and the model cards that
record it — unchanged; and names that only say where a number came from (the
``era``, ``btag.algorithm``, ``id.working_point``) are left out, because the
numbers they select are in.  Two configs with the same digest select and
draw the same events.

**Eras** (``era: 2018``): ``eventlens.config.eras`` fills in the b-tag
algorithm and thresholds and the named ID/isolation working points of
``configs/eras.yaml`` before the config is built; values written in the
config win.

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
    era: 2018                        # working points from configs/eras.yaml (eventlens.config.eras)
    btag: {working_point: medium}     # the era's tagger (DeepJet) and thresholds; or explicit:
    # btag: {branch: btagDeepFlavB, working_point: medium,
    #        working_points: {loose: 0.049, medium: 0.2783, tight: 0.71}}
    met: {collections: [MET, PFMET, PuppiMET]}   # first one present is used
    selection: {min_leptons: 1, min_jets: 1, min_btag: 0}
    table: {collections: [Electron, Muon, Jet, MET]}
    histograms: {mass: {bins: 100, start: 0, stop: 200}, met: {bins: 50, start: 0, stop: 250}}

Two optional blocks (issue 15, :class:`DataConfig` and :class:`MeasurementConfig`),
left out of :meth:`TaskConfig.digest` while they hold their defaults, so that
adding them changed no existing config's digest (nor a shipped model card's)::

    data:                               # collision data only (files without genWeight)
      lumi_mask: Cert_2018_golden.json  # certified runs/lumi sections (coffea LumiMask);
                                        #   relative to this file; cutflow step 'lumi_mask'
      triggers: [HLT_IsoMu24, HLT_Ele32_WPTight_Gsf]   # OR-ed; cutflow step 'trigger'
    measurement:                        # what eventlens infer fills into OUT/histograms.json
      corrections: eventlens_detector   # scale factors: configs/corrections/<name>.yaml,
                                        #   or a path (relative to this file), or null (none)
      shapes: {jes: 0.02, jer: 0.10, met_unclustered: 0.10, muon_scale: 0.002}  # 0: off
      score_bins: 20                    # the 'score' observable, on [1/K, 1]
      baseline_jets: [1, 2, 3, 4]       # cut-based baseline regions: jet-multiplicity bins
      baseline_btags: [0, 1, 2]         #   x b-tag bins (lower edges, the last one open)

(The shape systematics are defined in :mod:`eventlens.processors.systematics`.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from . import build, read_yaml, setting
from .eras import resolve_selection

if TYPE_CHECKING:  # the task registry imports this module, not the other way round
    from eventlens.processors.task import Task

#: NanoAOD-level object kinds a config may select, by their YAML block name.
OBJECT_BLOCKS = ("electron", "muon", "photon", "jet")
#: Collections a training table may contain, in the canonical eventlens order.
TABLE_COLLECTIONS = ("Electron", "Muon", "Photon", "Jet", "MET")
LABEL_SOURCES = ("mass_windows", "metadata")


#: Field metadata saying how a field enters the digest (:meth:`TaskConfig.cut_data`).
DIGEST = "digest"
#: ... only when set (not None): a field added with a "no cut" default.
IF_SET = "if_set"
#: ... never: a name saying where values came from (the values themselves are in), or
#: a block that cuts nothing the model was trained on (data requirements, systematics).
NAME_ONLY = "name_only"
#: |η| where the ECAL barrel ends: the EGM ID MVAs have separate barrel/endcap cuts.
ECAL_BARREL_ABS_ETA = 1.479


_IF_SET = {DIGEST: IF_SET}
_NAME_ONLY = {DIGEST: NAME_ONLY}


@dataclass(frozen=True)
class IdCut:
    """An identification requirement: a boolean flag, or an integer/float ``>= min``.

    ``endcap_min``: the threshold for |η| ≥ 1.479 (ECAL endcap), where the EGM
    photon/electron MVAs have their own working point; ``min`` then applies to
    the barrel.  ``working_point`` names the era-table entry the values came
    from (``wp90``, ``tight``); the loader fills ``branch``/``min``/``endcap_min``
    from it (see ``eventlens.config.eras``).
    """

    branch: str
    min: float | None = None
    endcap_min: float | None = field(default=None, metadata=_IF_SET)
    working_point: str | None = field(default=None, metadata=_NAME_ONLY)


@dataclass(frozen=True)
class IsoCut:
    """Relative isolation: ``branch < max`` (``working_point``: the era-table entry)."""

    branch: str
    max: float
    working_point: str | None = field(default=None, metadata=_NAME_ONLY)


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

    ``electron_veto`` (photons): require the NanoAOD ``electronVeto`` flag (no
    pixel seed / conversion-safe veto), which removes electrons reconstructed
    as photons.  ``jet_cleaning`` (leptons): only the selected objects that
    also pass this isolation remove jets (the jet block's ``cleaning_dr``),
    as CMS cleans jets against isolated leptons; a non-isolated muon from a
    b or c decay then stays inside its jet.  Unset: every selected object cleans.
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
    draw_pt_min: float | None = field(default=None, metadata=_IF_SET)
    electron_veto: bool | None = field(default=None, metadata=_IF_SET)
    jet_cleaning: IsoCut | None = field(default=None, metadata=_IF_SET)


@dataclass(frozen=True)
class BTagConfig:
    """b-tag discriminant and its named working points (score >= value is tagged).

    With an ``era``, ``branch`` and ``working_points`` come from the era table
    for ``algorithm`` (default: the era's, e.g. DeepJet in Run 2).
    """

    branch: str
    working_point: str
    working_points: dict[str, float]
    algorithm: str | None = field(default=None, metadata=_NAME_ONLY)

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


# ---- issue 15: data handling and the measurement (own blocks: kept apart for merges) ----
#: Shape systematics and their default sizes (relative; meaning:
#: :mod:`eventlens.processors.systematics`).  0 switches one off.
DEFAULT_SHAPES: dict[str, float] = {
    "jes": 0.02,
    "jer": 0.10,
    "met_unclustered": 0.10,
    "muon_scale": 0.002,
}
#: ``measurement.corrections`` naming a shipped set: ``configs/corrections/<name>.yaml``.
DEFAULT_CORRECTIONS = "eventlens_detector"


@dataclass(frozen=True)
class DataConfig:
    """Requirements on collision data only (files without ``genWeight``); simulation
    passes them.  Each is a counted cutflow step when set (module docstring)."""

    lumi_mask: str | None = None
    triggers: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeasurementConfig:
    """What ``eventlens infer`` fills into the histogram contract (module docstring)."""

    corrections: str | None = DEFAULT_CORRECTIONS
    shapes: dict[str, float] = setting(default_factory=lambda: dict(DEFAULT_SHAPES), closed=True)
    score_bins: int = 20
    baseline_jets: tuple[int, ...] = (1, 2, 3, 4)
    baseline_btags: tuple[int, ...] = (0, 1, 2)


def config_file(value: str, source: str) -> Path:
    """A file named in a selection config: relative paths from the config's folder."""
    path = Path(value).expanduser()
    if path.is_absolute() or not source:
        return path
    return Path(source).parent / path


def corrections_path(cfg: TaskConfig) -> Path | None:
    """The corrections YAML of ``measurement.corrections`` (None: no scale factors)."""
    name = cfg.measurement.corrections
    if name is None:
        return None
    if "/" not in name and not name.endswith((".yaml", ".yml")):
        from ..resources import config_dir

        return config_dir() / "corrections" / f"{name}.yaml"
    return config_file(name, cfg.source)


def lumi_mask_path(cfg: TaskConfig) -> Path | None:
    """The golden JSON of ``data.lumi_mask`` (None: no lumi mask)."""
    return None if cfg.data.lumi_mask is None else config_file(cfg.data.lumi_mask, cfg.source)


def validate_measurement(cfg: TaskConfig) -> None:
    """Checks of the ``data`` and ``measurement`` blocks (ConfigError naming the key)."""
    src = cfg.source
    for i, path in enumerate(cfg.data.triggers):
        if not path.startswith("HLT_"):
            raise ConfigError(
                f"{src}: 'data.triggers[{i}]' = {path!r} must be a NanoAOD trigger branch (HLT_...)"
            )
    mask = lumi_mask_path(cfg)
    if mask is not None and not mask.is_file():
        raise ConfigError(f"{src}: 'data.lumi_mask': no such file {mask}")
    m = cfg.measurement
    for name, size in m.shapes.items():
        if not 0.0 <= size < 1.0:
            raise ConfigError(
                f"{src}: 'measurement.shapes.{name}' = {size} must lie in [0, 1) (relative; 0: off)"
            )
    if m.score_bins < 1:
        raise ConfigError(f"{src}: 'measurement.score_bins' must be a positive integer")
    for key in ("baseline_jets", "baseline_btags"):
        edges = getattr(m, key)
        if not edges or any(e < 0 for e in edges) or list(edges) != sorted(set(edges)):
            raise ConfigError(
                f"{src}: 'measurement.{key}' must be increasing non-negative lower edges, "
                f"got {list(edges)}"
            )


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
    # ---- issue 15 (DataConfig, MeasurementConfig above): not cuts on the simulation a
    # model is trained on (data-only requirements, systematics), so outside the digest
    data: DataConfig = field(default_factory=DataConfig, metadata=_NAME_ONLY)
    measurement: MeasurementConfig = field(default_factory=MeasurementConfig, metadata=_NAME_ONLY)
    era: str | None = field(default=None, metadata=_NAME_ONLY)
    source: str = setting("", source=True)  # the file read (not hashed)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data (what the manifest stores).

        The ``data`` and ``measurement`` blocks are left out while they hold their
        defaults (module docstring).
        """
        out = dataclasses.asdict(self)
        out.pop("source")
        for key, default in (("data", DataConfig()), ("measurement", MeasurementConfig())):
            if getattr(self, key) == default:
                out.pop(key)
        return out

    def cut_data(self) -> dict[str, Any]:
        """What the digest covers: :meth:`to_dict` without the fields that are no cut
        (unset "if set" fields, names such as the era; see the module docstring)."""
        data = _cut_data(self)
        assert isinstance(data, dict)
        return data

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form of the effective cuts: equal digests mean
        equal cuts, and a field added with a no-cut default changes no existing digest."""
        text = json.dumps(self.cut_data(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _cut_data(value: Any) -> Any:
    """``dataclasses.asdict`` minus the fields :data:`DIGEST` metadata leaves out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            mode = f.metadata.get(DIGEST)
            if f.metadata.get("source") or mode == NAME_ONLY or (mode == IF_SET and item is None):
                continue
            out[f.name] = _cut_data(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_cut_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _cut_data(v) for k, v in value.items()}
    return value


def load_task_config(
    spec: Task, path: str | Path, luminosity_pb: float | None = None
) -> TaskConfig:
    """Read and validate the selection config ``path`` of task ``spec``.

    ``spec.params`` types the file's ``selection`` block; ``luminosity_pb``
    overrides the file's value (the CLI's ``--lumi``).  Callers normally go
    through :func:`eventlens.processors.registry.load_config`, which knows
    where a task's file is.
    """
    source = str(path)
    data = resolve_selection(read_yaml(path, "selection config"), source)
    if data.get("task", spec.name) != spec.name:
        raise ConfigError(f"{source}: is a config for task {data['task']!r}, not {spec.name!r}")
    data = {**data, "task": spec.name}
    selection = data.pop("selection", None)
    objects = data.get("objects") or {}
    for block in objects if isinstance(objects, dict) else ():
        if block not in OBJECT_BLOCKS:
            allowed = ", ".join(OBJECT_BLOCKS)
            raise ConfigError(f"{source}: unknown key 'objects.{block}' (allowed here: {allowed})")
    cfg = build(TaskConfig, data, "", source)
    cfg = dataclasses.replace(cfg, selection=build(spec.params, selection, "selection", source))
    if luminosity_pb is not None:
        cfg = dataclasses.replace(cfg, luminosity_pb=float(luminosity_pb))
    validate_common(cfg, spec.objects, spec.provides)
    validate_measurement(cfg)
    return cfg


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
        if cuts.electron_veto is not None and block != "photon":
            raise ConfigError(
                f"{src}: 'objects.{block}.electron_veto' applies to photons only (the "
                "Photon_electronVeto flag)"
            )
        if cuts.jet_cleaning is not None and block not in ("electron", "muon"):
            raise ConfigError(
                f"{src}: 'objects.{block}.jet_cleaning' applies to leptons only (electron, muon)"
            )
        if cuts.id is not None and cuts.id.endcap_min is not None and cuts.id.min is None:
            raise ConfigError(
                f"{src}: 'objects.{block}.id.endcap_min' needs 'min' (the barrel threshold)"
            )
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
