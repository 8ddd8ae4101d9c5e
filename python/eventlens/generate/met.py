"""Missing transverse momentum: minus the vector sum of everything reconstructed.

MET = −(Σ smeared jets + Σ isolated muons/electrons/photons + r·unclustered)
plus a Gaussian term per component with σ = k·√(Σ ET unclustered), where r
is one N(1, σ_u) response factor per event.  Neutrinos, muons beyond the
tracker (|η| > 2.5) and everything beyond |η| = 5 are thereby missing, as in
the real detector; a muon the muon reconstruction lost inside the tracker is
not: particle flow keeps its track (a charged hadron, clustered into the jets
or the unclustered rest, see :func:`~eventlens.generate.detector.jet_inputs`).
"""

from __future__ import annotations

import numpy as np

from .config import MetConfig
from .jets import Jets
from .particles import segment_sum
from .randoms import EventRandom
from .reco import RecoObjects


def missing_et(
    n_events: int,
    jets: Jets,
    isolated: list[RecoObjects],
    cfg: MetConfig,
    rnd: EventRandom,
    extra_unclustered: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """MET_pt, MET_phi, MET_sumEt per event.

    ``extra_unclustered``: (px, py, ΣpT) per event of particle-flow candidates
    that were not clustered (the charged pileup charged-hadron subtraction took
    out of the jets); they join the unclustered energy.
    """
    g = rnd.normal(np.ones(n_events, dtype=np.int64), 3)  # response, noise x, noise y
    vis_px = segment_sum(jets.px, jets.event, n_events)
    vis_py = segment_sum(jets.py, jets.event, n_events)
    sumet = segment_sum(np.hypot(jets.px, jets.py), jets.event, n_events)
    for objs in isolated:
        sel = objs.isolated
        vis_px += segment_sum(objs.px[sel], objs.event[sel], n_events)
        vis_py += segment_sum(objs.py[sel], objs.event[sel], n_events)
        sumet += segment_sum(np.hypot(objs.px[sel], objs.py[sel]), objs.event[sel], n_events)
    unc_px, unc_py, unc_et = jets.unclustered_px, jets.unclustered_py, jets.unclustered_sumet
    if extra_unclustered is not None:
        unc_px = unc_px + extra_unclustered[0]
        unc_py = unc_py + extra_unclustered[1]
        unc_et = unc_et + extra_unclustered[2]
    response = np.maximum(1.0 + cfg.unclustered_resolution * g[:, 0], 0.0)
    noise = cfg.noise * np.sqrt(unc_et)
    met_x = -(vis_px + response * unc_px) + noise * g[:, 1]
    met_y = -(vis_py + response * unc_py) + noise * g[:, 2]
    sumet += response * unc_et
    return {
        "pt": np.hypot(met_x, met_y).astype(np.float32),
        "phi": np.arctan2(met_y, met_x).astype(np.float32),
        "sumEt": sumet.astype(np.float32),
    }
