"""The process registry: which Pythia settings make each named process.

The registry is declarative (``configs/processes.yaml``) so that a physicist
can read and change a process without touching code, and so that the exact
settings can be hashed and stored in every file produced from them: a file is
reused by ``make-samples`` only when its stored settings hash equals the one
the current registry gives.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

#: Environment variable that points at another registry file.
REGISTRY_ENV = "EVENTLENS_PROCESSES"

#: The registry shipped with the repository.
DEFAULT_REGISTRY = Path(__file__).resolve().parents[3] / "configs" / "processes.yaml"


@dataclass(frozen=True)
class RapidityVeto:
    """Veto hard processes whose particle has ``|y| > max_abs_y`` (before MPI, so it is cheap).

    ``particles`` is a tuple of pdgIds (sign ignored) or ``None`` for "the
    onium": any outgoing hard-process particle with ``|pdgId| > 100`` (the
    quarkonium, or the colour-octet state that becomes it).
    """

    max_abs_y: float
    particles: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_abs_y": self.max_abs_y,
            "particles": "onium" if self.particles is None else list(self.particles),
        }


@dataclass(frozen=True)
class Process:
    """One named process: its Pythia instances (used alternately) and an optional veto."""

    name: str
    label: str
    description: str
    instances: tuple[tuple[str, ...], ...]
    rapidity_veto: RapidityVeto | None = None
    pileup: float | None = None  # mean pileup of this process's samples (None: the shared one)

    def to_dict(self) -> dict[str, Any]:
        # ``pileup`` is not here: the effective pileup is hashed on its own (run.sample_settings)
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "instances": [list(i) for i in self.instances],
            "rapidity_veto": None if self.rapidity_veto is None else self.rapidity_veto.to_dict(),
        }


@dataclass(frozen=True)
class Registry:
    """All processes plus the settings every process shares.

    ``tune`` is the default tune (named ``tune_name``); ``tunes`` holds the
    other named tunes a sample can be generated with (``--tune NAME``), e.g.
    Monash 2013 for the tune-robustness check.
    """

    path: Path
    common: tuple[str, ...]
    tune: tuple[str, ...]
    processes: Mapping[str, Process]
    tasks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tune_name: str = "default"
    tunes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pileup: Mapping[str, Any] = field(default_factory=dict)

    def tune_settings(self, name: str | None = None) -> tuple[str, tuple[str, ...]]:
        """(name, settings) of tune ``name`` (None: the default); ConfigError naming the known."""
        if name is None or name == self.tune_name:
            return self.tune_name, self.tune
        try:
            return name, self.tunes[name]
        except KeyError:
            known = ", ".join([self.tune_name, *self.tunes])
            raise ConfigError(
                f"unknown tune {name!r}; known tunes: {known} (registry {self.path})"
            ) from None

    def get(self, name: str) -> Process:
        """The process called ``name``; ConfigError listing the known names otherwise."""
        try:
            return self.processes[name]
        except KeyError:
            raise ConfigError(
                f"unknown process {name!r}; known processes: {', '.join(self.processes)} "
                f"(registry {self.path})"
            ) from None

    def task(self, name: str) -> tuple[str, ...]:
        """The processes task ``name`` needs; ConfigError listing the known tasks otherwise."""
        try:
            return self.tasks[name]
        except KeyError:
            raise ConfigError(
                f"unknown task {name!r}; known tasks: {', '.join(self.tasks)} "
                f"(registry {self.path})"
            ) from None

    def settings_for(self, process: Process, tune: str | None = None) -> dict[str, Any]:
        """Everything that defines ``process``'s physics, as stored in files and hashed."""
        name, settings = self.tune_settings(tune)
        return {
            "process": process.to_dict(),
            "common": list(self.common),
            "tune": list(settings),
            "tune_name": name,
        }


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A short, stable digest of a JSON-serialisable settings mapping (key order ignored)."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise ConfigError(f"{where} must be a list of Pythia setting strings, got {value!r}")
    return tuple(" ".join(s.split()) for s in value)


def _veto(value: Any, where: str) -> RapidityVeto | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "max_abs_y" not in value:
        raise ConfigError(
            f"{where} must be a mapping with max_abs_y (and particles), got {value!r}"
        )
    try:
        y = float(value["max_abs_y"])
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}.max_abs_y must be a number, got {value['max_abs_y']!r}"
        ) from None
    if y <= 0:
        raise ConfigError(f"{where}.max_abs_y must be positive, got {y}")
    particles = value.get("particles", "onium")
    if particles == "onium":
        return RapidityVeto(y, None)
    if not isinstance(particles, list) or not all(isinstance(p, int) for p in particles):
        raise ConfigError(
            f"{where}.particles must be 'onium' or a list of pdgIds, got {particles!r}"
        )
    return RapidityVeto(y, tuple(abs(p) for p in particles))


