"""Model inputs from awkward objects, as picklable callables (they travel to workers)."""

from __future__ import annotations

import dataclasses

import awkward as ak
import numpy as np

from ..render import RenderConfig, render


@dataclasses.dataclass(frozen=True)
class ImageInput:
    """Render object lists into the float32 images an image model takes.

    uint8 configs are scaled to [0, 1] so that the model always sees float32.
    """

    config: RenderConfig

    def __call__(self, objects: ak.Array) -> np.ndarray:
        images = render(objects, self.config)
        if images.dtype == np.uint8:
            return images.astype(np.float32) / np.float32(255.0)
        return images
