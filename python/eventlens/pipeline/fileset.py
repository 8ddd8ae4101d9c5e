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
import math
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
    events_sumw: float | None = None  # Σ genWeight over Events, when asked for (no Runs sum)

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
    """Read, normalise and check a fileset (a JSON path or an already-loaded mapping).

    Besides coffea's two plain forms, the *preprocessed* form that
    ``coffea.dataset_tools.preprocess`` writes is read: per file a mapping
    ``{"object_path": TREE, "steps": [...], "num_entries": ..., "uuid": ..., ...}``
    and per dataset ``form`` or ``compressed_form``, ``format`` and ``did``
    (eventlens cuts its own chunks with ``--chunksize`` and builds its own branch
    list, so steps and forms are not used; a ``format`` other than ``root`` is
    refused).  The metadata is checked up front (:func:`check_metadata`).
    """
    base = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            found = sorted(p.name for p in path.glob("*.json"))
            hint = f" (it holds {', '.join(found[:5])})" if found else ""
            raise ConfigError(f"{path}: is a folder; give the fileset JSON file{hint}")
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such fileset file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})".replace("\n", " ")) from None
        base, where = path.resolve().parent, str(path)
    else:
        data, where = source, "fileset"
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(f"{where}: a fileset is a non-empty mapping dataset -> files")
    out = {}
    for name, entry in data.items():
        if isinstance(entry, Mapping):
            unknown = set(entry) - {"files", "metadata", "treename", *PREPROCESSED_KEYS}
            if unknown:
                raise ConfigError(f"{where}: dataset {name!r} has unknown key(s) {sorted(unknown)}")
            _check_format(entry.get("format"), where, f"dataset {name!r}")
            files, meta = entry.get("files"), entry.get("metadata") or {}
            tree = entry.get("treename", "Events")
        else:
            files, meta, tree = entry, {}, "Events"
        if not isinstance(meta, Mapping):
            raise ConfigError(f"{where}: dataset {name!r}: 'metadata' must be a mapping")
        if isinstance(files, Mapping):
            pairs = [(str(p), _tree_of(t, tree, where, name, p)) for p, t in files.items()]
        elif isinstance(files, list):
            pairs = [(str(p), tree) for p in files]
        else:
            raise ConfigError(
                f"{where}: dataset {name!r} needs 'files' as a list or a mapping path -> tree"
            )
        if not pairs:
            raise ConfigError(f"{where}: dataset {name!r} lists no files")
        resolved = [(_resolve(p, base), t) for p, t in pairs]
        if len({p for p, _ in resolved}) != len(resolved):
            raise ConfigError(f"{where}: dataset {name!r} lists a file twice")
        check_metadata(str(name), meta, where)
        out[str(name)] = Dataset(str(name), dict(resolved), dict(meta))
    return out


#: Dataset keys of coffea's preprocessed filesets (coffea.dataset_tools.preprocess).
PREPROCESSED_KEYS = ("form", "compressed_form", "format", "did")


def _check_format(fmt: Any, where: str, what: str) -> None:
    """A preprocessed entry's ``format``: eventlens reads ROOT NanoAOD only."""
    if fmt not in (None, "root"):
        raise ConfigError(
            f"{where}: {what} has format {fmt!r}; eventlens reads ROOT NanoAOD (format 'root')"
        )


def _tree_of(value: Any, default: str, where: str, dataset: Any, path: Any) -> str:
    """A file's tree: a name, ``None`` (the dataset's), or a preprocessed entry's object_path."""
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("object_path"), str):
        _check_format(value.get("format"), where, f"dataset {dataset!r}, file {path}")
        return value["object_path"]
    raise ConfigError(
        f"{where}: dataset {dataset!r}, file {path}: expected a tree name or "
        f'{{"object_path": TREE, ...}}, got {value!r}'
    )


