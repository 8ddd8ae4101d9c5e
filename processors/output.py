"""Writing a finished selection: results.coffea, cutflow.json/.txt, manifest.json.

The table chunks are already on disk (the workers wrote them); this module
describes them.  Every file is written atomically and the manifest last, so a
folder with a manifest is a complete run (layout: :mod:`.table`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eventlens import __version__
from eventlens.config.selection import TaskConfig
from eventlens.io import atomic_path, write_json
from eventlens.objects import ObjectType

from .cutflow import format_cutflow
from .table import FORMAT, MANIFEST, TABLE_SCHEMA, TABLES_DIR
from .task import Task

log = logging.getLogger(__name__)

RESULTS = "results.coffea"
CUTFLOW_JSON, CUTFLOW_TXT = "cutflow.json", "cutflow.txt"
#: Every file a run writes besides the tables (removed by ``--overwrite``).
OUTPUT_FILES = (MANIFEST, RESULTS, CUTFLOW_JSON, CUTFLOW_TXT)


def write_outputs(
    out_dir: Path,
    spec: Task,
    cfg: TaskConfig,
    booked: dict[str, Any],
    cutflow: dict[str, dict[str, Any]],
    tables: dict[str, dict[str, dict[str, Any]]],
    datasets: dict[str, dict[str, Any]],
    skipped: list[dict[str, Any]],
    notes: list[str],
    run_info: dict[str, Any],
) -> dict[str, Any]:
    """Write the run's files (manifest last) and return the manifest."""
    from coffea.util import save

    with atomic_path(out_dir / RESULTS) as tmp:
        save(
            {
                "task": spec.name,
                "classes": list(cfg.classes),
                "config_sha256": cfg.digest(),
                "hists": booked,
                "cutflow": cutflow,
            },
            tmp,
        )
    write_json(out_dir / CUTFLOW_JSON, cutflow)
    text = format_cutflow(cutflow)
    with atomic_path(out_dir / CUTFLOW_TXT) as tmp:
        tmp.write_text(text + "\n")
    log.info("cutflow (%s):\n%s", spec.name, text)

    files = table_files(tables, list(datasets))
    manifest = build_manifest(spec, cfg, files, datasets, cutflow, skipped, notes, run_info)
    write_json(out_dir / MANIFEST, manifest)
    return manifest


def table_files(
    tables: dict[str, dict[str, dict[str, Any]]], order: list[str]
) -> list[dict[str, Any]]:
    """The manifest's file list: dataset order, then input file, then entry range."""
    rows = []
    for ds in order:
        for name, info in tables.get(ds, {}).items():
            rows.append({"path": f"{TABLES_DIR}/{name}", "dataset": ds, **info})
    return sorted(rows, key=lambda r: (order.index(r["dataset"]), r["source"], r["entry_start"]))


def build_manifest(
    spec: Task,
    cfg: TaskConfig,
    files: list[dict[str, Any]],
    datasets: dict[str, dict[str, Any]],
    cutflow: dict[str, Any],
    skipped: list[dict[str, Any]],
    notes: list[str],
    run_info: dict[str, Any],
) -> dict[str, Any]:
    """The manifest (keys documented in :mod:`.table`)."""
    import coffea

    return {
        "format": FORMAT,
        "task": spec.name,
        "classes": list(cfg.classes),
        "mass_definition": spec.mass_definition,
        "columns": {f.name: str(f.type) for f in TABLE_SCHEMA},
        "object_types": {t.name: int(t) for t in ObjectType},
        "selection_config": cfg.to_dict(),
        "selection_config_path": cfg.source,
        "selection_config_sha256": cfg.digest(),
        "luminosity_pb": cfg.luminosity_pb,
        "files": files,
        "rows": sum(f["rows"] for f in files),
        "datasets": datasets,
        "cutflow": cutflow,
        "skipped": skipped,
        "notes": notes,
        **{k: run_info[k] for k in ("executor", "workers", "chunksize")},
        "eventlens_version": __version__,
        "coffea_version": coffea.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
