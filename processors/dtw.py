"""tt̄ vs W+jets vs Drell-Yan (seed 002 §5.1, seed 000 "DTW").

Exactly ``n_leptons`` isolated, identified leptons (electrons or muons, pT >
20 GeV by default); jets with pT > 30 GeV, |η| < 2.4, ΔR-cleaned against the
lepton, at least ``min_jets`` of them and at least ``min_btag`` b-tagged at
the configured working point; MET kept.  Labels come from the dataset
metadata (data: -1).  The leptons drawn are the selected one plus, with
``draw_pt_min``, the looser ones a veto would look at (see ``ObjectCuts``).

Mass column: the transverse mass of the lepton and MET, m_T = sqrt(2 pT
MET (1 − cos Δφ)), the natural mass variable of a single-lepton event (W
Jacobian peak); the dilepton mass would be zero by construction here.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak

from .config import TaskConfig
from .cutflow import Cutflow
from .cuts import bad_values, drawn_objects, good_jets, good_objects, n_btagged
from .inputs import Inputs
from .kinematics import transverse_mass
from .task import Candidates, Task


@dataclass(frozen=True)
class DtwParams:
    n_leptons: int = 1
    min_jets: int = 1
    min_btag: int = 0


def select(inputs: Inputs, cfg: TaskConfig, cutflow: Cutflow) -> Candidates:
    params: DtwParams = cfg.selection
    electrons = good_objects(inputs["electron"], cfg.objects["electron"])
    muons = good_objects(inputs["muon"], cfg.objects["muon"])
    n_leptons = ak.num(electrons, axis=1) + ak.num(muons, axis=1)
    bad_leptons = bad_values(inputs, "electron", cfg.objects["electron"]) | bad_values(
        inputs, "muon", cfg.objects["muon"]
    )
    cutflow.require("one_lepton", n_leptons == params.n_leptons, bad=bad_leptons)

    jets = good_jets(inputs, cfg.objects["jet"], cfg.btag, electrons, muons)
    bad_jets = bad_values(inputs, "jet", cfg.objects["jet"])
    cutflow.require("min_jets", ak.num(jets, axis=1) >= params.min_jets, bad=bad_jets)

    nbtag = n_btagged(jets, cfg.btag)
    cutflow.require("min_btag", nbtag >= params.min_btag)

    leptons = ak.concatenate([electrons[["pt", "phi"]], muons[["pt", "phi"]]], axis=1)
    leading_lepton = ak.firsts(leptons[ak.argsort(leptons.pt, axis=1, ascending=False)], axis=1)
    drawn = {
        name: drawn_objects(inputs[block], cfg.objects[block])
        for name, block in (("Electron", "electron"), ("Muon", "muon"))
    }
    return Candidates(
        objects={**drawn, "Jet": jets},
        mass=transverse_mass(leading_lepton, inputs.met),
        nbtag=nbtag,
    )


TASK = Task(
    name="dtw",
    select=select,
    params=DtwParams,
    objects=("electron", "muon", "jet"),
    provides=("Electron", "Muon", "Jet", "MET"),
    steps=("one_lepton", "min_jets", "min_btag"),
    mass_definition="transverse mass of the leading selected lepton and MET [GeV]",
)
