"""``configs/condor.yaml`` loaded into typed, frozen dataclasses.

Strict on purpose, like the selection configs: an unknown key raises a
ConfigError naming the key and the file, so a misspelt ``memroy`` can never be
silently ignored and a job submitted with the default instead.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eventlens.errors import ConfigError

POOL_USES = ("auto", "local", "system")


@dataclass(frozen=True)
class PoolSettings:
    use: str = "auto"
    schedd: str | None = None
    timeout: float = 20.0


@dataclass(frozen=True)
class WorkerSettings:
    cores: int = 1
    memory: str = "2GB"
    disk: str = "1GB"
    processes: int = 1
    nanny: bool = True
    python: str | None = None
    python_base: str = "/usr/bin/python3"
    start_timeout: float = 180.0
    death_timeout: float = 60.0
    environment: dict[str, str] = field(default_factory=dict)
    job_extra_directives: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DaskSettings:
    retries: int = 3
    treereduction: int = 20
    compression: int | None = None
    scheduler_host: str | None = None


@dataclass(frozen=True)
class BatchSettings:
    request_cpus: int = 1
    request_memory: str = "2GB"
    request_disk: str = "1GB"
    max_retries: int = 2
    job_extra_directives: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CredentialSettings:
    x509userproxy: str | None = None
    use_oauth_services: str | None = None


@dataclass(frozen=True)
class CondorSettings:
    pool: PoolSettings = PoolSettings()
    worker: WorkerSettings = WorkerSettings()
    dask: DaskSettings = DaskSettings()
    batch: BatchSettings = BatchSettings()
    credentials: CredentialSettings = CredentialSettings()
    runtime_dir: str | None = None
    source: str = ""

    def runtime_path(self) -> Path:
        """Where logs and scratch files go (created traversable by the job user)."""
        if self.runtime_dir:
            return Path(self.runtime_dir)
        return Path(f"/tmp/eventlens-condor-{os.geteuid()}")

    def replace(self, section: str, **changes: Any) -> CondorSettings:
        """A copy with some keys of one section changed (CLI overrides); None values are ignored."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        part = dataclasses.replace(getattr(self, section), **changes)
        return dataclasses.replace(self, **{section: part})


def default_path() -> Path:
    """``$EVENTLENS_CONFIG_DIR/condor.yaml`` or the repository's ``configs/condor.yaml``."""
    env = os.environ.get("EVENTLENS_CONFIG_DIR")
    base = Path(env) if env else Path(__file__).resolve().parents[3] / "configs"
    return base / "condor.yaml"


def load(path: str | os.PathLike[str] | None = None) -> CondorSettings:
    """Read the settings; no default file means all defaults, a missing explicit one is an error."""
    explicit = path is not None
    p = Path(path) if explicit else default_path()
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: no such HTCondor config")
        return CondorSettings()
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML ({exc})") from exc
    settings = _build(CondorSettings, data, "", str(p))
    settings = dataclasses.replace(settings, source=str(p))
    if settings.pool.use not in POOL_USES:
        raise ConfigError(f"{p}: 'pool.use' must be one of {POOL_USES}, got {settings.pool.use!r}")
    return settings


def _build(cls: type, data: Any, where: str, source: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: '{where or 'top level'}' must be a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name != "source"]
    unknown = sorted(set(data) - set(names))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"{source}: unknown key '{key}' (allowed here: {', '.join(names)})")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        path = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value or {}, path, source)
        else:
            kwargs[name] = _coerce(hint, value, path, source)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, path: str, source: str) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if value is None:
        if type(None) in typing.get_args(hint):
            return None
        raise ConfigError(f"{source}: '{path}' may not be null")
    base = args[0] if args and typing.get_origin(hint) is not dict else hint
    if typing.get_origin(hint) is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: '{path}' must be a mapping")
        return {str(k): str(v) for k, v in value.items()}
    if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if base is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base is bool and isinstance(value, bool):
        return value
    if base is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(
        f"{source}: '{path}' must be a {getattr(base, '__name__', base)}, got {value!r}"
    )
