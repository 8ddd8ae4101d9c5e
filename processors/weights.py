"""Event weights: genWeight × σ × L / Σ genWeight for simulation, 1 for data.

``xsec`` (pb) and ``sumw`` come from the fileset metadata.  When the metadata
has ``xsec`` but no ``sumw``, the driver (:mod:`.fileset`) fills ``sumw`` from
the files' ``Runs`` tree (``genEventSumw``, or ``genEventSumw_`` in older
NanoAOD) summed over all files of the dataset, and failing that from Σ genWeight
of the ``Events`` tree (correct only for unskimmed files; logged).  Σ genWeight
must cover the whole dataset, which is why it is not computed per chunk.
Simulation without ``xsec`` keeps the bare genWeight (a note says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: How a dataset's weights were computed (stored in the manifest).
NORMALISED, GENWEIGHT_ONLY, DATA = "xsec*lumi*genWeight/sumw", "genWeight", "data (1)"


def weight_mode(has_gen_weight: bool, metadata: Mapping[str, Any] | None) -> str:
    meta = metadata or {}
    if not has_gen_weight:
        return DATA
    if meta.get("xsec") is not None and meta.get("sumw"):
        return NORMALISED
    return GENWEIGHT_ONLY


def event_weights(
    gen_weight: np.ndarray | None, metadata: Mapping[str, Any] | None, luminosity_pb: float, n: int
) -> np.ndarray:
    """float64 weight per event (see module docstring for the rule)."""
    meta = metadata or {}
    mode = weight_mode(gen_weight is not None, meta)
    if mode == DATA:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(gen_weight, dtype=np.float64)
    if mode == NORMALISED:
        return w * (float(meta["xsec"]) * luminosity_pb / float(meta["sumw"]))
    return w
