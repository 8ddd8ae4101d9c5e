"""Class labels: by mass window (dimuon) or by dataset metadata (dtw, dhjw, hgg).

Labels are ``int32`` class indices into the config's ``classes`` list; events
without a class (real data in a metadata-labelled task) get :data:`NO_LABEL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from eventlens.config.selection import TaskConfig

#: Label of events that belong to no class (data in metadata-labelled tasks).
NO_LABEL = -1


def window_labels(mass: np.ndarray, cfg: TaskConfig) -> np.ndarray:
    """Class index of each mass: the window containing it, else ``labels.default``.

    Windows are inclusive at both edges.  The comparison is done on the mass
    as stored in the table (float32) against the edges rounded to float32, so
    re-deriving a label from a stored mass always agrees with the stored label.
    """
    stored = np.asarray(mass, dtype=np.float32)
    out = np.full(len(stored), cfg.classes.index(cfg.labels.default), dtype=np.int32)
    for name, (lo, hi) in cfg.labels.windows.items():
        inside = (stored >= np.float32(lo)) & (stored <= np.float32(hi))
        out[inside] = cfg.classes.index(name)
    return out


def dataset_class(dataset: str, metadata: Mapping[str, Any] | None, cfg: TaskConfig) -> int | None:
    """Class index of a whole dataset, or None when nothing identifies it.

    Tried in order: metadata ``label`` (a class index, a class name or a
    name mapped in ``labels.processes``), metadata ``process``, the dataset
    name.  A ``label`` that is none of these (e.g. a plot legend text) is
    skipped rather than trusted.
    """
    meta = metadata or {}
    label = meta.get("label")
    if isinstance(label, int) and not isinstance(label, bool):
        return label if 0 <= label < len(cfg.classes) else None
    for name in (label, meta.get("process"), dataset):
        if isinstance(name, str):
            resolved = cfg.labels.processes.get(name, name)
            if resolved in cfg.classes:
                return cfg.classes.index(resolved)
    return None
