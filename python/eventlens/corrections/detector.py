"""The generator's own correction set: muon, electron and b-tag scale factors in correctionlib JSON.

CMS analyses correct simulation to data with scale factors (SFs) the physics
object groups publish as correctionlib files.  The eventlens generator
(:mod:`eventlens.generate`) *is* its own truth, so its SFs are a design choice,
stated here and generated from this module (never edited by hand)::

    python -m eventlens.corrections.detector -o configs/corrections/eventlens_detector.json

Design (numbers at the size CMS Run 2 publishes; the central values are 1
because the detector model has no data/simulation difference to correct):

- ``NUM_TightID_DEN_TrackerMuons`` and ``NUM_TightRelIso_DEN_TightIDandIPCut``
  (the CMS muon names; inputs ``abseta``, ``pt``, ``scale_factors`` =
  ``nominal``/``systup``/``systdown``): SF = 1 ± σ, σ = base(pT) × factor(|η|),
  base(ID) = 2.0, 1.0, 0.3, 0.5, 1.0 % and base(iso) = 1.0, 0.5, 0.1, 0.2, 0.5 %
  in pT [3, 10, 20, 60, 120, ∞) GeV (low pT: few tag-and-probe J/ψ; high pT:
  few Z), factor 1.0, 1.2, 1.5, 2.0 in |η| [0, 0.9, 1.2, 2.1, 2.4]
  (barrel → endcap);
- ``UL-Electron-ID-SF`` (the CMS EGM name and inputs: ``ValType`` =
  ``sf``/``sfup``/``sfdown``, ``WorkingPoint`` = ``Veto``/``Loose``/``Medium``/
  ``Tight``, signed ``eta``, ``pt``): SF = 1 ± σ, σ = base(pT) × factor(η) ×
  factor(WP), base = 2.0, 1.0, 0.5, 0.5, 1.0 % in pT [10, 20, 35, 50, 100, ∞)
  GeV, factor 1.0 / 1.2 / 3.0 / 1.5 / 2.0 in |η| [0, 0.8, 1.444, 1.566, 2.0,
  2.5] (the barrel–endcap transition worst, as EGM measures it), WP factor
  0.8 / 0.9 / 1.0 / 1.1 from Veto to Tight;
- ``deepJet_comb`` (b and c jets) and ``deepJet_incl`` (light jets), the CMS
  BTV names and inputs (``systematic`` = ``central``/``up``/``down``,
  ``working_point`` = ``L``/``M``/``T``, ``flavor`` = 5/4/0, ``abseta``, ``pt``):
  SF = 1 ± σ with σ(b) = 3.0, 2.0, 1.8, 2.0, 2.5, 3.0, 4.0, 6.0, 10 % in pT
  [20, 30, 50, 70, 100, 140, 200, 300, 600, 1000] GeV, σ(c) = 2 σ(b) (BTV's
  convention for charm), σ(light) = 8, 8, 9, 10, 11, 12, 14, 17, 20 % times
  0.6 / 1.0 / 1.6 at L / M / T; |η| < 2.5; outside the pT range the edge bin
  (clamp);
- ``deepJet_mc_efficiency`` (inputs ``working_point``, ``flavor``, ``abseta``,
  ``pt``): the simulation's tagging efficiency, which the fixed-working-point
  event weight needs.  For the generator it is known exactly: the b-tag score
  is a Beta mixture (:func:`eventlens.generate.jets.btag_mixture_fraction`)
  fixed by ``JetConfig.btag_efficiency`` (80/10/1 % for b/c/light at the
  medium point), so ε(t) = f·(1 − tᵃ) + (1 − f)·(1 − t)ᵃ at any threshold t,
  flat in pT, for |η| < 2.5.  (With real CMS files the efficiencies come from
  the analysis's own simulation: :func:`eventlens.corrections.weights.measure_btag_efficiency`.)

Working points: DeepJet 2018 UL thresholds L/M/T = 0.0490/0.2783/0.7100 (the
selection configs' ``btag.working_points``); M is the generator's ``btag_wp``.
"""

from __future__ import annotations

import argparse
import gzip
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from correctionlib import schemav2 as cs

from ..generate.config import DetectorConfig
from ..generate.jets import btag_mixture_fraction
from ..io import atomic_path

#: DeepJet 2018 UL working points (score >= threshold is tagged).
WORKING_POINTS = {"L": 0.0490, "M": 0.2783, "T": 0.7100}
#: hadronFlavour codes in CMS b-tag files.
FLAVOURS = {"b": 5, "c": 4, "light": 0}

MUON_PT_EDGES = [3.0, 10.0, 20.0, 60.0, 120.0, 1000.0]
MUON_ABSETA_EDGES = [0.0, 0.9, 1.2, 2.1, 2.4]
MUON_ETA_FACTOR = [1.0, 1.2, 1.5, 2.0]
MUON_ID_UNC = [0.020, 0.010, 0.003, 0.005, 0.010]
MUON_ISO_UNC = [0.010, 0.005, 0.001, 0.002, 0.005]

