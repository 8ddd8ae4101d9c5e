"""H → γγ signal vs diphoton background (seed 001).

Two good photons (pT, |η| < 2.5 outside the barrel-endcap gap, MVA ID,
isolation); the diphoton is the two leading ones.  Cuts: m_γγ inside the
sideband-inclusive ``mass_window`` (100-180 GeV by default, so the adversary
sees the sidebands) and the usual scaled thresholds pT1/m_γγ > 1/3,
pT2/m_γγ > 1/4, which keep m_γγ from being sculpted by fixed pT cuts.  The
table keeps the two photons' four-vectors as objects and m_γγ in ``mass``;
labels come from the dataset metadata (``hgg`` = signal, ``diphoton`` =
background).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from eventlens.config.selection import TaskConfig

from .cutflow import Cutflow
from .cuts import bad_values, good_jets, good_objects, n_btagged
from .inputs import Inputs
from .kinematics import leading_two, pair_mass, pair_objects
from .task import Candidates, Task


@dataclass(frozen=True)
class HggParams:
    mass_window: tuple[float, float] = (100.0, 180.0)
    lead_pt_over_mass: float = 1.0 / 3.0
    sublead_pt_over_mass: float = 0.25


def select(inputs: Inputs, cfg: TaskConfig, cutflow: Cutflow) -> Candidates:
    params: HggParams = cfg.selection
    photon_cuts = cfg.objects["photon"]
    photons = good_objects(inputs["photon"], photon_cuts)
    cutflow.require(
        "two_good_photons",
        ak.num(photons, axis=1) >= 2,
        bad=bad_values(inputs, "photon", photon_cuts),
    )

    diphoton = leading_two(photons)
    mass = pair_mass(diphoton)
    lo, hi = params.mass_window
    cutflow.require("mass_window", (mass >= lo) & (mass <= hi))

    lead_pt = ak.to_numpy(ak.fill_none(diphoton.first.pt, 0.0))
    sublead_pt = ak.to_numpy(ak.fill_none(diphoton.second.pt, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = (lead_pt / mass > params.lead_pt_over_mass) & (
            sublead_pt / mass > params.sublead_pt_over_mass
        )
    cutflow.require("scaled_pt", scaled)

    pair_photons = pair_objects(diphoton)
    jets = good_jets(inputs, cfg.objects["jet"], cfg.btag, pair_photons)
    return Candidates(
        objects={"Photon": pair_photons, "Jet": jets}, mass=mass, nbtag=n_btagged(jets, cfg.btag)
    )


TASK = Task(
    name="hgg",
    select=select,
    params=HggParams,
    objects=("photon", "jet"),
    provides=("Photon", "Jet", "MET"),
    steps=("two_good_photons", "mass_window", "scaled_pt"),
    mass_definition="diphoton invariant mass m_γγ of the two leading good photons [GeV]",
    axis_label=r"$m_{\gamma\gamma}$ [GeV]",
)
