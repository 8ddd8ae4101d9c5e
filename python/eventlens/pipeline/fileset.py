"""Filesets: loading coffea's JSON format and checking every file before processing.

Accepted forms (coffea's)::

    {"dataset": ["a.root", "b.root"]}
    {"dataset": {"files": {"a.root": "Events"}, "metadata": {"process": "dy", "xsec": 6077.2}}}

Relative local paths are looked up next to the fileset file first, then in
the working directory.  ``root://`` paths are read over XRootD (optional extra
``eventlens[xrootd]``).

:func:`inspect_file` opens each file once before coffea runs -- it fails fast,
with one line naming the file and the problem (missing, not ROOT, no tree,
missing branch, XRootD unreachable), and it gathers what coffea and the
weights need: entries, the file UUID, whether it is simulation, and
Σ genWeight from the ``Runs`` tree.  Results are cached per (path, size,
mtime), so running several tasks on the same files in one session opens each
file once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from eventlens.errors import ConfigError, InputFileError
from eventlens.processors.inputs import FileReading, MissingBranchError, Needs, resolve_branches

log = logging.getLogger(__name__)

REMOTE_SCHEMES = ("root://", "xroot://", "https://", "http://")
SUMW_BRANCHES = ("genEventSumw", "genEventSumw_")  # NanoAOD >= v6, older


@dataclass
class FileInfo:
    """What the pre-check learnt about one input file."""

    path: str
    treename: str
    entries: int
    uuid: bytes
    branches: frozenset[str]
    runs_sumw: float | None  # Σ genEventSumw over the Runs tree, None without one

    @property
    def is_simulation(self) -> bool:
        return "genWeight" in self.branches


@dataclass
class Dataset:
    name: str
    files: dict[str, str]  # path -> tree name
    metadata: dict[str, Any] = field(default_factory=dict)


def is_remote(path: str) -> bool:
    return path.startswith(REMOTE_SCHEMES)


def load_fileset(source: str | Path | Mapping[str, Any]) -> dict[str, Dataset]:
    """Read and normalise a fileset (a JSON path or an already-loaded mapping)."""
    base = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such fileset file") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
        base, where = path.resolve().parent, str(path)
    else:
        data, where = source, "fileset"
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(f"{where}: a fileset is a non-empty mapping dataset -> files")
    out = {}
    for name, entry in data.items():
        if isinstance(entry, Mapping):
            unknown = set(entry) - {"files", "metadata", "treename"}
            if unknown:
                raise ConfigError(f"{where}: dataset {name!r} has unknown key(s) {sorted(unknown)}")
            files, meta = entry.get("files"), dict(entry.get("metadata") or {})
            tree = entry.get("treename", "Events")
        else:
            files, meta, tree = entry, {}, "Events"
        if isinstance(files, Mapping):
            pairs = [(str(p), str(t)) for p, t in files.items()]
        elif isinstance(files, list):
            pairs = [(str(p), tree) for p in files]
        else:
            raise ConfigError(
                f"{where}: dataset {name!r} needs 'files' as a list or a mapping path -> tree"
            )
        resolved = [(_resolve(p, base), t) for p, t in pairs]
        if len({p for p, _ in resolved}) != len(resolved):
            raise ConfigError(f"{where}: dataset {name!r} lists a file twice")
        out[str(name)] = Dataset(str(name), dict(resolved), meta)
    return out


def _resolve(path: str, base: Path | None) -> str:
    if is_remote(path) or Path(path).is_absolute():
        return path
    if base is not None and (base / path).exists():
        return str(base / path)
    return str(Path(path).resolve())


_CACHE: dict[tuple[str, str, int, float], FileInfo] = {}


def inspect_file(path: str, treename: str, timeout: int = 30) -> FileInfo:
    """Open ``path`` and read its entries, branch names and Runs Σ genWeight.

    Raises InputFileError with one line naming the file and what is wrong.
    """
    key = (path, treename, *_stat(path))
    if key in _CACHE:
        return _CACHE[key]
    info = _open_and_read(path, treename, timeout)
    _CACHE[key] = info
    return info


def _stat(path: str) -> tuple[int, float]:
    if is_remote(path):
        return (0, 0.0)
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    return (st.st_size, st.st_mtime)


def _open_and_read(path: str, treename: str, timeout: int) -> FileInfo:
    import uproot

    try:
        file = uproot.open(path, timeout=timeout) if is_remote(path) else uproot.open(path)
    except ImportError as exc:
        raise InputFileError(
            f"{path}: reading {urlparse(path).scheme}:// needs XRootD support; install the "
            f"optional extra: pip install 'eventlens[xrootd]' ({exc})".replace("\n", " ")
        ) from exc
    except Exception as exc:
        if is_remote(path):
            host = urlparse(path).hostname or path
            raise InputFileError(
                f"{path}: cannot reach the XRootD server {host} ({type(exc).__name__}: {exc}). "
                "Reading CMS Open Data needs network access to CERN, which this machine may "
                "not have; "
                "copy the files locally and point the fileset at them".replace("\n", " ")
            ) from exc
        raise InputFileError(
            f"{path}: not a readable ROOT file ({type(exc).__name__}: {exc})".replace("\n", " ")
        ) from exc
    with file:
        try:
            if treename not in file:
                raise InputFileError(
                    f"{path}: no '{treename}' tree (has {sorted(file.keys(cycle=False))})"
                )
            tree = file[treename]
            entries, branches = int(tree.num_entries), frozenset(tree.keys())
            runs_sumw = _runs_sumw(file)
            uuid = bytes(file.file.fUUID)
        except InputFileError:
            raise
        except Exception as exc:
            raise InputFileError(
                f"{path}: unreadable ({type(exc).__name__}: {exc})".replace("\n", " ")
            ) from exc
    return FileInfo(path, treename, entries, uuid, branches, runs_sumw)


def _runs_sumw(file: Any) -> float | None:
    if "Runs" not in file:
        return None
    runs = file["Runs"]
    for name in SUMW_BRANCHES:
        if name in runs:
            return float(runs[name].array(library="np").sum())
    return None


def events_sumw(info: FileInfo) -> float:
    """Σ genWeight over the Events tree: the fallback when a file has no Runs sum."""
    import uproot

    with uproot.open(info.path) as f:
        return float(f[info.treename]["genWeight"].array(library="np").astype("f8").sum())


def check_branches(info: FileInfo, needs: Needs) -> FileReading:
    """How the file answers the task's needs (flavour, substitutions); MissingBranchError
    names the first branch nothing can stand in for."""
    return resolve_branches(needs, info.branches, info.path)


__all__ = [
    "Dataset",
    "FileInfo",
    "MissingBranchError",
    "check_branches",
    "events_sumw",
    "inspect_file",
    "is_remote",
    "load_fileset",
]
