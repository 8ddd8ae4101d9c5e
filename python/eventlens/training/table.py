"""Read an object table (the Parquet files + ``manifest.json`` that ``eventlens select`` writes).

The table is streamed from Parquet in record batches and kept in memory as flat
numpy columns (offsets + one array per object field, ~30 bytes per object): the
compact form the renderer reads zero-copy.  Images are never stored — each
mini-batch is gathered from these arrays and drawn on the fly.

Table layout (one row per event): ``objects`` (list of {type, pt, eta, phi,
mass, charge, btag}), ``label`` (int32 class index, −1 = unlabelled data),
``weight``, ``mass``, ``dataset``, ``run``, ``luminosityBlock``, ``event``.
The manifest gives the ordered class names and the selection.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from ..objects import OBJECT_FIELDS
from ..pipeline.table import read_manifest
from ..render.batch import FlatObjects

log = logging.getLogger(__name__)

ID_COLUMNS = ("run", "luminosityBlock", "event")
_READ_BATCH = 65536


@dataclasses.dataclass
class ObjectTable:
    """All events of a table, as flat arrays.

    Attributes:
        offsets: (N+1,) int64 event boundaries into the object columns.
        columns: flat object columns (``type, pt, eta, phi, mass, charge, btag``).
        label, weight, mass: per-event arrays.
        dataset: per-event index into :attr:`datasets`.
        run, lumi, event: per-event identity (uint64).
    """

    path: Path
    manifest: dict[str, Any]
    classes: list[str]
    offsets: np.ndarray
    columns: dict[str, np.ndarray]
    label: np.ndarray
    weight: np.ndarray
    mass: np.ndarray
    dataset: np.ndarray
    datasets: list[str]
    run: np.ndarray
    lumi: np.ndarray
    event: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    @property
    def task(self) -> str | None:
        return self.manifest.get("task")

    def gather(self, idx: np.ndarray) -> FlatObjects:
        """The objects of events ``idx`` (in that order), as fresh flat arrays."""
        idx = np.asarray(idx, dtype=np.int64)
        starts = self.offsets[idx]
        counts = self.offsets[idx + 1] - starts
        new_offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(counts, out=new_offsets[1:])
        flat = np.repeat(starts - new_offsets[:-1], counts) + np.arange(new_offsets[-1])
        return FlatObjects(
            offsets=new_offsets, columns={k: v[flat] for k, v in self.columns.items()}
        )

    def datasets_per_class(self, idx: np.ndarray | None = None) -> dict[str, list[str]]:
        """Which datasets (samples) each class was made of."""
        sel = slice(None) if idx is None else idx
        out: dict[str, list[str]] = {}
        for c, name in enumerate(self.classes):
            codes = np.unique(self.dataset[sel][self.label[sel] == c])
            out[name] = [self.datasets[i] for i in codes]
        return out


def manifest_selection(manifest: dict[str, Any]) -> dict[str, Any]:
    """The selection config and its hash, tolerant of the key spellings a manifest may use."""
    sel = manifest.get("selection")
    config = manifest.get("selection_config")
    digest = (
        manifest.get("selection_config_sha256")
        or manifest.get("selection_hash")
        or manifest.get("selection_digest")
    )
    if isinstance(sel, dict):
        if "config" in sel or "hash" in sel or "digest" in sel:
            config = sel.get("config", config)
            digest = digest or sel.get("hash") or sel.get("digest")
        else:
            config = config or sel
    return {"config": config, "hash": digest}


def table_files(path: Path, manifest: dict[str, Any]) -> list[tuple[Path, int | None]]:
    """The Parquet files of a table with the row counts the manifest promises (if any)."""
    listed = manifest.get("files")
    files: list[tuple[Path, int | None]] = []
    if isinstance(listed, list) and listed:
        for entry in listed:
            if isinstance(entry, str):
                files.append((path / entry, None))
                continue
            name = entry.get("path") or entry.get("file") or entry.get("name")
            rows = entry.get("rows", entry.get("n_rows", entry.get("events")))
            files.append((path / str(name), None if rows is None else int(rows)))
    elif isinstance(listed, dict) and listed:
        files = [(path / k, None if v is None else int(v)) for k, v in sorted(listed.items())]
    else:
        files = [(p, None) for p in sorted(path.glob("*.parquet"))]
    if not files:
        raise InputFileError(f"object table {path} has no Parquet files")
    missing = [str(p) for p, _ in files if not p.exists()]
    if missing:
        raise InputFileError(
            f"object table {path}: file(s) listed in the manifest are missing: {missing}"
        )
    return files


def read_table(path: str | Path) -> ObjectTable:
    """Read an object table folder into memory (streaming the Parquet files in record batches)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_dir():
        raise InputFileError(
            f"object table {path} does not exist (write it with `eventlens select`)"
        )
    manifest = read_manifest(path)
    classes = [str(c) for c in manifest["classes"]]
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in ("counts", *OBJECT_FIELDS, "label", "weight", "event_mass", "dataset", *ID_COLUMNS)
    }
    datasets: dict[str, int] = {}
    for file, rows in table_files(path, manifest):
        pf = pq.ParquetFile(file)
        names = set(pf.schema_arrow.names)
        if "objects" not in names:
            raise InputFileError(f"{file}: no 'objects' column (has {sorted(names)})")
        want = [
            c for c in ("objects", "label", "weight", "mass", "dataset", *ID_COLUMNS) if c in names
        ]
        n_file = 0
        for batch in pf.iter_batches(batch_size=_READ_BATCH, columns=want):
            n_file += _append_batch(batch, parts, datasets, file)
        if rows is not None and rows != n_file:
            raise InputFileError(
                f"{file}: manifest says {rows} rows, file has {n_file} (truncated?)"
            )
    counts = np.concatenate(parts.pop("counts")) if parts["label"] else np.zeros(0, np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])

    def cat(key: str, dtype: Any) -> np.ndarray:
        return (
            np.concatenate(parts[key]).astype(dtype, copy=False)
            if parts[key]
            else np.zeros(0, dtype)
        )

    table = ObjectTable(
        path=path,
        manifest=manifest,
        classes=classes,
        offsets=offsets,
        columns={k: cat(k, dt) for k, dt in OBJECT_FIELDS.items()},
        label=cat("label", np.int32),
        weight=cat("weight", np.float64),
        mass=cat("event_mass", np.float32),
        dataset=cat("dataset", np.int32),
        datasets=sorted(datasets, key=datasets.__getitem__),
        run=cat("run", np.uint64),
        lumi=cat("luminosityBlock", np.uint64),
        event=cat("event", np.uint64),
    )
    bad = (table.label < -1) | (table.label >= len(classes))
    if bad.any():
        raise InputFileError(
            f"object table {path}: {int(bad.sum())} label(s) outside [-1, {len(classes) - 1}] "
            f"(classes {classes})"
        )
    log.info(
        "read object table %s: %d events, %d objects, classes %s",
        path,
        len(table),
        offsets[-1],
        classes,
    )
    return table


