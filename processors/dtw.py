"""tt̄ vs W+jets vs Drell-Yan (seed 002 §5.1, seed 000 "DTW").

At least ``min_leptons`` (and, if set, at most ``max_leptons``) isolated,
identified leptons (electrons or muons, pT > 20 GeV by default) — seed 002
selects events "having one lepton" with pT > 20 GeV, and seed 000's DTW model
picks the Z peak out of dimuon data, so a second lepton is allowed; jets with
pT > 30 GeV, |η| < 2.4, ΔR-cleaned against the leptons, at least ``min_jets``
of them and at least ``min_btag`` b-tagged at the configured working point;
MET kept.  Labels come from the dataset metadata (data: -1).  The leptons
drawn are the selected ones plus, with ``draw_pt_min``, the looser ones a veto
would look at (see ``ObjectCuts``).

Mass column: the invariant mass of the leading opposite-charge muon pair or
electron pair (the heavier if an event has both) when the event has one (the
Z peak of Drell-Yan), else the
transverse mass of the leading lepton and MET, m_T = sqrt(2 pT MET (1 − cos
Δφ)) (the W Jacobian peak of a single-lepton event).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from eventlens.config.selection import TaskConfig

from .cutflow import Cutflow
from .cuts import bad_values, drawn_objects, good_jets, good_objects, n_btagged
from .inputs import Inputs
from .kinematics import leading_opposite_charge_pair, pair_mass, transverse_mass
from .task import Candidates, Task


@dataclass(frozen=True)
class DtwParams:
    min_leptons: int = 1
    max_leptons: int | None = None
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
    enough = n_leptons >= params.min_leptons
    if params.max_leptons is not None:
        enough = enough & (n_leptons <= params.max_leptons)
    cutflow.require("leptons", enough, bad=bad_leptons)

    jets = good_jets(inputs, cfg.objects["jet"], cfg.btag, electrons, muons)
    bad_jets = bad_values(inputs, "jet", cfg.objects["jet"])
    cutflow.require("min_jets", ak.num(jets, axis=1) >= params.min_jets, bad=bad_jets)

    nbtag = n_btagged(jets, cfg.btag)
    cutflow.require("min_btag", nbtag >= params.min_btag)

    leptons = ak.concatenate([electrons[["pt", "phi"]], muons[["pt", "phi"]]], axis=1)
    leading_lepton = ak.firsts(leptons[ak.argsort(leptons.pt, axis=1, ascending=False)], axis=1)
    mass = np.maximum(pair_mass(leading_opposite_charge_pair(muons)),
                      pair_mass(leading_opposite_charge_pair(electrons)))
    has_pair = mass > 0
    mass = np.where(has_pair, mass, transverse_mass(leading_lepton, inputs.met))
    drawn = {
        name: drawn_objects(inputs[block], cfg.objects[block])
        for name, block in (("Electron", "electron"), ("Muon", "muon"))
    }
    return Candidates(
        objects={**drawn, "Jet": jets},
        mass=mass,
        nbtag=nbtag,
    )


TASK = Task(
    name="dtw",
    select=select,
    params=DtwParams,
    objects=("electron", "muon", "jet"),
    provides=("Electron", "Muon", "Jet", "MET"),
    steps=("leptons", "min_jets", "min_btag"),
    mass_definition=(
        "invariant mass of the leading opposite-charge muon or electron pair (the heavier if "
        "both) if there is one, else the transverse mass of the leading lepton and MET [GeV]"
    ),
    axis_label=r"$m_{\ell\ell}$ or $m_{T}(\ell, p_{T}^{miss})$ [GeV]",
    targets=(("signal_vs_background", 0.96), ("accuracy", 0.90)),
)
