"""Explanations at the level physicists think in: objects and features, not pixels (seed 003).

"This event is called tt̄ because of b-jet 1 (pT 85 GeV, η +0.4): +0.41 towards
tt̄; MET (62 GeV): +0.22" — per event and per class, with the books balanced
(Σ object attributions + unassigned = score − baseline score + residual), and
summed over a data set: which object kinds drive each class.

Small modules, one job each:

* :mod:`.model` — a checkpoint or an ONNX model (+ card) as an explainable model;
* :mod:`.gradients` — Integrated Gradients (captum) with its convergence delta;
* :mod:`.pixels` — pixel attributions summed per object with the renderer's
  object-index maps;
* :mod:`.removal` — object Shapley values and occlusion by removing objects and
  redrawing (gradient-free: works on ONNX graphs);
* :mod:`.tabular` — feed-forward models: per-feature attributions in σ units;
* :mod:`.event`, :mod:`.naming` — one event's record and its words;
* :mod:`.explainer` — choose the method, run it in chunks;
* :mod:`.summary` — dataset-level tables; :mod:`.figures` — overlays (mplhep);
* :mod:`.report`, :mod:`.run` — ``eventlens explain``.

See ``docs/explain.md`` for the methods, their baselines, and measured numbers.
"""

from .event import EventExplanation, FeatureTerms
from .explainer import METHODS, Explainer, ExplainOptions
from .model import ExplainableModel, load_explainable

__all__ = [
    "METHODS",
    "EventExplanation",
    "ExplainOptions",
    "ExplainableModel",
    "Explainer",
    "FeatureTerms",
    "load_explainable",
]
