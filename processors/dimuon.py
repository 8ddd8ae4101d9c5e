"""Dimuon resonances (seed 002 §4, Table 1).

Events with at least two good muons that contain an opposite-charge pair; the
pair is the leading muon and its highest-pT opposite-charge partner (see
:func:`~.kinematics.leading_opposite_charge_pair`).  The class is the window
of ``labels.windows`` that holds the pair's invariant mass: J/ψ [2.94, 3.24],
ψ(2S) [3.65, 3.95], Υ [6.46, 12.46], Z [83.69, 98.69] GeV, otherwise
``none`` -- for simulation and real data alike, as in the seed.

The table keeps the two muons of the pair (the seed's "dimuon object");
jets are selected only for the b-tag histogram.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak

from eventlens.config.selection import TaskConfig

from .cutflow import Cutflow
from .cuts import bad_values, good_jets, good_objects, n_btagged
from .inputs import Inputs
from .kinematics import leading_opposite_charge_pair, pair_mass, pair_objects
from .labels import window_labels
from .task import Candidates, Task


@dataclass(frozen=True)
class DimuonParams:
    """No parameters beyond the object cuts and mass windows."""


def select(inputs: Inputs, cfg: TaskConfig, cutflow: Cutflow) -> Candidates:
    muon_cuts = cfg.objects["muon"]
    muons = good_objects(inputs["muon"], muon_cuts)
    cutflow.require(
        "two_good_muons", ak.num(muons, axis=1) >= 2, bad=bad_values(inputs, "muon", muon_cuts)
    )

    pair = leading_opposite_charge_pair(muons)
    cutflow.require("opposite_charge_pair", ~ak.is_none(pair, axis=0))

    mass = pair_mass(pair)
    pair_muons = pair_objects(pair)
    jets = good_jets(inputs, cfg.objects["jet"], cfg.btag, pair_muons)
    return Candidates(
        objects={"Muon": pair_muons, "Jet": jets},
        mass=mass,
        labels=window_labels(mass, cfg),
        nbtag=n_btagged(jets, cfg.btag),
    )


TASK = Task(
    name="dimuon",
    select=select,
    params=DimuonParams,
    objects=("muon", "jet"),
    provides=("Muon", "Jet", "MET"),
    steps=("two_good_muons", "opposite_charge_pair"),
    mass_definition="invariant mass of the leading opposite-charge muon pair [GeV]",
    axis_label=r"$m_{\mu\mu}$ [GeV]",
)
