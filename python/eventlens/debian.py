"""Packages of another Debian release, fetched and unpacked without touching the system.

Why this exists: some things eventlens needs are packaged by a newer Debian
than the machine runs (bookworm here) -- HTCondor (``condor``, for the
personal pool of ``devtools/condor_pool.py``) and the ONNX Runtime C/C++ API
headers (``libonnxruntime-dev``, for the C++ ``eventlens::Model``).  An apt
with its own configuration, lists, cache and an *empty* dpkg status downloads
them from trixie; ``dpkg-deb -x`` unpacks them into a prefix.  The system's
dpkg state, sources and caches are never read or written (only its mirror
URL and the Debian archive keyring are reused).

This module needs only the standard library and :mod:`eventlens.errors`, so
``.ci/bootstrap`` can run it from the source tree before eventlens is
installed::

    PYTHONPATH=python python3 -m eventlens.debian onnxruntime-headers
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eventlens.errors import EventLensError

log = logging.getLogger(__name__)

RELEASE = "trixie"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: The package holding ONNX Runtime's C/C++ API headers (trixie: ORT 1.21).  Its C API is
#: forward compatible: headers of 1.21 work with the newer library of the onnxruntime wheel.
ONNXRUNTIME_DEV = "libonnxruntime-dev"


class DebianError(EventLensError):
    """A Debian package could not be downloaded or unpacked."""


def cache_dir() -> Path:
    """eventlens' per-user cache: ``$XDG_CACHE_HOME/eventlens`` (default ``~/.cache/eventlens``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "eventlens"


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (``$EVENTLENS_DEBIAN_MIRROR`` overrides).

    Read from the system's sources so that no host name is hard-coded here.
    """
    env = os.environ.get("EVENTLENS_DEBIAN_MIRROR")
    if env:
        return env.rstrip("/")
    candidates: list[str] = []
    etc = Path("/etc/apt")
    for f in sorted(etc.glob("sources.list.d/*.sources")):
        for line in f.read_text().splitlines():
            if line.startswith("URIs:"):
                candidates += line.split()[1:]
    for f in [etc / "sources.list", *sorted(etc.glob("sources.list.d/*.list"))]:
        if f.exists():
            for line in f.read_text().splitlines():
                parts = line.split()
                if parts and parts[0] == "deb":
                    candidates += [p for p in parts[1:] if "://" in p][:1]
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri.rstrip("/")
    raise DebianError(
        "no Debian mirror found in /etc/apt/sources.list{,.d}; set EVENTLENS_DEBIAN_MIRROR"
    )


@dataclass(frozen=True)
class IsolatedApt:
    """apt-get with its own config, lists and cache under ``apt_dir``, for ``release``."""

    apt_dir: Path
    release: str = RELEASE

    @property
    def archives(self) -> Path:
        return self.apt_dir / "cache" / "archives"

    def _env(self) -> dict[str, str]:
        """Write the isolated configuration (idempotent) and return apt-get's environment."""
        if not shutil.which("apt-get"):
            raise DebianError("apt-get not found: fetching Debian packages needs a Debian system")
        if not KEYRING.exists():
            raise DebianError(f"{KEYRING} is missing: install debian-archive-keyring")
        d = self.apt_dir
        for sub in (
            "lists/partial",
            "cache/archives/partial",
            "sources.list.d",
            "apt.conf.d",
            "preferences.d",
        ):
            (d / sub).mkdir(parents=True, exist_ok=True)
        status = d / "status"
        status.touch()
        (d / "sources.list").write_text(
            f"deb [signed-by={KEYRING}] {debian_mirror()} {self.release} main\n"
        )
        conf = d / "apt.conf"
        conf.write_text(
            "\n".join(
                [
                    f'Dir::State "{d}";',
                    f'Dir::State::Lists "{d}/lists";',
                    f'Dir::State::status "{status}";',
                    f'Dir::Cache "{d}/cache";',
                    f'Dir::Etc::SourceList "{d}/sources.list";',
                    f'Dir::Etc::SourceParts "{d}/sources.list.d";',
                    f'Dir::Etc::Parts "{d}/apt.conf.d";',
                    f'Dir::Etc::Preferences "{d}/preferences";',
                    f'Dir::Etc::PreferencesParts "{d}/preferences.d";',
                    'APT::Install-Recommends "false";',
                    'Debug::NoLocking "true";',
                    'APT::Sandbox::User "root";' if os.geteuid() == 0 else "",
                    "",
                ]
            )
        )
        return {**os.environ, "APT_CONFIG": str(conf), "DEBIAN_FRONTEND": "noninteractive"}

    def _run(self, args: Sequence[str], cwd: Path | None = None, hint: str = "") -> str:
        """Run apt-get; its warnings (stderr) are returned, a failure raises DebianError."""
        env = self._env()
        proc = subprocess.run(
            ["apt-get", "-q", *args], env=env, cwd=cwd, capture_output=True, text=True
        )
        if proc.returncode != 0:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            raise DebianError(
                f"apt-get {args[0]} ({self.release}, {self.apt_dir}) failed: {tail}{hint}"
            )
        return proc.stderr.strip()

    def update(self) -> str:
        """Fetch the package lists; returns apt's warnings (an unreachable mirror only warns)."""
        return self._run(["update"])

    def drop_lists(self) -> None:
        """Delete the package lists and apt's binary caches of them (~270 MB for trixie
        main); the downloaded .debs stay."""
        shutil.rmtree(self.apt_dir / "lists", ignore_errors=True)
        for name in ("pkgcache.bin", "srcpkgcache.bin"):
            (self.apt_dir / "cache" / name).unlink(missing_ok=True)

    def download_closure(self, package: str) -> list[Path]:
        """``package`` and its whole dependency closure (the dpkg status is empty), cached."""
        if not list(self.archives.glob(f"{package}_*.deb")):
            t0 = time.monotonic()
            self.update()
            self._run(["install", "--download-only", "-y", package])
            log.info("downloaded %s (%s) in %.1f s", package, self.release, time.monotonic() - t0)
        debs = sorted(self.archives.glob("*.deb"))
        if not debs:
            raise DebianError(f"no packages downloaded into {self.archives}")
        return debs

    def download(self, package: str) -> Path:
        """The .deb of ``package`` alone (no dependencies), cached."""
        found = sorted(self.archives.glob(f"{package}_*.deb"))
        if not found:
            t0 = time.monotonic()
            warnings = self.update()
            hint = f" (apt-get update warned: {' | '.join(warnings.splitlines()[-3:])})"
            self._run(["download", package], cwd=self.archives, hint=hint if warnings else "")
            log.info("downloaded %s (%s) in %.1f s", package, self.release, time.monotonic() - t0)
            found = sorted(self.archives.glob(f"{package}_*.deb"))
        if not found:
            raise DebianError(
                f"apt-get download {package} left no {package}_*.deb in {self.archives}"
            )
        return found[-1]


