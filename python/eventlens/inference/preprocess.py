"""Model inputs from awkward objects, as picklable callables (they travel to workers)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import awkward as ak
import numpy as np

from ..render import RenderConfig, render

if TYPE_CHECKING:
    from ..models.features import TableSpec


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


@dataclasses.dataclass(frozen=True)
class TableInput:
    """The padded object table a table model (FFN, seed 001's photon classifier) takes.

    Standardisation is inside the exported graph, so this is the raw
    :func:`eventlens.models.features.featurise` vector.
    """

    spec: TableSpec

    def __call__(self, objects: ak.Array) -> np.ndarray:
        from ..models.features import featurise

        packed = ak.to_packed(objects)
        offsets = np.asarray(ak.to_layout(packed).offsets.data, dtype=np.int64)
        columns = {f: ak.to_numpy(ak.flatten(packed[f])) for f in ak.fields(packed)}
        return featurise(offsets, columns, self.spec)