BTAG_PT_EDGES = [20.0, 30.0, 50.0, 70.0, 100.0, 140.0, 200.0, 300.0, 600.0, 1000.0]
BTAG_ABSETA_EDGES = [0.0, 2.5]
BTAG_B_UNC = [0.030, 0.020, 0.018, 0.020, 0.025, 0.030, 0.040, 0.060, 0.100]
BTAG_LIGHT_UNC = [0.08, 0.08, 0.09, 0.10, 0.11, 0.12, 0.14, 0.17, 0.20]
BTAG_LIGHT_WP_FACTOR = {"L": 0.6, "M": 1.0, "T": 1.6}

MUON_ID, MUON_ISO = "NUM_TightID_DEN_TrackerMuons", "NUM_TightRelIso_DEN_TightIDandIPCut"

ELECTRON_ID = "UL-Electron-ID-SF"
ELECTRON_PT_EDGES = [10.0, 20.0, 35.0, 50.0, 100.0, 1000.0]
ELECTRON_UNC = [0.020, 0.010, 0.005, 0.005, 0.010]
#: |eta| bins, mirrored into the signed bins EGM uses.
ELECTRON_ABSETA_EDGES = [0.0, 0.8, 1.444, 1.566, 2.0, 2.5]
ELECTRON_ETA_FACTOR = [1.0, 1.2, 3.0, 1.5, 2.0]
ELECTRON_WP_FACTOR = {"Veto": 0.8, "Loose": 0.9, "Medium": 1.0, "Tight": 1.1}
BTAG_COMB, BTAG_INCL, BTAG_EFF = "deepJet_comb", "deepJet_incl", "deepJet_mc_efficiency"


def _real(name: str, description: str) -> cs.Variable:
    return cs.Variable(name=name, type="real", description=description)


def category(input_name: str, items: Mapping[str | int, Any]) -> cs.Category:
    """A correctionlib category node: ``{key: value or node}`` on input ``input_name``."""
    return cs.Category(
        nodetype="category",
        input=input_name,
        content=[cs.CategoryItem(key=k, value=v) for k, v in items.items()],
    )


def efficiency_node_correction(
    name: str, description: str, per_wp: Mapping[str, Mapping[int, Any]]
) -> cs.Correction:
    """A b-tag efficiency correction, ``{working point: {flavour code: value or node}}``,
    with inputs ``working_point``, ``flavor``, ``abseta``, ``pt`` (the layout the
    corrections config's ``btag.efficiency`` reads)."""
    return cs.Correction(
        name=name,
        version=1,
        description=description,
        inputs=_btag_inputs()[1:],
        output=_real("efficiency", "tagging efficiency"),
        data=category(
            "working_point",
            {wp: category("flavor", by_flavour) for wp, by_flavour in per_wp.items()},
        ),
    )


def _sf_binning(
    unc: Sequence[float],
    sign: int,
    inputs: list[str],
    edges: list[list[float]],
    row_factor: Sequence[float] = (1.0,),
) -> cs.MultiBinning:
    """SF = 1 + sign·σ on (row input) × (column input) bins, σ = row_factor × unc."""
    content = [1.0 + sign * f * u for f in row_factor for u in unc]
    return cs.MultiBinning(
        nodetype="multibinning", inputs=inputs, edges=edges, content=content, flow="clamp"
    )


def muon_correction(name: str, unc: Sequence[float], description: str) -> cs.Correction:
    variations = {"nominal": 0, "systup": 1, "systdown": -1}
    return cs.Correction(
        name=name,
        version=1,
        description=description,
        inputs=[
            _real("abseta", "|eta| of the muon"),
            _real("pt", "muon pT [GeV]"),
            cs.Variable(name="scale_factors", type="string", description="nominal/systup/systdown"),
        ],
        output=_real("weight", "scale factor"),
        data=category(
            "scale_factors",
            {
                key: _sf_binning(
                    unc,
                    sign,
                    ["abseta", "pt"],
                    [MUON_ABSETA_EDGES, MUON_PT_EDGES],
                    MUON_ETA_FACTOR,
                )
                for key, sign in variations.items()
            },
        ),
    )


def electron_correction() -> cs.Correction:
    """EGM-style electron ID SF: signed η × pT bins per working point (module docstring)."""
    outer = ELECTRON_ABSETA_EDGES[1:]
    eta_edges = [-e for e in reversed(outer)] + ELECTRON_ABSETA_EDGES
    eta_factor = list(reversed(ELECTRON_ETA_FACTOR)) + ELECTRON_ETA_FACTOR
    variations = {"sf": 0, "sfup": 1, "sfdown": -1}
    return cs.Correction(
        name=ELECTRON_ID,
        version=1,
        description="electron cut-based ID scale factor (design values)",
        inputs=[
            cs.Variable(name="ValType", type="string", description="sf/sfup/sfdown"),
            cs.Variable(name="WorkingPoint", type="string", description="Veto/Loose/Medium/Tight"),
            _real("eta", "electron eta (signed)"),
            _real("pt", "electron pT [GeV]"),
        ],
        output=_real("weight", "scale factor"),
        data=category(
            "ValType",
            {
                key: category(
                    "WorkingPoint",
                    {
                        wp: _sf_binning(
                            ELECTRON_UNC,
                            sign,
                            ["eta", "pt"],
                            [eta_edges, ELECTRON_PT_EDGES],
                            [f * wp_factor for f in eta_factor],
                        )
                        for wp, wp_factor in ELECTRON_WP_FACTOR.items()
                    },
                )
                for key, sign in variations.items()
            },
        ),
    )


