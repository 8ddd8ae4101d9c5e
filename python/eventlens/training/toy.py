"""Synthetic object tables in the exact layout ``eventlens select`` writes.

For tests and benchmarks only — never for physics results.  Two generators:

* :func:`rings_events`: a 2-class toy where the classes differ only in the
  muons' pT, i.e. in the *radius* of their circles (class 0: pT 8–20 GeV,
  class 1: 150–400 GeV), with random jets as clutter and random η, φ, so a
  network must read the geometry of the picture to separate them.
* :func:`dtw_like_events`: three classes with the multiplicities of the DTW
  scenario (tt̄: 1 lepton + MET + 4 jets, 2 b-tagged; W+jets: 1 lepton + MET
  + 0–2 jets; DY: 2 opposite-charge muons near the Z mass), for benchmarks with
  realistic sparsity.

:func:`write_table` writes any such event set as Parquet files + manifest.json.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..io import atomic_path, write_json
from ..objects import OBJECT_FIELDS, ObjectType

Events = dict[str, Any]  # offsets + flat object columns + per-event columns


def _events(
    objects_per_event: list[list[tuple[float, ...]]],
    labels: np.ndarray,
    datasets: Sequence[str],
    rng: np.random.Generator,
) -> Events:
    counts = np.array([len(o) for o in objects_per_event], dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = np.array([obj for ev in objects_per_event for obj in ev], dtype=np.float64).reshape(
        -1, 7
    )
    columns = {name: flat[:, i].astype(dt) for i, (name, dt) in enumerate(OBJECT_FIELDS.items())}
    n = len(labels)
    return {
        "offsets": offsets,
        "columns": columns,
        "label": labels.astype(np.int32),
        "weight": np.ones(n),
        "mass": rng.uniform(0, 200, n).astype(np.float32),
        "dataset": np.asarray([datasets[i] for i in labels]),
        "run": np.ones(n, dtype=np.uint32),
        "luminosityBlock": (np.arange(n) // 1000 + 1).astype(np.uint32),
        "event": np.arange(1, n + 1, dtype=np.uint64),
    }


def _obj(
    t: int, pt: float, eta: float, phi: float, mass: float = 0.0, charge: int = 0, btag: float = 0.0
) -> tuple[float, ...]:
    return (t, pt, eta, phi, mass, charge, btag)


def rings_events(n_events: int, seed: int) -> Events:
    """The 2-class radius toy (see the module docstring); classes alternate."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_events) % 2
    out = []
    mu = int(ObjectType.MUON)
    jet = int(ObjectType.JET)
    for lab in labels:
        lo, hi = (8.0, 20.0) if lab == 0 else (150.0, 400.0)
        ev = [
            _obj(
                mu,
                rng.uniform(lo, hi),
                rng.uniform(-2.0, 2.0),
                rng.uniform(-np.pi, np.pi),
                0.106,
                int(rng.choice([-1, 1])),
            )
            for _ in range(2)
        ]
        ev += [
            _obj(
                jet,
                rng.uniform(30, 100),
                rng.uniform(-2.4, 2.4),
                rng.uniform(-np.pi, np.pi),
                5.0,
                0,
                rng.uniform(0, 0.2),
            )
            for _ in range(rng.integers(0, 3))
        ]
        out.append(ev)
    return _events(out, labels, ["toy_small", "toy_large"], rng)


