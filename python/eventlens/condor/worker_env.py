"""The Python that HTCondor jobs run eventlens with, checked usable by the job user.

The jobs must run *this* environment: Dask refuses workers whose versions
differ from the client's, and a batch job must unpickle the very processor
that was submitted.  Here the filesystem is shared, so the jobs run the venv
in place (elsewhere: a packed venv or a container, see condor/README.md).

One snag, measured on the project's machines: the venv's interpreter is a
symlink into a pyenv build under ``/root`` (mode 700), which the job user
cannot execute.  Then a *bridge* venv is made from a system interpreter of the
same minor version (``worker.python_base``, default ``/usr/bin/python3``) whose
only content is a ``.pth`` file adding this venv's site-packages: the same
packages, byte for byte, no second install.  Extension modules are built for
the CPython ABI of the minor version, so 3.11.2 runs wheels built under 3.11.7.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from eventlens.errors import EventLensError

from .access import Identity, Need, check, problem
from .settings import WorkerSettings

log = logging.getLogger(__name__)

#: What a job imports first; failing here gives the real error before any submission.
IMPORT_CHECK = "import coffea.processor, distributed, eventlens.condor.job, eventlens.processors"
BRIDGE_DIR = "condor-worker"


class WorkerPythonError(EventLensError):
    """No interpreter the job user can run with this environment's packages."""


@dataclass(frozen=True)
class WorkerPython:
    """The interpreter jobs run, and the paths it needs readable."""

    python: Path
    needs: tuple[Need, ...]

    @property
    def environment(self) -> dict[str, str]:
        """Variables every job gets: no user site, caches in the job's scratch dir."""
        return {"PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _venv_python() -> Path:
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "bin" / "python"
    return Path(sys.executable)


def _site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _package_dirs() -> list[Need]:
    """Source folders of the packages jobs import (editable installs live outside site-packages)."""
    needs = [Need(_site_packages(), "site-packages of this environment")]
    for name in ("eventlens", "eventlens.processors"):
        spec = importlib.util.find_spec(name)
        for loc in (spec.submodule_search_locations or []) if spec else []:
            if Path(loc).is_dir():
                needs.append(Need(Path(loc), f"package {name}"))
    return needs


def resolve(settings: WorkerSettings, who: Identity, verify: bool = True) -> WorkerPython:
    """Pick (or build) the job interpreter and check that ``who`` can run it with our packages."""
    packages = _package_dirs()
    check(packages, who)
    if settings.python:
        python = Path(settings.python)
        check([Need(python, "worker.python", "x")], who)
    else:
        python = _venv_python()
        why = problem(python, who, "x")
        if why:
            log.info("job user cannot run %s (%s); using a bridge venv", python, why)
            python = _bridge(Path(settings.python_base), who, why)
    result = WorkerPython(python, (Need(python, "worker python", "x"), *packages))
    if verify:
        _verify(str(python), who)
    return result


def _bridge(base: Path, who: Identity, why_not_venv: str) -> Path:
    """A venv from ``base`` whose .pth loads this environment's site-packages (created once)."""
    why = problem(base, who, "x")
    if why:
        raise WorkerPythonError(
            f"no python the job user can run: {why_not_venv}, and worker.python_base {why}; "
            f"set worker.python in configs/condor.yaml"
        )
    want = f"{sys.version_info.major}.{sys.version_info.minor}"
    got = subprocess.run(
        [str(base), "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()
    if got != want:
        raise WorkerPythonError(
            f"worker.python_base {base} is Python {got or '?'}, this environment is {want}: "
            f"the bridge needs the same minor version (set worker.python_base or worker.python)"
        )
    bridge = Path(sys.prefix) / BRIDGE_DIR
    site = _site_packages()
    stamp = bridge / ".eventlens-bridge"
    expect = f"{base}\n{site}\n"
    if not (stamp.exists() and stamp.read_text() == expect):
        proc = subprocess.run(
            [str(base), "-m", "venv", "--clear", "--without-pip", str(bridge)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise WorkerPythonError(f"could not create {bridge}: {proc.stderr.strip()}")
        lib = bridge / "lib" / f"python{want}" / "site-packages"
        (lib / "_eventlens_bridge.pth").write_text(f"import site; site.addsitedir({str(site)!r})\n")
        stamp.write_text(expect)
        log.info("bridge venv %s: %s + %s", bridge, base, site)
    return bridge / "bin" / "python"


@functools.lru_cache(maxsize=8)
def _verify(python: str, who: Identity) -> None:
    """Import what a job imports, as the job user, before submitting anything."""
    cmd = [python, "-c", IMPORT_CHECK]
    if who.uid != os.geteuid():
        if os.geteuid() != 0:
            return  # cannot switch user: the access checks above are all we can do
        cmd = ["runuser", "-u", who.name, "--", *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1", HOME="/tmp")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/", env=env)
    except subprocess.TimeoutExpired:
        raise WorkerPythonError(
            f"{python}: importing eventlens as {who.name} took over 120 s"
        ) from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise WorkerPythonError(f"{python} run as {who.name} cannot import eventlens: {last}")
