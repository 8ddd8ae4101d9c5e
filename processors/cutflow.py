"""Cutflow bookkeeping that accounts for every event read.

Each step sees the events that survived the previous steps and splits them
three ways: ``bad`` (a NaN/inf in a branch the step reads, so the cut cannot be
evaluated honestly), ``failed`` (the cut is false) and ``passed``.  Hence, by
construction and checked in the tests::

    read == selected + sum(bad + failed over all steps)

Steps are evaluated as masks over the whole chunk (no slicing in between),
which keeps each task's selection a flat list of ``require`` calls.  The
mergeable form (:meth:`Cutflow.to_dict`) holds only integers, so coffea's
``accumulate`` adds chunks exactly, in any order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import awkward as ak
import numpy as np

from .reuse import reusable


def as_mask(values: Any, n: int) -> np.ndarray:
    """A per-event boolean numpy mask; missing values (None) count as False."""
    if isinstance(values, (bool, np.bool_)):
        return np.full(n, bool(values))
    arr = values if isinstance(values, np.ndarray) else ak.to_numpy(ak.fill_none(values, False))
    return np.asarray(arr, dtype=bool)


@reusable
def finite_events(collection: ak.Array, fields: Iterable[str]) -> np.ndarray:
    """True for events whose objects have finite values in all ``fields``.

    Works for jagged collections (every object must be finite) and for
    per-event records such as MET.  Integer and boolean fields are finite by
    definition and skipped, which saves a pass per field.
    """
    ok: np.ndarray | None = None
    for name in fields:
        column = collection[name]
        if not _is_floating(column):
            continue
        finite = np.isfinite(column)
        if column.ndim > 1:
            finite = ak.all(finite, axis=1)
        mask = np.asarray(ak.to_numpy(finite), dtype=bool)
        ok = mask if ok is None else ok & mask
    return np.ones(len(collection), dtype=bool) if ok is None else ok


def _is_floating(column: ak.Array) -> bool:
    layout = column.layout
    while not hasattr(layout, "dtype"):
        layout = layout.content
    return np.issubdtype(layout.dtype, np.floating)


class Cutflow:
    """Sequential event selection over one chunk, with per-step accounting."""

    def __init__(self, n_events: int) -> None:
        self.n_read = n_events
        self.alive = np.ones(n_events, dtype=bool)
        self.steps: dict[str, dict[str, int]] = {}

    def require(self, name: str, passed: Any, bad: np.ndarray | None = None) -> None:
        """Keep events where ``passed`` holds; events flagged ``bad`` are dropped first.

        ``bad`` marks events with non-finite values in the branches this step
        reads.  A step name may appear only once per task.
        """
        if name in self.steps:
            raise ValueError(f"cutflow step {name!r} used twice")
        keep = as_mask(passed, self.n_read)
        dropped_bad = self.alive & bad if bad is not None else np.zeros_like(self.alive)
        evaluated = self.alive & ~dropped_bad
        self.alive = evaluated & keep
        self.steps[name] = {
            "bad": int(dropped_bad.sum()),
            "failed": int((evaluated & ~keep).sum()),
            "passed": int(self.alive.sum()),
        }

    @property
    def n_selected(self) -> int:
        return int(self.alive.sum())

    def to_dict(self) -> dict[str, Any]:
        """Mergeable form: ``{"read", "selected", "steps": {name: {bad, failed, passed}}}``."""
        return {
            "read": self.n_read,
            "selected": self.n_selected,
            "steps": {k: dict(v) for k, v in self.steps.items()},
        }


def empty_cutflow(step_names: Iterable[str]) -> dict[str, Any]:
    """The cutflow of a dataset nothing was read from (empty or skipped files)."""
    return {
        "read": 0,
        "selected": 0,
        "steps": {s: {"bad": 0, "failed": 0, "passed": 0} for s in step_names},
    }


def check_balance(cutflow: dict[str, Any]) -> None:
    """Raise AssertionError unless every event read is accounted for exactly once."""
    dropped = sum(s["bad"] + s["failed"] for s in cutflow["steps"].values())
    if cutflow["read"] != cutflow["selected"] + dropped:
        raise AssertionError(
            f"cutflow does not add up: read {cutflow['read']} != selected "
            f"{cutflow['selected']} + dropped {dropped}"
        )


def format_cutflow(cutflows: dict[str, dict[str, Any]]) -> str:
    """A fixed-width text table per dataset, for logs and ``cutflow.txt``."""
    lines = []
    for dataset, cf in cutflows.items():
        lines.append(f"{dataset}: read {cf['read']}, selected {cf['selected']}")
        lines.append(f"  {'step':<22}{'bad':>8}{'failed':>9}{'passed':>9}")
        for step, c in cf["steps"].items():
            lines.append(f"  {step:<22}{c['bad']:>8}{c['failed']:>9}{c['passed']:>9}")
    return "\n".join(lines)
