"""Scale factors through correctionlib, as CMS analyses apply them.

- :mod:`.detector`: the generator's own correction set (muon ID/iso and b-tag
  SFs with uncertainties, the simulation's b-tag efficiencies), written as
  correctionlib JSON to ``configs/corrections/eventlens_detector.json``;
- :mod:`.config`: which corrections to apply, from which file, with which input
  names (``configs/corrections/*.yaml``: the generator's set, or the CMS POG files);
- :mod:`.weights`: the reader — selected muons and jets of a chunk →
  ``coffea.analysis_tools.Weights`` with the SFs and their Up/Down variations.

From a processor::

    sf = ScaleFactors(load_corrections("configs/corrections/eventlens_detector.yaml"))
    weights = Weights(len(events), storeIndividual=True)
    weights.add("norm", xsec_lumi_weight)
    sf.add_to(weights, muons=selected_muons, jets=selected_jets)
    weights.weight(), weights.variations   # nominal; {"muon_idUp", ..., "btag_bcUp", ...}
"""

from .config import CorrectionConfig, load_corrections
from .weights import ScaleFactors

__all__ = ["CorrectionConfig", "ScaleFactors", "load_corrections"]