def unpack(debs: Sequence[Path], root: Path) -> None:
    """Extract the .debs' files into ``root`` (replaced if it exists)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for deb in debs:
        proc = subprocess.run(
            ["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise DebianError(f"dpkg-deb -x {deb.name} failed: {proc.stderr.strip()}")
    root.chmod(0o755)


# ---- ONNX Runtime's C/C++ headers ----------------------------------------------------------
def onnxruntime_dev_prefix() -> Path:
    """Where the headers are unpacked (``$EVENTLENS_ONNXRUNTIME_DEV`` overrides).

    CMake (``cmake/EventLensFindOnnxRuntime.cmake``) looks in the same place.
    """
    env = os.environ.get("EVENTLENS_ONNXRUNTIME_DEV")
    return Path(env) if env else cache_dir() / "onnxruntime-dev"


def onnxruntime_include_dir(prefix: Path | None = None) -> Path:
    return (prefix or onnxruntime_dev_prefix()) / "usr" / "include" / "onnxruntime"


def fetch_onnxruntime_headers(prefix: Path | None = None) -> Path:
    """Unpack trixie's ``libonnxruntime-dev`` headers into ``prefix``; return the include dir.

    Idempotent and fast when done (the header is checked first).  Only the
    headers are kept: the library comes from the onnxruntime wheel, whose C API
    is newer than, and compatible with, these headers.
    """
    prefix = prefix or onnxruntime_dev_prefix()
    include = onnxruntime_include_dir(prefix)
    if (include / "onnxruntime_cxx_api.h").exists():
        return include
    apt = IsolatedApt(prefix / "apt")
    deb = apt.download(ONNXRUNTIME_DEV)
    apt.drop_lists()  # one package needed: keep its .deb, not the index of all of trixie
    with tempfile.TemporaryDirectory(dir=prefix) as tmp:
        staged = Path(tmp) / "root"
        unpack([deb], staged)
        headers = staged / "usr" / "include" / "onnxruntime"
        if not (headers / "onnxruntime_cxx_api.h").exists():
            raise DebianError(f"{deb.name} holds no usr/include/onnxruntime/onnxruntime_cxx_api.h")
        include.parent.mkdir(parents=True, exist_ok=True)
        if include.exists():
            shutil.rmtree(include)
        headers.rename(include)  # same file system: atomic, a half-unpacked dir is never seen
    (prefix / "VERSION").write_text(deb.name + "\n")
    log.info("ONNX Runtime headers from %s in %s", deb.name, include)
    return include


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m eventlens.debian", description=__doc__.split("\n")[0]
    )
    sub = p.add_subparsers(dest="action", required=True)
    h = sub.add_parser(
        "onnxruntime-headers",
        help="unpack trixie's libonnxruntime-dev headers (for the C++ eventlens::Model)",
    )
    h.add_argument(
        "--prefix",
        type=Path,
        default=None,
        help="where to unpack (default: $EVENTLENS_ONNXRUNTIME_DEV, else "
        "~/.cache/eventlens/onnxruntime-dev, where CMake looks)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(fetch_onnxruntime_headers(args.prefix))
    except EventLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
