"""CMS data-taking eras and their working points: ``configs/eras.yaml`` as typed data.

The one table of numbers that depend on the era: b-tag algorithms and their
working points (BTV), photon, electron and muon ID working points (EGM, MUO),
muon isolation working points and the year's mean pileup.  Every value in
the YAML names its source.  A selection config says ``era: 2018`` and asks
for working points by name; :func:`resolve_selection` fills them in before the
strict loader builds the config, so the resolved config (manifest, digest)
holds the numbers themselves and a changed table shows up as changed cuts.

Explicit values in a selection config win over the table (``btag.working_points``,
``objects.photon.id.min``, ...): the table supplies only what the config leaves out.

Run-time checks (:func:`era_mismatches`): a fileset's datasets may carry
``metadata.era``; a selection config of another era, or a model (its card's
era) trained on another era's files, is reported with both eras named.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..resources import shipped
from . import build, config_dir, read_yaml

log = logging.getLogger(__name__)

#: Metadata key of a fileset dataset naming the era of its files.
ERA_KEY = "era"


@dataclass(frozen=True)
class Tagger:
    """One b-tag algorithm of an era: its NanoAOD branch (without ``Jet_``) and thresholds."""

    branch: str
    working_points: dict[str, float]
    source: str


@dataclass(frozen=True)
class BTagTable:
    """The era's b-taggers; ``default`` is used when a config names no algorithm."""

    default: str
    taggers: dict[str, Tagger]


@dataclass(frozen=True)
class IdPoint:
    """One named ID working point: a flag (``min`` null) or ``branch >= min``
    (``endcap_min`` for |η| beyond the ECAL barrel, where the EGM MVAs have their own cut)."""

    branch: str
    min: float | None = None
    endcap_min: float | None = None


@dataclass(frozen=True)
class ObjectIds:
    """The ID working points of one object kind (electron, muon, photon) in an era."""

    name: str
    source: str
    working_points: dict[str, IdPoint]


@dataclass(frozen=True)
class IsoPoint:
    """One named isolation working point: ``branch < max``."""

    branch: str
    max: float


@dataclass(frozen=True)
class Era:
    """One era's row of the table."""

    run: int
    nanoaod: str
    btag: BTagTable
    ids: dict[str, ObjectIds]
    isolation: dict[str, dict[str, IsoPoint]] = field(default_factory=dict)
    pileup_mean: float | None = None
    name: str = ""

    def tagger(self, algorithm: str | None, where: str) -> tuple[str, Tagger]:
        """(name, tagger) of ``algorithm`` (None: the era's default); ConfigError otherwise."""
        name = algorithm or self.btag.default
        if name not in self.btag.taggers:
            raise ConfigError(
                f"{where}: 'btag.algorithm' {name!r} has no working points in era {self.name} "
                f"(its algorithms: {', '.join(self.btag.taggers)})"
            )
        return name, self.btag.taggers[name]


@dataclass(frozen=True)
class EraTable:
    """The whole file: ``eras`` by name; ``shared`` holds the YAML anchors only."""

    eras: dict[str, Era]
    shared: Any = None
    source: str = ""


def table_path() -> Path:
    """``eras.yaml`` of the config folder (``$EVENTLENS_CONFIG_DIR``), else the shipped one:
    a replacement config folder made before the table existed keeps working."""
    path = config_dir() / "eras.yaml"
    return path if path.exists() else shipped("configs") / "eras.yaml"


@functools.cache
def _load(path: str) -> EraTable:
    table = build(EraTable, read_yaml(path, "era table"), "", path)
    eras = {}
    for name, era in table.eras.items():
        if era.btag.default not in era.btag.taggers:
            raise ConfigError(
                f"{path}: 'eras.{name}.btag.default' {era.btag.default!r} is not one of its "
                f"taggers ({', '.join(era.btag.taggers)})"
            )
        eras[name] = dataclasses.replace(era, name=name)
    return EraTable(eras=eras, source=path)


def load_eras(path: str | Path | None = None) -> EraTable:
    """The era table (cached per path)."""
    return _load(str(path or table_path()))


def era_names() -> tuple[str, ...]:
    """Every era of the table, in table order."""
    return tuple(load_eras().eras)


def get_era(name: Any, where: str = "config", key: str = "era") -> Era:
    """The era called ``name``; a one-line ConfigError naming ``key`` and the allowed eras."""
    table = load_eras()
    text = str(name)
    if text not in table.eras:
        raise ConfigError(
            f"{where}: '{key}' = {name!r} is not a known era (allowed: "
            f"{', '.join(table.eras)}; the table is {table.source})"
        )
    return table.eras[text]