def _process(name: str, body: Any, where: str) -> Process:
    if not isinstance(body, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(body).__name__}")
    unknown = set(body) - {
        "label", "description", "settings", "instances", "rapidity_veto", "pileup"
    }
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {sorted(unknown)}")
    if ("settings" in body) == ("instances" in body):
        raise ConfigError(f"{where} needs exactly one of 'settings' or 'instances'")
    if "settings" in body:
        instances = (_strings(body["settings"], f"{where}.settings"),)
    else:
        raw = body["instances"]
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{where}.instances must be a non-empty list of setting lists")
        instances = tuple(_strings(s, f"{where}.instances[{i}]") for i, s in enumerate(raw))
    return Process(
        name=name,
        label=str(body.get("label", name)),
        description=str(body.get("description", "")),
        instances=instances,
        rapidity_veto=_veto(body.get("rapidity_veto"), f"{where}.rapidity_veto"),
        pileup=_mu(body["pileup"], f"{where}.pileup") if "pileup" in body else None,
    )


def _mu(value: Any, where: str) -> float:
    """A mean number of pileup interactions: a finite number ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        0 <= value < float("inf")
    ):
        raise ConfigError(f"{where} must be a mean number of interactions >= 0, got {value!r}")
    return float(value)


def _pileup(value: Any, where: str) -> dict[str, Any]:
    """The shared ``pileup`` block: ``mu`` (default for every process) and library options."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping (mu, library_process, ...), got {value!r}")
    known = {"mu", "library_process", "library_events", "sigma_z_cm"}
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    out = dict(value)
    if "mu" in out:
        out["mu"] = _mu(out["mu"], f"{where}.mu")
    for key in ("library_events",):
        if key in out and (not isinstance(out[key], int) or isinstance(out[key], bool)
                           or out[key] < 1):
            raise ConfigError(f"{where}.{key} must be a positive integer, got {out[key]!r}")
    if "sigma_z_cm" in out and (not isinstance(out["sigma_z_cm"], (int, float))
                                or not out["sigma_z_cm"] >= 0):
        raise ConfigError(f"{where}.sigma_z_cm must be a length >= 0 (cm), got "
                          f"{out['sigma_z_cm']!r}")
    return out


def registry_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The registry file to use: ``path``, else ``$EVENTLENS_PROCESSES``, else the shipped one."""
    chosen = (
        Path(path) if path is not None else Path(os.environ.get(REGISTRY_ENV, DEFAULT_REGISTRY))
    )
    if not chosen.is_file():
        hint = "" if path is not None else f" (set {REGISTRY_ENV} to a processes.yaml)"
        raise ConfigError(f"process registry {chosen} not found{hint}")
    return chosen


def load_registry(path: str | os.PathLike[str] | None = None) -> Registry:
    """Read and validate a registry file; ConfigError names the file and the bad key."""
    file = registry_path(path)
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("processes"), dict):
        raise ConfigError(f"{file}: needs a top-level 'processes' mapping")
    processes = {
        str(name): _process(str(name), body, f"{file}: processes.{name}")
        for name, body in data["processes"].items()
    }
    tasks: dict[str, tuple[str, ...]] = {}
    for task, names in (data.get("tasks") or {}).items():
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{file}: tasks.{task} must be a non-empty list of process names")
        missing = [n for n in names if n not in processes]
        if missing:
            raise ConfigError(f"{file}: tasks.{task} names unknown process(es) {missing}")
        tasks[str(task)] = tuple(str(n) for n in names)
    tunes_raw = data.get("tunes") or {}
    if not isinstance(tunes_raw, dict):
        raise ConfigError(f"{file}: tunes must be a mapping of tune name -> settings list")
    tune_name = str(data.get("tune_name", "default"))
    tunes = {
        str(name): _strings(settings, f"{file}: tunes.{name}")
        for name, settings in tunes_raw.items()
    }
    if tune_name in tunes:
        raise ConfigError(f"{file}: tunes.{tune_name} repeats the name of the default tune")
    return Registry(
        path=file,
        common=_strings(data.get("common", []), f"{file}: common") if data.get("common") else (),
        tune=_strings(data.get("tune", []), f"{file}: tune") if data.get("tune") else (),
        processes=processes,
        tasks=tasks,
        tune_name=tune_name,
        tunes=tunes,
        pileup=_pileup(data.get("pileup"), f"{file}: pileup"),
    )
