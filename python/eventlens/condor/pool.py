"""A personal HTCondor pool on 127.0.0.1: where it is and how to talk to it.

eventlens submits to a personal pool when no system HTCondor is installed
(``pool.use: auto|local`` in ``configs/condor.yaml``).  This module only *finds*
such a pool — its prefix, collector, client environment and job user — and asks
whether it runs.  Building, starting and stopping one (Debian trixie's packages
unpacked and patched) is development tooling, not part of the runtime package:
``devtools/condor_pool.py`` in the repository (``devtools/condor-pool.sh start``),
which the tests use.

Layout under the prefix (default ``/opt/eventlens-condor`` for root, else
``$XDG_CACHE_HOME/eventlens/condor``; ``$EVENTLENS_CONDOR_PREFIX`` overrides)::

    apt/      isolated apt config, lists and the downloaded .debs (the cache)
    root/     the unpacked packages (root/usr/sbin/condor_master, ...)
    etc/      condor_config
    local/    LOCAL_DIR: log, spool, execute, lock, passwords.d (owned by the job user)
    tokens/   the client's IDTOKEN (mode 700, never in the repository)

Daemons run as the *job user*: ``nobody`` when started by root (condor
refuses root-owned jobs), the invoking user otherwise.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eventlens.errors import EventLensError

RELEASE = "trixie"
DEFAULT_PORT = 9618
#: How to start a personal pool (from a checkout of the repository).
START_HINT = "devtools/condor-pool.sh start, from an eventlens checkout"

class PoolError(EventLensError):
    """The personal pool could not be set up, started or stopped."""


@dataclass(frozen=True)
class JobUser:
    """The account the daemons and the jobs run as."""

    name: str
    uid: int
    gid: int

    @classmethod
    def for_current_process(cls) -> JobUser:
        """``nobody`` for root (HTCondor will not run jobs as root), else ourselves."""
        entry = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)


def default_prefix() -> Path:
    env = os.environ.get("EVENTLENS_CONDOR_PREFIX")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/opt/eventlens-condor")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "eventlens" / "condor"


def default_port() -> int:
    return int(os.environ.get("EVENTLENS_CONDOR_PORT", DEFAULT_PORT))


@dataclass(frozen=True)
class PersonalPool:
    """One personal pool: its prefix, port and job user."""

    prefix: Path
    port: int = DEFAULT_PORT
    release: str = RELEASE

    @classmethod
    def default(cls) -> PersonalPool:
        return cls(default_prefix(), default_port())

    # ---- layout ----------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.prefix / "root"

    @property
    def config_file(self) -> Path:
        return self.prefix / "etc" / "condor_config"

    @property
    def local_dir(self) -> Path:
        return self.prefix / "local"

    @property
    def token_dir(self) -> Path:
        return self.prefix / "tokens"

    @property
    def installed_stamp(self) -> Path:
        return self.prefix / f".installed-{self.release}"

    @property
    def collector(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def job_user(self) -> JobUser:
        return JobUser.for_current_process()

    def is_installed(self) -> bool:
        return self.installed_stamp.exists() and self.config_file.exists()

    def env(self) -> dict[str, str]:
        """Environment for clients (condor_* tools, bindings, dask-jobqueue) of this pool."""
        path = os.pathsep.join([str(self.root / "usr/bin"), str(self.root / "usr/sbin")])
        return {
            "CONDOR_CONFIG": str(self.config_file),
            "PATH": path + os.pathsep + os.environ.get("PATH", ""),
            "_CONDOR_SEC_TOKEN_DIRECTORY": str(self.token_dir),
            "_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS": "FS, IDTOKENS",
        }

    def tool(self, name: str) -> str:
        for sub in ("usr/bin", "usr/sbin"):
            path = self.root / sub / name
            if path.exists():
                return str(path)
        raise PoolError(f"{name} not found under {self.root}: set it up: {START_HINT}")

    def run_tool(
        self, args: Sequence[str], timeout: float = 30.0, as_job_user: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run a condor tool of this pool with a timeout; never hangs the caller."""
        cmd = [self.tool(args[0]), *args[1:]]
        if as_job_user and os.geteuid() == 0:
            cmd = ["runuser", "-u", self.job_user.name, "--", *cmd]
        env = {**os.environ, **self.env()}
        try:
            return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise PoolError(f"'{' '.join(args)}' did not answer within {timeout:.0f} s") from exc

    # ---- processes -------------------------------------------------------------
    def processes(self) -> dict[int, str]:
        """pid -> executable of every running process whose binary lies in this prefix."""
        found = {}
        root = str(self.root.resolve()) + os.sep
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                exe = str((entry / "exe").readlink())
            except OSError:
                continue
            if exe.startswith(root):
                found[int(entry.name)] = exe.rsplit("/", 1)[-1]
        return found

    def is_running(self) -> bool:
        return any(name == "condor_master" for name in self.processes().values())
