"""What a task is, and the task-independent part of analysing one chunk.

A task (``dimuon.py``, ``dtw.py``, ``dhjw.py``, ``hgg.py``) supplies a
``select`` function that reads :class:`~.inputs.Inputs`, applies its cuts
through the :class:`~.cutflow.Cutflow` and returns :class:`Candidates`: the
selected objects per collection, the task mass and, for mass-window tasks,
the labels.  :func:`analyse` wraps it with the steps every task shares:

1. ``finite_weight``  – drop events whose event weight is NaN/inf;
2. collision data only, when the config's ``data:`` block asks: ``lumi_mask``
   and ``trigger`` (:mod:`.dataquality`; simulation passes them);
3. the task's steps;
4. ``finite_objects`` – drop events whose table objects, MET (read by every
   task) or mass hold a NaN/inf, so tables never contain one.

:func:`analyse` is pure (no coffea, no I/O): the coffea processor and the
benchmark's direct-uproot reference both call it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from eventlens.config.selection import TaskConfig
from eventlens.objects import objects_from_collections

from .cutflow import Cutflow, finite_events
from .dataquality import require_data_quality
from .inputs import Inputs
from .labels import NO_LABEL, dataset_class
from .weights import event_weights

WEIGHT_STEP = "finite_weight"
FINAL_STEP = "finite_objects"
_CHECKED_FIELDS = ("pt", "eta", "phi", "mass", "btag")


@dataclass
class Candidates:
    """A task's selection result over *all* events of the chunk (not yet sliced).

    ``objects`` maps collection names (Electron, Muon, Photon, Jet) to the
    selected objects of each event; jets carry a ``btag`` field.  ``mass``
    is one float per event (0 where undefined).  ``labels`` is set by tasks
    that label per event and left None for per-dataset (metadata) labels.
    """

    objects: dict[str, ak.Array]
    mass: np.ndarray
    labels: np.ndarray | None = None
    nbtag: np.ndarray | None = None


@dataclass(frozen=True)
class Task:
    """A task: its selection function, what it needs and provides, and how it is shown.

    A module of ``processors/`` that defines ``TASK = Task(...)`` *is* a task
    (the registry, :mod:`.registry`, finds it); its cuts and classes are in
    ``configs/selection/<name>.yaml`` (or ``config``, for a task kept outside
    the repository).
    """

    name: str
    select: Callable[[Inputs, TaskConfig, Cutflow], Candidates]
    params: type  # dataclass of the config's ``selection`` block
    objects: tuple[str, ...]  # object blocks the config must define
    provides: tuple[str, ...]  # collections available for the table (MET always)
    steps: tuple[str, ...]  # the task's own cutflow steps, in order
    mass_definition: str  # in words, stored in every manifest
    axis_label: str  # the mass as an axis title (matplotlib mathtext)
    #: Minimum test metrics a model of this task should reach (``eventlens compare``
    #: reports them): (metric name: ``accuracy``, ``signal_vs_background``; value).
    targets: tuple[tuple[str, float], ...] = ()
    #: The selection config, when not ``configs/selection/<name>.yaml``.
    config: Path | None = None

    @property
    def all_steps(self) -> tuple[str, ...]:
        """The steps of a config without a ``data:`` block (see :func:`run_steps`)."""
        return (WEIGHT_STEP, *self.steps, FINAL_STEP)


def run_steps(task: Task, cfg: TaskConfig) -> tuple[str, ...]:
    """Every cutflow step of ``task`` run with ``cfg``, in order (module docstring)."""
    from .dataquality import data_steps

    return (WEIGHT_STEP, *data_steps(cfg), *task.steps, FINAL_STEP)


@dataclass
class ChunkResult:
    """The selected events of one chunk, ready for histograms and the table."""

    cutflow: Cutflow
    objects: ak.Array
    label: np.ndarray
    weight: np.ndarray
    mass: np.ndarray
    met_pt: np.ndarray
    ids: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]
    nbtag: np.ndarray
    notes: set[str] = field(default_factory=set)
    #: The selected events' collections as the task selected them (Jet with ``btag``),
    #: for scale factors and systematics; ``selected`` is the chunk mask they came from.
    collections: dict[str, ak.Array] = field(default_factory=dict)
    selected: np.ndarray | None = None


def analyse(
    task: Task, cfg: TaskConfig, inputs: Inputs, dataset: str, metadata: Mapping[str, Any] | None
) -> ChunkResult:
    """Run the shared steps and the task's selection on one chunk."""
    cutflow = Cutflow(inputs.n)
    weight = event_weights(inputs.gen_weight, metadata, cfg.luminosity_pb, inputs.n)
    cutflow.require(WEIGHT_STEP, True, bad=~np.isfinite(weight))
    require_data_quality(cfg, inputs, cutflow)

    cand = task.select(inputs, cfg, cutflow)

    finite = np.isfinite(cand.mass) & finite_events(inputs.met, ("pt", "phi"))
    for name, coll in cand.objects.items():
        if name in cfg.table.collections:
            finite &= finite_events(coll, [f for f in _CHECKED_FIELDS if f in coll.fields])
    cutflow.require(FINAL_STEP, True, bad=~finite)

    sel = cutflow.alive
    notes = set(inputs.notes)
    if cand.labels is not None:
        label = cand.labels[sel]
    else:
        index = dataset_class(dataset, metadata, cfg)
        if index is None and inputs.gen_weight is not None:
            notes.add(
                f"dataset {dataset}: simulation without a class of task {task.name}, "
                f"label {NO_LABEL}"
            )
        label = np.full(int(sel.sum()), NO_LABEL if index is None else index, dtype=np.int32)
    selected = {name: coll[sel] for name, coll in cand.objects.items()}
    table_colls = {k: v for k, v in selected.items() if k in cfg.table.collections}
    met = inputs.met[sel]
    objects = objects_from_collections(
        table_colls, met if "MET" in cfg.table.collections else None, btag="btag"
    )
    counts = {name.lower(): ak.to_numpy(ak.num(coll, axis=1)) for name, coll in selected.items()}
    nbtag = cand.nbtag[sel] if cand.nbtag is not None else np.zeros(int(sel.sum()), dtype=np.int64)
    if "Jet" in selected:
        counts["bjet"] = nbtag
    return ChunkResult(
        cutflow=cutflow,
        objects=objects,
        label=label,
        weight=weight[sel],
        mass=cand.mass[sel],
        met_pt=ak.to_numpy(met.pt).astype(np.float64),
        ids={k: v[sel] for k, v in inputs.ids.items()},
        counts=counts,
        nbtag=nbtag,
        notes=notes,
        collections=selected,
        selected=sel,
    )
