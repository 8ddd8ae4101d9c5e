"""The histograms the inference processor fills (and :mod:`eventlens.plotting` reads).

``mass``   dataset × truth × predicted × mass, weighted: the mass spectrum of
           each predicted class, split by the true class (-1 for data), the
           picture of seed 000 where the DTW model picks the Z peak out of data.
``score``  dataset × truth × cls × score, weighted: every event's score for
           every class — enough for ROC curves and score distributions
           without keeping per-event outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import hist

NO_LABEL = -1


def book(
    classes: Sequence[str],
    mass_bins: int,
    mass_range: tuple[float, float],
    mass_label: str = "Mass [GeV]",
    score_bins: int = 50,
) -> dict[str, hist.Hist]:
    """Empty histograms for a model with these class names."""
    truth = hist.axis.IntCategory([], growth=True, name="truth", label="True class (-1: data)")
    return {
        "mass": hist.Hist.new.StrCat([], growth=True, name="dataset", label="Dataset")
        .IntCat([], growth=True, name="truth", label=truth.label)
        .StrCat(list(classes), name="predicted", label="Predicted class")
        .Reg(mass_bins, *mass_range, name="mass", label=mass_label)
        .Weight(),
        "score": hist.Hist.new.StrCat([], growth=True, name="dataset", label="Dataset")
        .IntCat([], growth=True, name="truth", label=truth.label)
        .StrCat(list(classes), name="cls", label="Class")
        .Reg(score_bins, 0.0, 1.0, name="score", label="Score")
        .Weight(),
    }
