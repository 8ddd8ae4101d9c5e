"""The weighted histograms every task returns (mergeable across chunks with ``+``).

``mass``     dataset × label × task mass (binning from the config)
``met``      dataset × label × MET pT
``nobjects`` dataset × object kind × multiplicity of the selected objects
``nbtag``    dataset × label × number of b-tagged selected jets
"""

from __future__ import annotations

from collections.abc import Mapping

import hist
import numpy as np

from eventlens.config.selection import Binning, TaskConfig

#: Object kinds counted in ``nobjects`` (bjet = jets at the b-tag working point).
OBJECT_KINDS = ("electron", "muon", "photon", "jet", "bjet")


def _by_dataset() -> hist.quick_construct.ConstructProxy:
    return hist.Hist.new.StrCat([], growth=True, name="dataset", label="Dataset")


def _by_label() -> hist.quick_construct.ConstructProxy:
    return _by_dataset().IntCat([], growth=True, name="label", label="Class index")


def book(cfg: TaskConfig) -> dict[str, hist.Hist]:
    """Empty histograms for one chunk."""
    m: Binning = cfg.histograms.mass
    e: Binning = cfg.histograms.met
    return {
        "mass": _by_label().Reg(m.bins, m.start, m.stop, name="mass", label="Mass [GeV]").Weight(),
        "met": _by_label().Reg(e.bins, e.start, e.stop, name="met", label="MET [GeV]").Weight(),
        "nobjects": _by_dataset()
        .StrCat(list(OBJECT_KINDS), name="object", label="Object")
        .Integer(0, 16, name="n", label="Multiplicity")
        .Weight(),
        "nbtag": _by_label().Integer(0, 8, name="n", label="b-tagged jets").Weight(),
    }


def fill(
    hists: dict[str, hist.Hist],
    dataset: str,
    label: np.ndarray,
    weight: np.ndarray,
    mass: np.ndarray,
    met_pt: np.ndarray,
    counts: Mapping[str, np.ndarray],
    nbtag: np.ndarray,
) -> None:
    """Fill the histograms with the selected events of one chunk."""
    if len(weight) == 0:
        return
    hists["mass"].fill(dataset=dataset, label=label, mass=mass, weight=weight)
    hists["met"].fill(dataset=dataset, label=label, met=met_pt, weight=weight)
    for kind, n in counts.items():
        hists["nobjects"].fill(dataset=dataset, object=kind, n=n, weight=weight)
    hists["nbtag"].fill(dataset=dataset, label=label, n=nbtag, weight=weight)
