"""Checkpoints: everything needed to resume a run exactly, or to export its model.

A checkpoint is a plain dict saved with ``torch.save`` through an atomic
rename (an interrupted write never replaces the previous epoch's file).  It
holds only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(weights_only=True)`` — no pickled code runs on load.

Keys: ``format``, ``config`` (the expanded training config), ``model``
{name, params, input_kind, input_shape}, ``classes``, ``render_config``,
``table_spec``, ``data`` (table path, task, selection, datasets per class,
events per split, split digests), ``state_dict``, ``optimiser``,
``scheduler``, ``epoch`` (completed epochs), ``history``, ``early_stopping``,
``finished``, ``rng`` (torch CPU generator state), ``versions``, ``created``.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..errors import InputFileError
from ..io import atomic_path

FORMAT = "eventlens-checkpoint/1"
LAST = "last.pt"
BEST = "best.pt"


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus format, versions and time) atomically."""
    data = dict(payload)
    data["format"] = FORMAT
    data["versions"] = {"eventlens": __version__, "torch": str(torch.__version__)}
    data["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (weights-only unpickling)."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST
    if not path.exists():
        raise InputFileError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputFileError(f"{path} is not a readable eventlens checkpoint: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputFileError(f"{path} is not an eventlens checkpoint (format {FORMAT})")
    data["path"] = str(path)
    return data
