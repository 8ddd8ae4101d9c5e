"""Feed-forward (padded object table) models: per-feature attributions in σ units.

Seed 003's explanation reads "this event is signal because DER_pt_tot is
1.20σ": a feature, its value in standard deviations of the training set, and
how much it pushed the decision.  For our table models every input is a
feature of one object slot (``jet0_pt``, ``met0_phi`` …), so each feature's
attribution is reported with its value, its σ-distance from the training
mean (the model's own standardisation buffers), and — by summing a slot's
features — rolled up to the object that fills the slot.  Empty slots (no
second electron, say) are not objects; their attribution is reported as
"empty slots" so the sum stays complete.

Attribution methods: Integrated Gradients for checkpoints (differentiable),
captum's Shapley value sampling for ONNX models (forward passes only; each
sampled feature order telescopes, so it is complete too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from ..models.features import TableSpec
from ..objects import ObjectType
from .model import ExplainableModel

TYPE_CODES = {t.name.lower(): int(t) for t in ObjectType}


@dataclasses.dataclass
class FeatureAttribution:
    """Per-feature attributions of a batch of events.

    Attributions are (N, K, F); ``delta`` (N, K) is Σ − (f(x) − f(x′)).
    """

    attributions: np.ndarray
    delta: np.ndarray
    scores: np.ndarray
    baseline_scores: np.ndarray
    method: str


def slot_objects(offsets: np.ndarray, columns: Mapping[str, np.ndarray], spec: TableSpec
                 ) -> np.ndarray:
    """(N, n_slots) int64: which object (position in its event) fills each slot, −1 for none.

    The same rule as :func:`eventlens.models.features.featurise` — per type,
    objects with finite pT > 0 in decreasing pT (ties in list order) — so
    slot s of event i holds exactly the object whose features fill it.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n_events = len(offsets) - 1
    out = np.full((n_events, spec.n_slots), -1, dtype=np.int64)
    types = np.asarray(columns["type"]).astype(np.int64)
    pt = np.asarray(columns["pt"]).astype(np.float64)
    starts = {}
    pos = 0
    for name, n in spec.slots:
        starts[TYPE_CODES[name]] = (pos, n)
        pos += n
    for i in range(n_events):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        t, p = types[lo:hi], pt[lo:hi]
        for code, (base, cap) in starts.items():
            members = np.flatnonzero((t == code) & np.isfinite(p) & (p > 0))
            ranked = members[np.argsort(-p[members], kind="stable")][:cap]
            out[i, base:base + len(ranked)] = ranked
    return out


def slot_of_feature(spec: TableSpec) -> np.ndarray:
    """(F,) the slot each feature of the flat vector belongs to."""
    return np.repeat(np.arange(spec.n_slots), len(spec.features))


def sigma_units(x: np.ndarray, mean: np.ndarray | None,
                std: np.ndarray | None) -> np.ndarray | None:
    """(x − mean)/σ with the training statistics (σ < 1e-6 counts as 1, as the model does)."""
    if mean is None or std is None:
        return None
    std = np.where(np.asarray(std) < 1e-6, 1.0, std)
    return (np.asarray(x, dtype=np.float64) - mean) / std


def feature_integrated_gradients(
    model: ExplainableModel, x: np.ndarray, baseline: np.ndarray, n_steps: int = 50
) -> FeatureAttribution:
    """IG per feature and class (torch models)."""
    from .gradients import integrated_gradients

    r = integrated_gradients(model, x, baseline, n_steps=n_steps)
    return FeatureAttribution(r.attributions, r.delta, r.scores, r.baseline_scores,
                              "integrated_gradients")


def feature_shapley_sampling(
    model: ExplainableModel, x: np.ndarray, baseline: np.ndarray, n_samples: int = 25,
    seed: int = 0,
) -> FeatureAttribution:
    """captum Shapley value sampling per feature and class (any backend: forward passes only)."""
    import torch
    from captum.attr import ShapleyValueSampling

    def forward(inp: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(model.predict(inp.detach().numpy().astype(np.float32)))

    torch.manual_seed(seed)  # captum draws its feature orders from torch's generator
    inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    base = torch.from_numpy(np.ascontiguousarray(baseline, dtype=np.float32))[None]
    svs = ShapleyValueSampling(forward)
    n, k = len(x), model.n_classes
    attributions = np.zeros((n, k, x.shape[1]), dtype=np.float64)
    for j in range(k):
        a = svs.attribute(inputs, baselines=base, target=j, n_samples=n_samples,
                          perturbations_per_eval=min(64, x.shape[1]))
        attributions[:, j] = a.double().numpy()
    scores = model.predict(x)
    base_scores = model.predict(base.numpy())[0]
    delta = attributions.sum(2) - (scores - base_scores[None, :])
    return FeatureAttribution(attributions, delta, scores, base_scores, "shapley_sampling")


def slot_sums(attributions: np.ndarray, spec: TableSpec) -> np.ndarray:
    """(…, K, F) feature attributions summed per slot → (…, K, n_slots)."""
    a = np.asarray(attributions)
    return a.reshape(*a.shape[:-1], spec.n_slots, len(spec.features)).sum(-1)