# ---- selection configs -----------------------------------------------------------------
def resolve_selection(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The parsed selection YAML ``data`` with the working points its ``era`` names filled in.

    * ``btag``: ``algorithm`` (default: the era's) gives ``branch`` and
      ``working_points`` unless the config sets them;
    * ``objects.<block>.id.working_point`` gives ``branch``, ``min``, ``endcap_min``
      (those the config leaves out);
    * ``objects.<block>.isolation.working_point`` (and ``jet_cleaning``, an
      isolation too) gives ``branch`` and ``max``.

    Without ``era``, naming a working point (or a b-tag algorithm) is an error:
    the numbers are per era.  Values are not type-checked here; the strict
    loader does that afterwards on the filled-in data.
    """
    out = dict(data)
    era_name = out.get("era")
    era = get_era(era_name, source) if era_name is not None else None
    if era is not None:
        out["era"] = era.name
    btag = out.get("btag")
    if isinstance(btag, Mapping):
        btag = dict(btag)
        if era is None:
            if btag.get("algorithm") is not None:
                raise ConfigError(
                    f"{source}: 'btag.algorithm' needs 'era' (b-tag working points are per era; "
                    f"eras: {', '.join(era_names())})"
                )
        elif btag.get("branch") is None or btag.get("working_points") is None:
            name, tagger = era.tagger(btag.get("algorithm"), source)
            btag["algorithm"] = name
            btag.setdefault("branch", tagger.branch)
            if btag.get("working_points") is None:
                btag["working_points"] = dict(tagger.working_points)
        out["btag"] = btag
    objects = out.get("objects")
    if isinstance(objects, Mapping):
        out["objects"] = {
            block: _resolve_block(block, cuts, era, source) if isinstance(cuts, Mapping) else cuts
            for block, cuts in objects.items()
        }
    return out


def _resolve_block(
    block: str, cuts: Mapping[str, Any], era: Era | None, source: str
) -> dict[str, Any]:
    cuts = dict(cuts)
    for key, table_of in (
        ("id", _id_points),
        ("isolation", _iso_points),
        ("jet_cleaning", _iso_points),
    ):
        spec = cuts.get(key)
        if not isinstance(spec, Mapping) or spec.get("working_point") is None:
            continue
        where = f"objects.{block}.{key}.working_point"
        if era is None:
            raise ConfigError(
                f"{source}: '{where}' needs 'era' (working points are per era; eras: "
                f"{', '.join(era_names())})"
            )
        points = table_of(era, block)
        wp = str(spec["working_point"])
        if wp not in points:
            allowed = ", ".join(points) or "none"
            raise ConfigError(
                f"{source}: '{where}' = {wp!r} is not a {block} {key} working point of era "
                f"{era.name} (allowed: {allowed})"
            )
        filled = {k: v for k, v in points[wp].__dict__.items() if v is not None}
        cuts[key] = {**filled, **{k: v for k, v in spec.items() if v is not None}}
    return cuts


def _id_points(era: Era, block: str) -> dict[str, Any]:
    ids = era.ids.get(block)
    return dict(ids.working_points) if ids is not None else {}


def _iso_points(era: Era, block: str) -> dict[str, Any]:
    return dict(era.isolation.get(block, {}))


# ---- run-time checks -------------------------------------------------------------------
def era_mismatches(
    datasets: Mapping[str, Mapping[str, Any]],
    config_era: str | None,
    config_name: str,
    model_era: str | None = None,
    model_name: str | None = None,
) -> list[str]:
    """One message per dataset whose ``metadata.era`` differs from the config's or model's era.

    ``datasets``: name → metadata.  With a model that records its era (``infer``)
    the files are compared with the model's era, else with the config's.  A
    dataset without an era, or a config/model without one, is not compared.
    """
    messages = []
    for name, metadata in datasets.items():
        era = (metadata or {}).get(ERA_KEY)
        if era is None:
            continue
        era = str(era)
        if model_era is not None:
            if era != model_era:
                messages.append(
                    f"dataset {name} is era {era}, but model {model_name} was trained on era "
                    f"{model_era} files: its working points and detector conditions differ"
                )
        elif config_era is not None and era != config_era:
            messages.append(
                f"dataset {name} is era {era}, but the selection config {config_name} is for "
                f"era {config_era} (working points of {config_era} applied to {era} files)"
            )
    return messages


def warn_era_mismatches(*args: Any, **kwargs: Any) -> list[str]:
    """:func:`era_mismatches`, each logged as a warning; returns the messages."""
    messages = era_mismatches(*args, **kwargs)
    for message in messages:
        log.warning("%s", message)
    return messages


__all__ = [
    "ERA_KEY",
    "Era",
    "EraTable",
    "IdPoint",
    "IsoPoint",
    "Tagger",
    "era_mismatches",
    "era_names",
    "get_era",
    "load_eras",
    "resolve_selection",
    "table_path",
    "warn_era_mismatches",
]
