"""Write (and read back) eventlens NanoAOD files with uproot.

Layout, as CMS NanoAOD:
- ``Events``: a TTree (``mktree`` + ``extend``; ``file["Events"] = dict``
  would make an RNTuple) with ``run``, ``luminosityBlock``, ``event``,
  ``genWeight``, ``MET_*``, ``GenMET_*``, ``Generator_*`` and the jagged
  collections ``nMuon``/``Muon_*``, ``Electron``, ``Photon``, ``Jet``,
  ``GenPart``.  Counters are ``Int_t`` (uproot writes them so; CMS uses
  ``UInt_t``; coffea and RDataFrame accept both).
- ``Runs``: one entry with ``run``, ``genEventCount``, ``genEventSumw``,
  ``genEventSumw2``.
- ``Metadata``: one entry with the process, seed, eventlens version, Pythia's
  cross-section and the full settings (JSON) plus their hash.

Clusters: ROOT reads the cluster layout of a TTree from ``fAutoFlush``.
uproot writes a byte-based value (−30 MB), so ROOT sees a small file as *one*
cluster and implicit multithreading cannot split it.  The writer therefore
writes every branch in blocks of exactly ``cluster_size`` entries (one basket
per branch per block) and sets ``fAutoFlush = cluster_size``, which makes the
basket boundaries ROOT's cluster boundaries (checked in the tests with
``TTree::GetClusterIterator`` and an ``EnableImplicitMT`` RDataFrame).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ..errors import InputFileError
from .detector import COLLECTIONS, EventColumns

log = logging.getLogger(__name__)

#: Entries per cluster (and per basket) in the Events tree.
DEFAULT_CLUSTER_SIZE = 1000


def _concat(parts: list[np.ndarray | ak.Array]) -> np.ndarray | ak.Array:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], ak.Array):
        return ak.concatenate(parts)
    return np.concatenate(parts)


def _branch_type(value: np.ndarray | ak.Array) -> Any:
    return value.type.content if isinstance(value, ak.Array) else value.dtype


class NanoAODWriter:
    """Stream :class:`EventColumns` into a NanoAOD file in fixed-size clusters.

    Use as a context manager; call :meth:`finish` with the metadata before the
    block ends (a file without ``Runs``/``Metadata`` is never left behind
    under its final name, because callers write into an atomic temporary path).
    """

    def __init__(
        self, path: str | Path, cluster_size: int = DEFAULT_CLUSTER_SIZE, compression_level: int = 4
    ) -> None:
        import uproot

        if cluster_size < 1:
            raise ValueError(f"cluster_size must be >= 1, got {cluster_size}")
        self.path = Path(path)
        self.cluster_size = cluster_size
        self._file = uproot.recreate(self.path, compression=uproot.ZLIB(compression_level))
        self._tree: Any = None
        self._pending: list[dict[str, np.ndarray | ak.Array]] = []
        self._n_pending = 0
        self.n_written = 0
        self.sumw = 0.0
        self.sumw2 = 0.0
        self.n_clusters = 0

    def __enter__(self) -> NanoAODWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def write(self, columns: EventColumns) -> None:
        """Queue a batch; full clusters are written as soon as they are complete."""
        if columns.n_events == 0:
            return
        self._pending.append(columns.to_branches())
        self._n_pending += columns.n_events
        weights = columns.scalars["genWeight"].astype(np.float64)
        self.sumw += float(weights.sum())
        self.sumw2 += float((weights**2).sum())
        while self._n_pending >= self.cluster_size:
            self._flush(self.cluster_size)

    def _flush(self, n: int) -> None:
        merged = {k: _concat([p[k] for p in self._pending]) for k in self._pending[0]}
        block = {k: v[:n] for k, v in merged.items()}
        rest = {k: v[n:] for k, v in merged.items()}
        if self._tree is None:
            self._tree = self._file.mktree(
                "Events", {k: _branch_type(v) for k, v in block.items()}, title="Events"
            )
            self._set_cluster_size()
        self._tree.extend(block)
        self.n_written += n
        self.n_clusters += 1
        self._n_pending -= n
        self._pending = [rest] if self._n_pending else []

    def _set_cluster_size(self) -> None:
        # uproot has no API for it; its writable tree keeps the TTree header
        # fields in a dict that it re-serialises on every extend().
        meta = getattr(getattr(self._tree, "_cascading", None), "_metadata", None)
        if not isinstance(meta, dict) or "fAutoFlush" not in meta:
            log.warning(
                "this uproot version does not expose fAutoFlush: ROOT will see "
                "%s as a single cluster (no implicit-MT splitting)",
                self.path,
            )
            return
        meta["fAutoFlush"] = self.cluster_size

    def finish(self, metadata: Mapping[str, Any]) -> None:
        """Write the last partial cluster, the Runs tree and the Metadata tree."""
        if self._n_pending:
            self._flush(self._n_pending)
        if self._tree is None:
            raise ValueError("no events were written")
        runs = self._file.mktree(
            "Runs",
            {
                "run": np.uint32,
                "genEventCount": np.int64,
                "genEventSumw": np.float64,
                "genEventSumw2": np.float64,
            },
        )
        runs.extend(
            {
                "run": np.array([1], np.uint32),
                "genEventCount": np.array([self.n_written], np.int64),
                "genEventSumw": np.array([self.sumw]),
                "genEventSumw2": np.array([self.sumw2]),
            }
        )
        columns = {k: _metadata_column(k, v) for k, v in metadata.items()}
        tree = self._file.mktree(
            "Metadata", {k: (str if v.dtype.kind == "U" else v.dtype) for k, v in columns.items()}
        )
        tree.extend(columns)


def _metadata_column(key: str, value: Any) -> np.ndarray:
    if isinstance(value, bool):
        return np.array([value], dtype=np.bool_)
    if isinstance(value, (int, np.integer)):
        return np.array([value], dtype=np.int64)
    if isinstance(value, (float, np.floating)):
        return np.array([value], dtype=np.float64)
    if isinstance(value, str):
        return np.array([value])
    if isinstance(value, (dict, list, tuple)):
        return np.array([json.dumps(value, sort_keys=True)])
    raise TypeError(f"metadata {key!r}: cannot store {type(value).__name__}")


# --------------------------------------------------------------------------- reading


def _open(path: str | Path) -> Any:
    import uproot

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such file")
    try:
        # Memory-mapped reads: uproot's default fsspec source starts I/O threads,
        # after which forking worker processes would no longer be safe.
        return uproot.open(p, handler=uproot.MemmapSource)
    except Exception as exc:
        raise InputFileError(
            f"{p}: not a readable ROOT file ({type(exc).__name__}: {exc})"
        ) from exc


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The Metadata tree's single entry as a dict (JSON fields decoded, Runs sums added)."""
    with _open(path) as f:
        if "Metadata" not in f or "Runs" not in f:
            raise InputFileError(f"{path}: not an eventlens NanoAOD file (no Metadata/Runs tree)")
        row = f["Metadata"].arrays(library="np")
        runs = f["Runs"].arrays(library="np")
    out: dict[str, Any] = {}
    for key, arr in row.items():
        value = arr[0]
        if isinstance(value, np.generic):
            value = value.item()
        if key.endswith("_json") and isinstance(value, str):
            value = json.loads(value)
        out[key] = value
    out["genEventCount"] = int(runs["genEventCount"].sum())
    out["genEventSumw"] = float(runs["genEventSumw"].sum())
    out["genEventSumw2"] = float(runs["genEventSumw2"].sum())
    return out


def iterate_columns(path: str | Path, step: int = DEFAULT_CLUSTER_SIZE) -> Iterator[EventColumns]:
    """Read an eventlens file back as :class:`EventColumns` (used to merge chunk files)."""
    with _open(path) as f:
        tree = f["Events"]
        keys = tree.keys()
        counters = {f"n{c}" for c in COLLECTIONS}
        scalar_keys = [
            k for k in keys if k not in counters and k.split("_", 1)[0] not in COLLECTIONS
        ]
        for start in range(0, tree.num_entries, step):
            stop = min(start + step, tree.num_entries)
            arrays = tree.arrays(keys, entry_start=start, entry_stop=stop, how=dict)
            scalars = {k: ak.to_numpy(arrays[k]) for k in scalar_keys}
            collections = {}
            for c in COLLECTIONS:
                counts = ak.to_numpy(arrays[f"n{c}"]).astype(np.int64)
                collections[c] = (
                    counts,
                    {
                        k[len(c) + 1 :]: ak.to_numpy(ak.flatten(arrays[k]))
                        for k in keys
                        if k.startswith(f"{c}_")
                    },
                )
            yield EventColumns(stop - start, scalars, collections)