def dtw_like_events(n_events: int, seed: int) -> Events:
    """Three DTW-like classes (ttbar, wjets, dy), in turn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_events) % 3
    e, mu, jet, met = (
        int(ObjectType.ELECTRON),
        int(ObjectType.MUON),
        int(ObjectType.JET),
        int(ObjectType.MET),
    )

    def phi() -> float:
        return float(rng.uniform(-np.pi, np.pi))

    def eta(width: float = 2.4) -> float:
        return float(rng.uniform(-width, width))

    def lepton() -> tuple[float, ...]:
        t = int(rng.choice([e, mu]))
        return _obj(t, rng.exponential(30) + 25, eta(), phi(), 0.0, int(rng.choice([-1, 1])))

    def jets(n: int, n_b: int) -> list[tuple[float, ...]]:
        return [
            _obj(
                jet,
                rng.exponential(40) + 30,
                eta(),
                phi(),
                10.0,
                0,
                rng.uniform(0.5, 1.0) if i < n_b else rng.uniform(0, 0.2),
            )
            for i in range(n)
        ]

    out = []
    for lab in labels:
        if lab == 0:  # ttbar
            ev = [
                lepton(),
                *jets(int(rng.integers(4, 7)), 2),
                _obj(met, rng.exponential(40) + 20, 0, phi()),
            ]
        elif lab == 1:  # W+jets
            ev = [
                lepton(),
                *jets(int(rng.integers(0, 3)), 0),
                _obj(met, rng.exponential(30) + 25, 0, phi()),
            ]
        else:  # Drell-Yan: two muons, pT ~ mZ/2
            p = phi()
            ev = [
                _obj(mu, rng.normal(45, 8), eta(), p, 0.106, 1),
                _obj(mu, rng.normal(45, 8), eta(), p + np.pi + rng.normal(0, 0.3), 0.106, -1),
                *jets(int(rng.integers(0, 2)), 0),
                _obj(met, rng.exponential(10) + 1, 0, phi()),
            ]
        out.append(ev)
    return _events(out, labels, ["ttbar_toy", "wjets_toy", "dy_toy"], rng)


def _arrow_table(ev: Events, sl: slice) -> Any:
    import pyarrow as pa

    offsets = ev["offsets"][sl.start : sl.stop + 1]
    lo, hi = int(offsets[0]), int(offsets[-1])
    struct = pa.StructArray.from_arrays(
        [
            pa.array(ev["columns"][k][lo:hi], type=pa.from_numpy_dtype(dt))
            for k, dt in OBJECT_FIELDS.items()
        ],
        names=list(OBJECT_FIELDS),
    )
    objects = pa.ListArray.from_arrays(pa.array((offsets - lo).astype(np.int32)), struct)
    return pa.table(
        {
            "objects": objects,
            "label": pa.array(ev["label"][sl], type=pa.int32()),
            "weight": pa.array(ev["weight"][sl], type=pa.float64()),
            "mass": pa.array(ev["mass"][sl], type=pa.float32()),
            "dataset": pa.array(ev["dataset"][sl].astype(str), type=pa.string()),
            "run": pa.array(ev["run"][sl], type=pa.uint32()),
            "luminosityBlock": pa.array(ev["luminosityBlock"][sl], type=pa.uint32()),
            "event": pa.array(ev["event"][sl], type=pa.uint64()),
        }
    )


def write_table(
    path: str | Path, events: Events, task: str, classes: Sequence[str], n_files: int = 2
) -> Path:
    """Write ``events`` as an object table folder, laid out as ``eventlens select`` does
    (``tables/*.parquet`` + ``manifest.json`` with format ``eventlens.selection/1``)."""
    import pyarrow.parquet as pq

    path = Path(path)
    (path / "tables").mkdir(parents=True, exist_ok=True)
    n = len(events["label"])
    bounds = np.linspace(0, n, n_files + 1).astype(int)
    files = []
    for i in range(n_files):
        name = f"tables/toy__part-{i:04d}.parquet"
        with atomic_path(path / name) as tmp:
            pq.write_table(_arrow_table(events, slice(bounds[i], bounds[i + 1])), tmp)
        files.append({"path": name, "dataset": "toy", "rows": int(bounds[i + 1] - bounds[i])})
    selection = {"task": task, "toy": True, "generator": "eventlens.training.toy"}
    datasets = sorted(set(events["dataset"].tolist()))
    write_json(
        path / "manifest.json",
        {
            "format": "eventlens.selection/1",
            "task": task,
            "classes": list(classes),
            "selection_config": selection,
            "selection_config_sha256": hashlib.sha256(
                json.dumps(selection, sort_keys=True).encode()
            ).hexdigest(),
            "files": files,
            "rows": n,
            "datasets": {d: {"class": None, "weight_mode": "unit"} for d in datasets},
            "cutflow": {"all": n},
            "eventlens_version": __version__,
        },
    )
    return path


def write_rings_table(path: str | Path, n_events: int, seed: int = 0, n_files: int = 2) -> Path:
    """The 2-class radius toy as a table (task ``toy_rings``, classes small/large)."""
    return write_table(path, rings_events(n_events, seed), "toy_rings", ["small", "large"], n_files)


def write_dtw_like_table(path: str | Path, n_events: int, seed: int = 0, n_files: int = 2) -> Path:
    """The DTW-like toy as a table (task ``dtw``, classes ttbar/wjets/dy)."""
    return write_table(
        path, dtw_like_events(n_events, seed), "dtw", ["ttbar", "wjets", "dy"], n_files
    )
