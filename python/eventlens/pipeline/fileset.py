"""Filesets: loading coffea's JSON format, and what is learnt from each file before and
while it is processed.

Accepted forms (coffea's)::

    {"dataset": ["a.root", "b.root"]}
    {"dataset": {"files": {"a.root": "Events"}, "metadata": {"process": "dy", "xsec": 6077.2}}}

Relative local paths are looked up next to the fileset file first, then in
the working directory.  ``root://`` paths are read over XRootD (optional extra
``eventlens[xrootd]``).

Every file is looked at twice, each time in a pass that opens it anyway:

* **before processing** (:func:`check_file`, run by the plan: in the driver for
  local files, on threads for remote ones, on the workers of a Dask cluster;
  :func:`eventlens.pipeline.plan.check_files`): the file opens
  (else one line naming it: missing, not ROOT, no tree, XRootD unreachable),
  its entry count and UUID (what coffea needs to cut chunks) and, when the
  dataset needs it, Σ genWeight from the ``Runs`` tree.  The entry count is
  read from the TTree's header alone (:func:`_light_entries`): parsing the
  metadata of a NanoAOD tree's 650-2700 branches costs ~0.1-0.4 CPU-s per
  file, and the worker that processes the file parses it anyway.  A file is
  parsed in full here only when that is needed before processing: the Events
  Σ genWeight fallback (no ``Runs`` sum), empty files (no worker will open
  them), and the first file of each dataset (``full``: a task/dataset
  mismatch — a missing collection — stops the run before any chunk runs).
* **in the worker's first read** (:func:`chunk_branches` + :func:`file_facts`,
  called by :class:`eventlens.pipeline.execute.ChunkRecorder` on the tree
  coffea has just parsed): the branch check (missing branch → one line naming
  file and branch), the NanoAOD flavour, simulation or data.  These facts
  travel with the chunk's result and the finish step checks them.

Both passes call :func:`file_facts`, so a file gets the same verdict and the
same message wherever it is checked.  Full inspections are cached per (path,
size, mtime), so running several tasks on the same files in one session
parses each file once.
"""

from __future__ import annotations

import json
import logging
import math
import struct
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from eventlens.errors import ConfigError, InputFileError
from eventlens.processors.inputs import MissingBranchError, Needs, resolve_branches

log = logging.getLogger(__name__)

REMOTE_SCHEMES = ("root://", "xroot://", "https://", "http://")
SUMW_BRANCHES = ("genEventSumw", "genEventSumw_")  # NanoAOD >= v6, older


@dataclass
class FileInfo:
    """What the check before processing learnt about one input file."""

    path: str
    treename: str
    entries: int
    uuid: bytes
    runs_sumw: float | None  # Σ genEventSumw over the Runs tree; None without one or not read
    events_sumw: float | None = None  # Σ genWeight over Events, when asked for (no Runs sum)
    branches: frozenset[str] | None = None  # all branch names, when the tree was parsed in full

    @property
    def is_simulation(self) -> bool | None:
        """genWeight present (None: the branches were not read)."""
        return None if self.branches is None else "genWeight" in self.branches


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


#: Recent inspections (a bounded LRU: a worker checks thousands of files, each kept
#: with its branch names when parsed in full).
_CACHE: OrderedDict[tuple[Any, ...], FileInfo] = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()
_INT64 = struct.Struct(">q")
#: TTree streamer versions whose first data member after the four streamed bases
#: (TNamed, TAttLine, TAttFill, TAttMarker) is ``fEntries`` (ROOT 5.x to 6.x: 16-20).
_TTREE_VERSIONS = range(16, 21)


def inspect_file(
    path: str,
    treename: str,
    timeout: int = 30,
    events_sumw: bool = False,
    branches: bool = False,
    runs_sumw: bool = True,
) -> FileInfo:
    """Open ``path`` once; read its entries and UUID, with ``runs_sumw`` the Runs Σ genWeight,
    with ``branches`` (and always for an empty tree) every branch name, and with
    ``events_sumw`` Σ genWeight over Events when the file has no Runs sum.

    Raises InputFileError with one line naming the file and what is wrong.
    """
    key = (path, treename, events_sumw, branches, runs_sumw, *_stat(path))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    info = _open_and_read(path, treename, timeout, events_sumw, branches, runs_sumw)
    with _CACHE_LOCK:  # remote files are checked on threads
        _CACHE[key] = info
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return info


def check_file(
    item: tuple[str, str, bool, bool], needs: Needs, timeout: int = 30, fallback: bool = True
) -> list[tuple[str, dict[str, Any]]]:
    """What the plan needs from one file ``(path, tree, want Σ genWeight, full check)``.

    Runs where the executor runs it (a worker process, a Dask worker), so a
    fileset of thousands of files is checked in parallel and each file is
    opened once for it.  Returns ``[(path, facts)]``, plain data that travels
    back and accumulates by list concatenation (linear; coffea's dict union
    is quadratic in the number of files): ``treename``, ``entries``, ``uuid``
    (hex), ``runs_sumw``, ``events_sumw`` and, when the branches were read
    (``full``, empty files, the Events Σ genWeight fallback), the
    :func:`file_facts`.  A problem comes back as ``{"error": one line,
    "missing_branch": bool}`` for the driver to raise or skip in fileset order.

    Without ``fallback`` Σ genWeight is not summed over Events where the file
    has no Runs sum (a full parse and a branch read): the facts say
    ``needs_events_sumw`` instead, for a second, parallel check.
    """
    path, tree, want_sumw, full = item
    try:
        info = inspect_file(path, tree, timeout, want_sumw and fallback, full, runs_sumw=want_sumw)
        facts: dict[str, Any] = {
            "treename": tree,
            "entries": info.entries,
            "uuid": info.uuid.hex(),
            "runs_sumw": info.runs_sumw,
            "events_sumw": info.events_sumw,
        }
        if want_sumw and not fallback and info.runs_sumw is None and info.entries > 0:
            facts["needs_events_sumw"] = True
        if info.branches is not None:
            facts.update(file_facts(info.branches, needs, path))
    except InputFileError as exc:
        return [(path, {"error": str(exc), "missing_branch": isinstance(exc, MissingBranchError)})]
    return [(path, facts)]


