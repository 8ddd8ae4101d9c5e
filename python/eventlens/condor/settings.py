"""``configs/condor.yaml`` loaded into typed, frozen dataclasses.

Strict on purpose, like every config (:mod:`eventlens.config`): an unknown key
raises a ConfigError naming the key and the file, so a misspelt ``memroy`` can
never be silently ignored and a job submitted with the default instead.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eventlens.config import config_dir, setting
from eventlens.config import load as load_config

PoolUse = Literal["auto", "local", "system"]


@dataclass(frozen=True)
class PoolSettings:
    use: PoolUse = "auto"
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
    source: str = setting("", source=True)  # the file read

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
    """``condor.yaml`` in the config dir (``$EVENTLENS_CONFIG_DIR`` or the repo's ``configs/``)."""
    return config_dir() / "condor.yaml"


def load(path: str | os.PathLike[str] | None = None) -> CondorSettings:
    """Read the settings; no default file means all defaults, a missing explicit one is an error."""
    explicit = path is not None
    p = Path(path) if explicit else default_path()
    if not explicit and not p.exists():
        return CondorSettings()
    return load_config(CondorSettings, p, "HTCondor config")
