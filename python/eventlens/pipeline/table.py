"""The training table: one Parquet file per processed chunk, plus a manifest.

Layout of an output directory ``DIR`` written by ``eventlens select``::

    DIR/manifest.json          what to read (below); written last, atomically
    DIR/tables/<dataset>__<file stem>-<8 hex of the path>__<start>-<stop>.parquet
    DIR/hists.json             histograms + cutflow (data-only: eventlens.pipeline.results)
    DIR/cutflow.json, DIR/cutflow.txt

Each Parquet file holds the selected events of one chunk (entries
``[start, stop)`` of one input file), so parallel executors never write the
same file; chunks with no selected event write no file.  The workers write
them directly, so with a distributed executor ``DIR`` must be on a
filesystem every worker sees.  Every file has this
exact Arrow schema (:data:`TABLE_SCHEMA`)::

    objects          list<struct<type: int32, pt: float, eta: float, phi: float,
                                 mass: float, charge: int32, btag: float>>
    label            int32     class index into manifest["classes"], -1 = none (data)
    weight           double    genWeight*xsec*lumi/sumw (MC), 1 (data)
    mass             float     the task mass (manifest["mass_definition"])
    dataset          string
    run              uint32
    luminosityBlock  uint32
    event            uint64

``objects`` is the canonical :mod:`eventlens.objects` layout: ``type`` is an
:class:`eventlens.objects.ObjectType` code, objects are ordered electrons,
muons, photons, jets, MET (MET has eta = 0, mass = 0), each type by
decreasing pT; jets carry their b-tag score in ``btag`` (0 for other types).
No value in a table is NaN or infinite: such events are dropped and counted
in the cutflow.  The file's schema metadata key ``eventlens`` repeats the
task, dataset, source file and entry range.

Read a table with ``ak.from_parquet(path)`` (records with an ``objects`` list,
ready for :func:`eventlens.render.render`; in awkward, take the type codes as
``objects["type"]``, since ``objects.type`` is the array's type attribute),
``pyarrow.parquet.read_table`` or
``pyarrow.dataset.dataset(files)``; take the file list from the manifest
(:func:`table_files`), not from a directory listing, which may hold tables of
an interrupted run.

``manifest.json`` keys: ``format`` (``eventlens.selection/1``), ``task``,
``classes`` (names, index order), ``mass_definition``, ``columns`` (the schema
above as text), ``object_types`` (name → code), ``selection_config`` (the
resolved YAML), ``selection_config_path``, ``selection_config_sha256``,
``luminosity_pb``, ``files`` (list of ``{path, dataset, rows, source,
entry_start, entry_stop}`` with ``path`` relative to DIR), ``rows`` (total),
``datasets`` (per dataset: ``class`` (index, -1 for data, null when labels
come from mass windows), ``weight_mode``, ``xsec``, ``sumw``, ``sumw_source``,
``simulation``, ``files``, ``entries``, ``metadata`` as given), ``cutflow``
(per dataset: ``read``, ``selected``, ``steps: {name: {bad, failed, passed}}``),
``skipped`` (bad files or chunks left out with ``--skip-bad-files``),
``notes`` (fallbacks used), ``executor``, ``workers``, ``chunksize``,
``eventlens_version``, ``coffea_version``, ``created``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eventlens.errors import InputFileError
from eventlens.io import atomic_path
from eventlens.objects import OBJECT_FIELDS

from .chunks import chunk_name

MANIFEST = "manifest.json"
TABLES_DIR = "tables"
FORMAT = "eventlens.selection/1"

# Every field is non-nullable, so readers get plain (not option) types.
OBJECT_STRUCT = pa.struct(
    [
        pa.field(name, pa.from_numpy_dtype(dtype), nullable=False)
        for name, dtype in OBJECT_FIELDS.items()
    ]
)
#: The Arrow schema of every table file.
TABLE_SCHEMA = pa.schema(
    [
        pa.field(
            "objects", pa.list_(pa.field("element", OBJECT_STRUCT, nullable=False)), nullable=False
        ),
        pa.field("label", pa.int32(), nullable=False),
        pa.field("weight", pa.float64(), nullable=False),
        pa.field("mass", pa.float32(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("run", pa.uint32(), nullable=False),
        pa.field("luminosityBlock", pa.uint32(), nullable=False),
        pa.field("event", pa.uint64(), nullable=False),
    ]
)


def table_name(dataset: str, filename: str, start: int, stop: int) -> str:
    """File name of one chunk's table (the chunk's name, :func:`.chunks.chunk_name`)."""
    return chunk_name(dataset, filename, start, stop) + ".parquet"


def build_table(
    objects: ak.Array,
    label: np.ndarray,
    weight: np.ndarray,
    mass: np.ndarray,
    dataset: str,
    ids: Mapping[str, np.ndarray],
) -> pa.Table:
    """Assemble the per-event columns into a table with :data:`TABLE_SCHEMA`."""
    n = len(label)
    columns = {
        "objects": ak.to_arrow(objects, extensionarray=False, list_to32=True),
        "label": pa.array(np.asarray(label, dtype=np.int32)),
        "weight": pa.array(np.asarray(weight, dtype=np.float64)),
        "mass": pa.array(np.asarray(mass, dtype=np.float32)),
        "dataset": pa.array([dataset] * n, type=pa.string()),
        "run": pa.array(np.asarray(ids["run"], dtype=np.uint32)),
        "luminosityBlock": pa.array(np.asarray(ids["luminosityBlock"], dtype=np.uint32)),
        "event": pa.array(np.asarray(ids["event"], dtype=np.uint64)),
    }
    return pa.table(columns).cast(TABLE_SCHEMA)


def write_table(table: pa.Table, path: Path, info: Mapping[str, Any]) -> None:
    """Write one table atomically (temp file + rename), ``info`` as schema metadata."""
    table = table.replace_schema_metadata({"eventlens": json.dumps(dict(info), sort_keys=True)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of a selection output folder; InputFileError when it is not one."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise InputFileError(
            f"{directory} is not an object table: no {MANIFEST} (write one with `eventlens "
            "select`; a folder OUT.incomplete beside it means the run has not finished)"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest.get("classes"), list) or not manifest["classes"]:
        raise InputFileError(f"{path} has no 'classes' list (ordered class names)")
    return manifest


def table_files(directory: str | Path) -> list[Path]:
    """Absolute paths of the table files a finished run listed in its manifest."""
    directory = Path(directory)
    return [directory / f["path"] for f in read_manifest(directory)["files"]]


def load_table(directory: str | Path) -> ak.Array:
    """All rows of a finished run as one awkward array (small outputs, tests, plots)."""
    files = table_files(directory)
    if not files:
        return ak.from_arrow(TABLE_SCHEMA.empty_table())
    return ak.concatenate([ak.from_parquet(f) for f in files])
