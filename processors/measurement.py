"""The histograms a measurement is made from: the contract of :mod:`eventlens.stats.io`.

Every histogram has the axes ``process`` × ``region`` × ``variation`` × observable
(``Weight()`` storage), filled by the inference processor in one pass:

``mass``            region = the model's predicted class, observable = the task mass;
``score``           region = the predicted class, observable = its probability, on
                    [1/K, 1] (K classes: the arg-max is never below 1/K, so no bin is
                    empty by construction), ``measurement.score_bins`` bins;
``mass_cutbased``   the baseline without a network: region = jet × b-tag multiplicity
                    bin of the selected jets (``j2_b1``; ``p`` marks the open last bin,
                    ``j4p_b2p``; ``measurement.baseline_jets/btags``), the task mass;
                    tasks without jets have none;
``mass_inclusive``  one region, ``all``: what a single-bin analysis would fit.

``process`` is the dataset's ``process`` metadata, else the dataset name; collision
data and pseudo-data (no ``genWeight``) are ``data``.  ``variation`` is booked with
every category the run can fill (``nominal``, the weight and shape variations), so
every chunk's histograms have the same axes; data fills ``nominal`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import hist
import numpy as np

from eventlens.config.selection import TaskConfig

NOMINAL = "nominal"
DATA = "data"
INCLUSIVE = "all"
OBSERVABLES = ("mass", "score", "mass_cutbased", "mass_inclusive")


def process_name(dataset: str, metadata: Mapping[str, Any] | None, simulation: bool) -> str:
    """The ``process`` category of a dataset (module docstring)."""
    if not simulation:
        return DATA
    process = (metadata or {}).get("process")
    return process if isinstance(process, str) and process else dataset


def baseline_regions(cfg: TaskConfig) -> list[str]:
    """The cut-based regions: ``j<n>[p]_b<m>[p]`` for the configured lower edges."""
    m = cfg.measurement

    def names(prefix: str, edges: Sequence[int]) -> list[str]:
        return [f"{prefix}{e}" + ("p" if i == len(edges) - 1 else "") for i, e in enumerate(edges)]

    return [f"{j}_{b}" for j in names("j", m.baseline_jets) for b in names("b", m.baseline_btags)]


def baseline_region_index(
    cfg: TaskConfig, njets: np.ndarray, nbtag: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(region index into :func:`baseline_regions`, inside) per event; events below the
    first edge of either multiplicity are outside every region."""
    m = cfg.measurement
    jbin = np.searchsorted(np.asarray(m.baseline_jets), njets, side="right") - 1
    bbin = np.searchsorted(np.asarray(m.baseline_btags), nbtag, side="right") - 1
    inside = (jbin >= 0) & (bbin >= 0)
    return np.where(inside, jbin * len(m.baseline_btags) + bbin, 0), inside


def book(
    cfg: TaskConfig,
    classes: Sequence[str],
    variations: Sequence[str],
    mass_label: str = "Mass [GeV]",
    cutbased: bool = True,
) -> dict[str, hist.Hist]:
    """Empty contract histograms (module docstring)."""
    b = cfg.histograms.mass
    k = len(classes)

    def new(regions: Sequence[str], region_label: str) -> Any:
        return (
            hist.Hist.new.StrCat([], growth=True, name="process", label="Process")
            .StrCat(list(regions), name="region", label=region_label)
            .StrCat([NOMINAL, *variations], name="variation", label="Variation")
        )

    out = {
        "mass": new(classes, "Predicted class")
        .Reg(b.bins, b.start, b.stop, name="mass", label=mass_label)
        .Weight(),
        "score": new(classes, "Predicted class")
        .Reg(cfg.measurement.score_bins, 1.0 / k, 1.0, name="score", label="Predicted-class score")
        .Weight(),
        "mass_inclusive": new([INCLUSIVE], "Inclusive")
        .Reg(b.bins, b.start, b.stop, name="mass", label=mass_label)
        .Weight(),
    }
    if cutbased:
        out["mass_cutbased"] = (
            new(baseline_regions(cfg), "Jets and b-tags")
            .Reg(b.bins, b.start, b.stop, name="mass", label=mass_label)
            .Weight()
        )
    return out


def fill(
    booked: dict[str, hist.Hist],
    cfg: TaskConfig,
    process: str,
    variation: str,
    classes: Sequence[str],
    probs: np.ndarray,
    mass: np.ndarray,
    weight: np.ndarray,
    njets: np.ndarray | None,
    nbtag: np.ndarray | None,
) -> None:
    """Fill one pass (``variation``) of the selected events into every contract histogram."""
    if len(mass) == 0:
        return
    predicted = probs.argmax(axis=1)
    region = np.asarray(classes)[predicted]
    booked["mass"].fill(
        process=process, region=region, variation=variation, mass=mass, weight=weight
    )
    # the top score lies in [1/K, 1] (float32 rounding aside): keep both ends inside
    top = np.clip(
        probs[np.arange(len(probs)), predicted].astype(np.float64),
        1.0 / len(classes),
        np.nextafter(1.0, 0.0),
    )
    booked["score"].fill(
        process=process, region=region, variation=variation, score=top, weight=weight
    )
    booked["mass_inclusive"].fill(
        process=process, region=INCLUSIVE, variation=variation, mass=mass, weight=weight
    )
    if "mass_cutbased" in booked and njets is not None and nbtag is not None:
        index, inside = baseline_region_index(cfg, njets, nbtag)
        names = np.asarray(baseline_regions(cfg))
        booked["mass_cutbased"].fill(
            process=process,
            region=names[index[inside]],
            variation=variation,
            mass=mass[inside],
            weight=weight[inside],
        )
