"""Small real models and events for the explanation tests (torch, the C++ renderer, captum).

Not a test module: helpers imported by tests/test_explain*.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from eventlens.explain.model import ExplainableModel
from eventlens.modelio import ImageInput
from eventlens.models import build_model
from eventlens.objects import ObjectType
from eventlens.render import RenderConfig
from eventlens.render.batch import FlatObjects

CLASSES = ["ttbar", "wjets", "dy"]
SMALL = RenderConfig(height=32, width=32)


def flat_events(events: list[list[tuple[float, ...]]]) -> FlatObjects:
    """Events given as lists of (type, pt, eta, phi, btag[, charge])."""
    counts = [len(e) for e in events]
    offsets = np.zeros(len(events) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    rows = [o for e in events for o in e]

    def col(i: int, dtype: type, default: float = 0.0) -> np.ndarray:
        return np.array([r[i] if len(r) > i else default for r in rows], dtype=dtype)

    columns = {"type": col(0, np.int32), "pt": col(1, np.float32), "eta": col(2, np.float32),
               "phi": col(3, np.float32), "mass": np.zeros(len(rows), np.float32),
               "charge": col(5, np.int32), "btag": col(4, np.float32)}
    return FlatObjects(offsets=offsets, columns=columns)


E, MU, PH, JET, MET = (int(ObjectType.ELECTRON), int(ObjectType.MUON), int(ObjectType.PHOTON),
                       int(ObjectType.JET), int(ObjectType.MET))


def busy_events() -> FlatObjects:
    """Events with every kind and deliberately overlapping outlines (same η, φ)."""
    return flat_events([
        [(E, 40, 0.5, 1.0), (MU, 35, 0.5, 1.0, 0, 1), (JET, 80, 0.5, 1.0, 0.9),
         (JET, 60, -1.2, -2.0, 0.1), (JET, 45, 1.5, 3.0, 0.95), (MET, 70, 0, -0.5)],
        [(MU, 45, -0.3, 0.2, 0, 1), (MU, 44, 0.8, -2.9, 0, -1), (JET, 30, 0.8, -2.9, 0.0),
         (MET, 8, 0, 2.0)],
        [(E, 30, -2.0, 0.0), (JET, 120, 2.2, 1.5, 0.5), (JET, 35, 2.2, 1.5, 0.5),
         (PH, 50, 0.0, 0.0), (MET, 40, 0, 3.1)],
        [(JET, 50, 3.5, 0.0, 0.9), (MET, 20, 0, 0.0)],  # a jet outside the canvas
    ])


def small_cnn(seed: int = 0, logit_scale: float = 8.0) -> nn.Module:
    """The registry's compact CNN, narrow, with a final layer scaled up so that the
    softmax is far from linear (a stricter test of IG's completeness)."""
    torch.manual_seed(seed)
    net = build_model("compact_cnn", input_shape=SMALL.shape, n_classes=3,
                      params={"widths": [8, 16, 16, 16], "dropout": 0.0})
    with torch.no_grad():
        net.fc.weight.mul_(logit_scale)
    return net.eval()


class OneChannel(nn.Module):
    """A CNN that reads channel ``channel`` of the image and nothing else."""

    def __init__(self, channel: int, n_channels: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.channel = channel
        self.n_channels = n_channels
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x[:, self.channel:self.channel + 1]))
        return self.fc(h.mean((2, 3))) * 20.0


def image_model(module: nn.Module, config: RenderConfig = SMALL, score: str = "probability"
                ) -> ExplainableModel:
    return ExplainableModel(name="toy", source=Path("toy"), backend="torch",
                            input=ImageInput(config), classes=list(CLASSES),
                            module=module.eval(), score=score)  # type: ignore[arg-type]


def write_checkpoint(path: Path, table_path: Path, model_name: str, params: dict,
                     render: RenderConfig | None = None, seed: int = 0) -> Path:
    """A real (untrained) checkpoint of a registry model, as ``eventlens train`` writes it.

    The split digests are those of ``table_path``, so the explainer uses its test split;
    table models get their standardisation from the training split, as in training.
    """
    from eventlens.models.features import FFN_DEFAULT_SPEC
    from eventlens.training.checkpoint import save_checkpoint
    from eventlens.training.config import TrainConfig
    from eventlens.training.setup import prepare

    data = {"task": "dtw", "table": str(table_path), "seed": seed, "threads": 1,
            "model": {"name": model_name, "params": params}}
    if render is not None:
        data["render"] = render.to_dict()
    config = TrainConfig.from_dict(data)
    setup = prepare(config)
    torch.set_num_threads(1)
    payload = {
        "config": config.to_dict(), "model": setup.model_info(), "classes": setup.classes,
        "render_config": render.to_dict() if render else None,
        "table_spec": None if render else FFN_DEFAULT_SPEC.to_dict(),
        "data": setup.data_info(), "state_dict": setup.model.state_dict(), "epoch": 1,
        "history": [], "early_stopping": {}, "finished": True,
    }
    return save_checkpoint(path, payload)
