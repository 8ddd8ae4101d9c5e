"""Parameters of the parametric CMS-like detector response.

Every number the detector uses lives here, as frozen dataclasses, so that the
full response can be stored in each file (and hashed with the process
settings): a file made with other parameters is never mistaken for a current
one.  Bump :data:`DETECTOR_VERSION` whenever the *code* of the response changes.

Values are CMS Run-2-like, at the level of "what an image classifier can
see", not a calibrated simulation.  Jets fake photons through the π0/η
photons of their core, clustered into one ECAL cluster
(``photon.cluster_radius``); real non-prompt leptons and photons inside jets
are reconstructed, and fail isolation and IDs.  Pileup is overlaid from a
premixed minimum-bias library (:mod:`.pileup`).  Not modelled: the trigger,
hadrons misidentified as leptons, electrons as photons.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Version of the detector *code* (pileup overlay included); part of the settings hash.
#: 2: lost muons keep their tracks, merged π0 photons, pileup overlay (CHS, offsets).
DETECTOR_VERSION = "2"


@dataclass(frozen=True)
class MuonConfig:
    """Muon reconstruction: acceptance, turn-on, momentum resolution, IDs, impact parameters."""

    gen_pt_min: float = 2.5  # candidates before smearing (GeV)
    pt_min: float = 3.0  # NanoAOD Muon collection threshold after smearing
    eta_max: float = 2.4
    efficiency: float = 0.97  # plateau
    turn_on_pt50: tuple[float, float] = (
        3.5,
        2.5,
    )  # barrel (|eta|<1.2), endcap: needs p to reach stations
    turn_on_width: float = 0.4
    resolution: tuple[float, float, float] = (
        0.010,
        0.015,
        0.020,
    )  # sigma(pT)/pT at |eta| <0.9, <1.2, else
    resolution_slope: float = 1.0e-4  # added in quadrature per GeV (sagitta term)
    id_efficiency: tuple[float, float, float] = (0.995, 0.985, 0.965)  # loose, medium, tight
    tight_dxy_max: float = 0.2  # cm
    tight_dz_max: float = 0.5  # cm
    dxy_resolution: tuple[float, float] = (0.0010, 0.0030)  # cm: constant ⊕ term/pT
    dz_resolution: tuple[float, float] = (0.0020, 0.0050)
    isolated: float = 0.25  # pfRelIso04_all below which a muon is kept out of the jets


@dataclass(frozen=True)
class EGammaConfig:
    """Electron or photon reconstruction (ECAL energy resolution, ID levels)."""

    pt_min: float
    eta_max: float = 2.5
    gap: tuple[float, float] = (1.4442, 1.566)  # barrel-endcap transition: not reconstructed
    efficiency: float = 0.95
    turn_on_pt50: float = 0.0
    turn_on_width: float = 1.0
    # sigma(E)/E = S/sqrt(E) ⊕ N/E ⊕ C, barrel and endcap (C includes material, conversions)
    barrel: tuple[float, float, float] = (0.028, 0.12, 0.010)
    endcap: tuple[float, float, float] = (0.057, 0.24, 0.020)
    # cut-based levels (lowest first): relative-isolation cut = iso_cut + iso_cut_over_pt/pT,
    # identification efficiency of the level for prompt objects
    iso_cut: tuple[float, ...] = ()
    iso_cut_over_pt: float = 0.0
    id_efficiency: tuple[float, ...] = ()
    nonprompt_id_factor: float = 0.5  # from hadron decays: shower shapes fail more often
    preselection_iso: float = float("inf")  # objects with larger relIso03 are not in the collection
    isolated: float = 0.2  # relIso03 below which the object is kept out of the jets
    hoe_max: float = float("inf")  # preselection: hadronic energy behind the cluster / E
    hoe_id_max: float = float("inf")  # every cut-based level
    cluster_radius: float = 0.0  # photons: anti-kt radius of ECAL clusters (0: one per photon)
    nonprompt_mva_shift: float = 0.0  # photons: MVA score lost by a non-prompt (π0-like) shower


def _electron() -> EGammaConfig:
    # Fall17V2-like cut-based levels 1..4 = veto, loose, medium, tight (barrel iso cuts).
    return EGammaConfig(
        pt_min=5.0,
        efficiency=0.95,
        turn_on_pt50=7.0,
        turn_on_width=1.5,
        iso_cut=(0.198, 0.112, 0.0478, 0.0287),
        iso_cut_over_pt=0.506,
        id_efficiency=(0.95, 0.90, 0.80, 0.70),
        nonprompt_id_factor=0.5,
    )


def _photon() -> EGammaConfig:
    # cut-based levels 1..3 = loose, medium, tight on relIso03.
    return EGammaConfig(
        pt_min=15.0,
        efficiency=0.95,
        iso_cut=(0.15, 0.10, 0.07),
        id_efficiency=(0.90, 0.80, 0.70),
        nonprompt_id_factor=0.3,
        # no isolation or H/E preselection: then 13 % of the jets above 25 GeV in tt̄
        # give a non-prompt Photon above 25 GeV and there is ~1 Photon per event, as
        # in CMS NanoAOD tt̄ simulation (12.8 %, 1.1 per event; ../shared/data/nanoaod);
        # the Fall17V2-like cut-based levels ask H/E < 0.06 (loose: 0.0597 barrel)
        hoe_id_max=0.06,
        cluster_radius=0.1,
        # isolated merged π0s pass the WP90-like cut (mvaID > -0.02) ~20 % of the time
        nonprompt_mva_shift=0.8,
    )


#: The data-taking era whose working points the detector reproduces: its b-tag rates are
#: set at 2018's DeepJet medium threshold (``JetConfig.btag_wp``) and its photon MVA at
#: 2018's (Fall17 V2) WP90; ``make-samples`` records it as the fileset metadata ``era``
#: (the table: configs/eras.yaml), so a model card and a run know the files' era.
DETECTOR_ERA = "2018"


@dataclass(frozen=True)
class JetConfig:
    """Anti-kt jets, their resolution, jet ID and the flavour-dependent b-tag score."""

    radius: float = 0.4
    raw_pt_min: float = 8.0  # clustered jets considered for smearing
    pt_min: float = 15.0  # NanoAOD Jet collection threshold after smearing
    eta_max: float = 4.7
    # sigma(pT)/pT = N/pT ⊕ S/sqrt(pT) ⊕ C, times a factor growing with |eta|
    noise: float = 3.0
    stochastic: float = 1.0
    constant: float = 0.05
    eta_factor: tuple[tuple[float, float], ...] = (
        (1.3, 1.0),
        (2.5, 1.15),
        (3.0, 1.35),
        (99.0, 1.5),
    )
    btag_wp: float = 0.2783  # DeepJet medium
    btag_efficiency: tuple[float, float, float] = (0.80, 0.10, 0.01)  # b, c, light at btag_wp
    btag_concentration: float = 20.0  # Beta(a,1) "tagged" / Beta(1,a) "untagged" components
    btag_eta_max: float = 2.5  # tracker: no tagging beyond


@dataclass(frozen=True)
class MetConfig:
    """Unclustered-energy response and the stochastic MET noise."""

    unclustered_resolution: float = 0.10  # relative, one factor per event
    noise: float = 0.5  # GeV^1/2: sigma per component = noise * sqrt(unclustered sum ET)


@dataclass(frozen=True)
class DetectorConfig:
    """The whole detector response."""

    version: str = DETECTOR_VERSION
    max_abs_eta: float = 5.0  # calorimeter coverage
    iso_particle_pt_min: float = 0.5  # particles counted in isolation sums (GeV)
    # tracks (pT > 0.3 GeV) a pileup vertex needs to be reconstructed / to be "good":
    # 80 % / 71 % of the inelastic interactions, as PV_npvs/(nPU+1) = 0.80 and
    # npvsGood/npvs ~ 0.9 in CMS NanoAOD simulation (measured on ../shared/data/nanoaod)
    vertex_min_tracks: int = 4
    vertex_good_min_tracks: int = 6
    muon: MuonConfig = field(default_factory=MuonConfig)
    electron: EGammaConfig = field(default_factory=_electron)
    photon: EGammaConfig = field(default_factory=_photon)
    jet: JetConfig = field(default_factory=JetConfig)
    met: MetConfig = field(default_factory=MetConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (stored in files, hashed)."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value == float("inf"):
        return "inf"
    return value