def _btag_inputs() -> list[cs.Variable]:
    return [
        cs.Variable(name="systematic", type="string", description="central/up/down"),
        cs.Variable(name="working_point", type="string", description="L/M/T"),
        cs.Variable(name="flavor", type="int", description="hadronFlavour: 5 b, 4 c, 0 light"),
        _real("abseta", "|eta| of the jet"),
        _real("pt", "jet pT [GeV]"),
    ]


def btag_correction(name: str, flavours: Sequence[str], description: str) -> cs.Correction:
    def unc(flavour: str, wp: str) -> list[float]:
        if flavour == "light":
            return [u * BTAG_LIGHT_WP_FACTOR[wp] for u in BTAG_LIGHT_UNC]
        return [u * (2.0 if flavour == "c" else 1.0) for u in BTAG_B_UNC]

    def by_flavour(wp: str, sign: int) -> cs.Category:
        edges = [BTAG_ABSETA_EDGES, BTAG_PT_EDGES]
        return category(
            "flavor",
            {FLAVOURS[f]: _sf_binning(unc(f, wp), sign, ["abseta", "pt"], edges) for f in flavours},
        )

    return cs.Correction(
        name=name,
        version=1,
        description=description,
        inputs=_btag_inputs(),
        output=_real("weight", "scale factor"),
        data=category(
            "systematic",
            {
                syst: category("working_point", {wp: by_flavour(wp, sign) for wp in WORKING_POINTS})
                for syst, sign in (("central", 0), ("up", 1), ("down", -1))
            },
        ),
    )


def btag_efficiency(threshold: float, flavour: str, detector: DetectorConfig) -> float:
    """The generator's tagging efficiency above ``threshold`` (|η| < 2.5), exactly."""
    jet = detector.jet
    eff_at_wp = dict(zip(("b", "c", "light"), jet.btag_efficiency, strict=True))[flavour]
    a = jet.btag_concentration
    f = btag_mixture_fraction(eff_at_wp, jet.btag_wp, a)
    return f * (1.0 - threshold**a) + (1.0 - f) * (1.0 - threshold) ** a


def generator_efficiency_correction(detector: DetectorConfig) -> cs.Correction:
    """``deepJet_mc_efficiency``: the exact efficiencies of every working point and flavour."""
    return efficiency_node_correction(
        BTAG_EFF,
        "b-tag efficiency of the eventlens generator's simulation (score >= working point), "
        "exact from its Beta-mixture score model; flat in pT, |eta| < 2.5",
        {
            wp: {code: btag_efficiency(t, f, detector) for f, code in FLAVOURS.items()}
            for wp, t in WORKING_POINTS.items()
        },
    )


def build_correction_set(detector: DetectorConfig | None = None) -> cs.CorrectionSet:
    """The whole correction set of the generator's detector (see module docstring)."""
    detector = detector or DetectorConfig()
    if abs(detector.jet.btag_wp - WORKING_POINTS["M"]) > 1e-9:
        raise ValueError(
            f"generator btag_wp {detector.jet.btag_wp} is not the medium point "
            f"{WORKING_POINTS['M']}: update WORKING_POINTS"
        )
    return cs.CorrectionSet(
        schema_version=2,
        description=(
            "eventlens generator detector model: muon ID/iso, electron ID and DeepJet-like "
            "b-tag scale "
            "factors (central 1, CMS-sized uncertainties) and the simulation's b-tag "
            "efficiencies; built by python -m eventlens.corrections.detector"
        ),
        corrections=[
            muon_correction(MUON_ID, MUON_ID_UNC, "tight muon ID scale factor (design values)"),
            muon_correction(
                MUON_ISO, MUON_ISO_UNC, "tight relative isolation (pfRelIso04 < 0.15) SF"
            ),
            electron_correction(),
            btag_correction(BTAG_COMB, ("b", "c"), "b-tag SF for b and c jets (fixed WP)"),
            btag_correction(BTAG_INCL, ("light",), "b-tag SF for light jets (fixed WP)"),
            generator_efficiency_correction(detector),
        ],
    )


def to_json(cset: cs.CorrectionSet) -> str:
    return cset.model_dump_json(exclude_unset=True, indent=1) + "\n"


def write_correction_set(path: str | Path, cset: cs.CorrectionSet | None = None) -> Path:
    """Write the set as JSON (gzip when the name ends in .gz), atomically."""
    path = Path(path)
    text = to_json(cset or build_correction_set())
    with atomic_path(path) as tmp:
        if path.suffix == ".gz":
            tmp.write_bytes(gzip.compress(text.encode(), mtime=0))
        else:
            tmp.write_text(text)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eventlens.corrections.detector",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    print(write_correction_set(args.output))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
