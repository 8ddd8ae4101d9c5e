"""Helpers for the models / training / export tests: tiny configs on synthetic tables.

The tables are written by :mod:`eventlens.training.toy` in the exact layout of
``eventlens select`` (Parquet + manifest.json), so the tests exercise the real
reading, splitting, rendering and training code on small inputs.
"""

from __future__ import annotations

from typing import Any

import torch

from eventlens.training.config import TrainConfig

#: One thread: the tests share two cores with other work, and resume
#: equality is exact only at a fixed thread count.
THREADS = 1
torch.set_num_threads(THREADS)

#: Tiny variants of the big torchvision networks (same code paths, fewer blocks).
TINY_PARAMS: dict[str, dict[str, Any]] = {
    "compact_cnn": {},
    "resnet50": {"layers": [1, 1, 1, 1], "width_per_group": 8},
    "densenet121": {"block_config": [1, 1, 1, 1], "growth_rate": 8, "num_init_features": 16},
    "inception_v3": {},  # no size knob: full network at 75 px (the documented minimum)
    "mobilenet_v2": {
        "width_mult": 0.25,
        "inverted_residual_setting": [[1, 16, 1, 1], [6, 24, 1, 2], [6, 32, 1, 2]],
    },
    "ffn": {"hidden": [32, 32, 32, 32, 32]},
    "hgg_fcn": {},
}

SMALL_RENDER = {"height": 32, "width": 32}


def config(table: str, model: str = "compact_cnn", **overrides: Any) -> TrainConfig:
    """A small training config for ``model`` on ``table`` (dict-level overrides)."""
    from eventlens.models import model_info

    data: dict[str, Any] = {
        "task": overrides.pop("task", "toy_rings"),
        "table": str(table),
        "seed": 3,
        "threads": THREADS,
        "model": {"name": model, "params": overrides.pop("params", TINY_PARAMS.get(model, {}))},
        "training": {"epochs": 1, "batch_size": 16, "eval_batch_size": 64},
    }
    try:
        kind = model_info(model).input_kind
    except ValueError:  # an unknown model: let the config report it
        kind = "image"
    if kind == "image" or "render" in overrides:
        data["render"] = overrides.pop("render", SMALL_RENDER)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return TrainConfig.from_dict(data)


def weights_digest(state_dict: dict[str, Any]) -> str:
    """sha256 of a state dict (names and tensor bytes, in name order): same seed → same bits."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(state_dict):
        h.update(name.encode())
        h.update(state_dict[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
