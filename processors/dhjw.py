"""Drell-Yan vs Higgs vs J/ψ vs W+jets (seed 000 "DHJW").

Common preselection (the four processes share little else): at least
``min_muons`` good muons -- pT > 3 GeV, |η| < 2.4, loose ID, no isolation,
because J/ψ muons are soft and close to each other and would fail it.  Jets
(pT > 30 GeV, |η| < 2.4) and MET are kept for the image, as in the seed
(muons, jets, MET).  Jets are ΔR-cleaned against the *isolated* muons only
(``objects.muon.jet_cleaning``: pfRelIso04_all < 0.15), as CMS cleans jets
against isolated leptons: a soft non-isolated muon from a b or c decay sits
inside its jet and must not delete it (cleaning against every loose muon
above 3 GeV removed b/c jets of W+jets and Drell-Yan events).  Labels come from the dataset
metadata (``higgs_4mu`` → ``higgs`` via ``labels.processes``; data: -1).

Mass column: the invariant mass of the leading opposite-charge muon pair,
0 when the event has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak

from eventlens.config.selection import TaskConfig

from .cutflow import Cutflow
from .cuts import bad_values, good_jets, good_objects, jet_cleaners, n_btagged
from .inputs import Inputs
from .kinematics import leading_opposite_charge_pair, pair_mass
from .task import Candidates, Task


@dataclass(frozen=True)
class DhjwParams:
    min_muons: int = 1


def select(inputs: Inputs, cfg: TaskConfig, cutflow: Cutflow) -> Candidates:
    params: DhjwParams = cfg.selection
    muon_cuts = cfg.objects["muon"]
    muons = good_objects(inputs["muon"], muon_cuts)
    cutflow.require(
        "min_muons",
        ak.num(muons, axis=1) >= params.min_muons,
        bad=bad_values(inputs, "muon", muon_cuts),
    )

    jets = good_jets(inputs, cfg.objects["jet"], cfg.btag, jet_cleaners(muons, muon_cuts))
    cutflow.require("finite_jets", True, bad=bad_values(inputs, "jet", cfg.objects["jet"]))

    return Candidates(
        objects={"Muon": muons, "Jet": jets},
        mass=pair_mass(leading_opposite_charge_pair(muons)),
        nbtag=n_btagged(jets, cfg.btag),
    )


TASK = Task(
    name="dhjw",
    select=select,
    params=DhjwParams,
    objects=("muon", "jet"),
    provides=("Muon", "Jet", "MET"),
    steps=("min_muons", "finite_jets"),
    mass_definition="invariant mass of the leading opposite-charge muon pair [GeV]; 0 without one",
    axis_label=r"$m_{\mu\mu}$ [GeV]",
    targets=(("accuracy", 0.90),),
)