def file_facts(branches: Collection[str], needs: Needs, path: str) -> dict[str, Any]:
    """A file's verdict from its branch names: raises MissingBranchError naming the first
    branch nothing stands in for; else ``simulation``, NanoAOD ``flavour``, ``notes``
    (the substitutions made) and the one-line ``summary``.

    The plan (files parsed before processing) and the workers (every chunk,
    :class:`~eventlens.pipeline.execute.ChunkRecorder`) both call this, so a
    file gets the same verdict and the same message wherever it is checked.
    """
    reading = resolve_branches(needs, branches, path)
    return {
        "simulation": "genWeight" in branches,
        "flavour": reading.flavour,
        "notes": sorted(reading.notes),
        "summary": reading.summary(),
    }


def chunk_branches(events: Any) -> frozenset[str]:
    """Every branch name of the tree a coffea NanoEvents chunk was read from.

    NanoEvents holds only the branches the processor asked for, but the
    NanoAOD flavour and the branch check need all of them.  coffea's worker
    has just parsed the whole TTree to build the chunk and keeps it in the
    chunk's source mapping: its names are taken from there (no I/O).  Where
    that object is out of reach (another coffea layout), the file is opened
    again, which is correct but costs one more parse of the tree's metadata.
    """
    import uproot

    try:
        mapping = events.attrs["@events_factory"]._mapping
        for source in mapping._cache.values():
            if isinstance(source, uproot.behaviors.TTree.TTree):
                return frozenset(source.keys())
    except (AttributeError, KeyError, TypeError):
        pass
    meta = events.metadata
    log.debug("%s: tree not reachable from the chunk, reading its branches again", meta["filename"])
    return _branch_names(meta["filename"], meta["treename"])


def _branch_names(path: str, treename: str) -> frozenset[str]:
    import uproot

    with uproot.open(path) as file:
        return frozenset(file[treename].keys())


def _stat(path: str) -> tuple[int, float]:
    if is_remote(path):
        return (0, 0.0)
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    return (st.st_size, st.st_mtime)


def _open_and_read(
    path: str,
    treename: str,
    timeout: int,
    want_events_sumw: bool,
    want_branches: bool,
    want_runs_sumw: bool,
) -> FileInfo:
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
            uuid = bytes(file.file.fUUID)
            runs_sumw = _runs_sumw(file) if want_runs_sumw else None
            entries = _light_entries(file, treename)
            tree = None
            if (
                entries is None
                or entries == 0
                or want_branches
                or (want_events_sumw and runs_sumw is None)
            ):
                tree = file[treename]
                entries = int(tree.num_entries)
            branches = None if tree is None else frozenset(tree.keys())
        except InputFileError:
            raise
        except Exception as exc:
            raise InputFileError(
                f"{path}: unreadable ({type(exc).__name__}: {exc})".replace("\n", " ")
            ) from exc
        sumw = None
        if (
            want_events_sumw
            and runs_sumw is None
            and tree is not None
            and "genWeight" in tree
            and entries
        ):
            try:
                sumw = float(tree["genWeight"].array(library="np").astype("f8").sum())
            except Exception as exc:  # corrupt or truncated baskets
                raise InputFileError(
                    f"{path}: genWeight unreadable for the sum of weights ({type(exc).__name__}: "
                    f"{exc}); the file may be truncated or corrupt".replace("\n", " ")
                ) from exc
    return FileInfo(path, treename, entries, uuid, runs_sumw, sumw, branches)


def _light_entries(file: Any, treename: str) -> int | None:
    """The TTree's entry count from its header alone, without parsing its branches.

    A TTree record starts with its four streamed base classes, each prefixed
    by its byte count, followed by ``fEntries`` (64-bit) in every streamer
    version 16-20; uproot parses the whole record (every TBranch and TLeaf),
    which for NanoAOD is ~99 % of the cost of opening the file.  None — the
    caller then parses the tree in full — for anything else (an RNTuple, an
    older streamer, a record without byte counts).
    """
    from uproot.deserialization import numbytes_version

    try:
        key = file.key(treename)
        if key.fClassName != "TTree":
            return None
        chunk, cursor = key.get_uncompressed_chunk_cursor()
        context: dict[str, Any] = {"breadcrumbs": (), "TKey": key}
        size, version, memberwise = numbytes_version(chunk, cursor, context)
        if size is None or memberwise or version not in _TTREE_VERSIONS:
            return None
        for _ in range(4):  # TNamed, TAttLine, TAttFill, TAttMarker
            size, _, _ = numbytes_version(chunk, cursor, context, move=False)
            if size is None:
                return None
            cursor.skip(size)
        entries = int(cursor.field(chunk, _INT64, context))
    except Exception:  # any surprise: the full parse decides (and names the problem)
        return None
    return entries if entries >= 0 else None


def _runs_sumw(file: Any) -> float | None:
    if "Runs" not in file:
        return None
    runs = file["Runs"]
    for name in SUMW_BRANCHES:
        if name in runs:
            return float(runs[name].array(library="np").sum())
    return None


__all__ = [
    "Dataset",
    "FileInfo",
    "MissingBranchError",
    "check_file",
    "chunk_branches",
    "file_facts",
    "inspect_file",
    "is_remote",
    "load_fileset",
]