def check_metadata(dataset: str, meta: Mapping[str, Any], where: str = "fileset") -> None:
    """``xsec`` (pb) and ``sumw``, when given, must be positive numbers."""
    for key, what in (("xsec", "cross-section in pb"), ("sumw", "sum of generator weights")):
        if key not in meta or meta[key] is None:
            continue
        value = meta[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not value > 0
        ):
            raise ConfigError(
                f"{where}: dataset {dataset!r}: metadata {key} = {value!r} must be a positive "
                f"number ({what})"
            )


def _resolve(path: str, base: Path | None) -> str:
    if is_remote(path) or Path(path).is_absolute():
        return path
    if base is not None and (base / path).exists():
        return str(base / path)
    return str(Path(path).resolve())


_CACHE: dict[tuple[str, str, bool, int, float], FileInfo] = {}


def inspect_file(
    path: str, treename: str, timeout: int = 30, events_sumw: bool = False
) -> FileInfo:
    """Open ``path`` once and read its entries, branch names and Runs Σ genWeight — and,
    with ``events_sumw``, Σ genWeight over Events when the file has no Runs sum.

    Raises InputFileError with one line naming the file and what is wrong.
    """
    key = (path, treename, events_sumw, *_stat(path))
    if key in _CACHE:
        return _CACHE[key]
    info = _open_and_read(path, treename, timeout, events_sumw)
    _CACHE[key] = info
    return info


def check_file(
    item: tuple[str, str, bool], needs: Needs, timeout: int = 30
) -> dict[str, dict[str, Any]]:
    """Everything the plan needs from one file ``(path, tree, want Events Σ genWeight)``.

    Runs where the executor runs it (a worker process, a Dask worker), so a
    fileset of thousands of files is inspected in parallel and each file is
    opened once for it.  Returns ``{path: facts}``, plain data that travels
    back and accumulates by dict union; a problem comes back as
    ``{path: {"error": one line}}`` for the driver to raise or skip in
    fileset order.
    """
    path, tree, want_sumw = item
    try:
        info = inspect_file(path, tree, timeout, want_sumw)
        reading = check_branches(info, needs)
    except InputFileError as exc:
        return {path: {"error": str(exc), "missing_branch": isinstance(exc, MissingBranchError)}}
    return {
        path: {
            "treename": tree,
            "entries": info.entries,
            "uuid": info.uuid.hex(),
            "simulation": info.is_simulation,
            "runs_sumw": info.runs_sumw,
            "events_sumw": info.events_sumw,
            "flavour": reading.flavour,
            "notes": sorted(reading.notes),
            "summary": reading.summary(),
        }
    }


def _stat(path: str) -> tuple[int, float]:
    if is_remote(path):
        return (0, 0.0)
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    return (st.st_size, st.st_mtime)


def _open_and_read(path: str, treename: str, timeout: int, want_events_sumw: bool) -> FileInfo:
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
        sumw = None
        if want_events_sumw and runs_sumw is None and "genWeight" in branches and entries:
            try:
                sumw = float(tree["genWeight"].array(library="np").astype("f8").sum())
            except Exception as exc:  # corrupt or truncated baskets
                raise InputFileError(
                    f"{path}: genWeight unreadable for the sum of weights ({type(exc).__name__}: "
                    f"{exc}); the file may be truncated or corrupt".replace("\n", " ")
                ) from exc
    return FileInfo(path, treename, entries, uuid, branches, runs_sumw, sumw)


def _runs_sumw(file: Any) -> float | None:
    if "Runs" not in file:
        return None
    runs = file["Runs"]
    for name in SUMW_BRANCHES:
        if name in runs:
            return float(runs[name].array(library="np").sum())
    return None


def check_branches(info: FileInfo, needs: Needs) -> FileReading:
    """How the file answers the task's needs (flavour, substitutions); MissingBranchError
    names the first branch nothing can stand in for."""
    return resolve_branches(needs, info.branches, info.path)


__all__ = [
    "Dataset",
    "FileInfo",
    "MissingBranchError",
    "check_branches",
    "check_file",
    "inspect_file",
    "is_remote",
    "load_fileset",
]