def _append_batch(
    batch: Any, parts: dict[str, list[np.ndarray]], datasets: dict[str, int], file: Path
) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    objects = batch.column("objects")
    if objects.null_count:
        objects = pc.fill_null(objects, pa.scalar([], type=objects.type))
    offsets = objects.offsets.to_numpy()
    parts["counts"].append(np.diff(offsets).astype(np.int64))
    values = objects.flatten()
    fields = {values.type.field(i).name: col for i, col in enumerate(values.flatten())}
    for name, dtype in OBJECT_FIELDS.items():
        col = fields.get(name)
        if col is None:
            if name in ("type", "pt", "eta", "phi"):
                raise InputFileError(f"{file}: objects lack the field {name!r}")
            parts[name].append(np.zeros(len(values), dtype=dtype))
        else:
            parts[name].append(col.to_numpy(zero_copy_only=False).astype(dtype, copy=False))
    names = batch.schema.names

    def column(name: str, default: Any, dtype: Any) -> np.ndarray:
        if name not in names:
            return np.full(n, default, dtype=dtype)
        return batch.column(name).to_numpy(zero_copy_only=False).astype(dtype, copy=False)

    parts["label"].append(column("label", -1, np.int32))
    parts["weight"].append(column("weight", 1.0, np.float64))
    parts["event_mass"].append(column("mass", np.nan, np.float32))  # objects have "mass" too
    for key in ID_COLUMNS:
        parts[key].append(column(key, 0, np.uint64))
    if "dataset" in names:
        names_col = pc.fill_null(batch.column("dataset").cast(pa.string()), "unknown")
        enc = names_col.dictionary_encode()
        local = [datasets.setdefault(str(s), len(datasets)) for s in enc.dictionary.to_pylist()]
        codes = enc.indices.to_numpy(zero_copy_only=False)
        parts["dataset"].append(
            np.asarray(local, dtype=np.int32)[codes] if local else np.zeros(n, np.int32)
        )
    else:
        parts["dataset"].append(np.full(n, datasets.setdefault("unknown", len(datasets)), np.int32))
    return n
