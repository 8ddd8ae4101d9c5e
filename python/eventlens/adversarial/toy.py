"""A toy H → γγ object table: two photons from a 125 GeV resonance or a falling continuum.

For tests and development only — never for physics results (the study runs
on Pythia samples from ``eventlens make-samples hgg``).  The toy is built so
that the mass *leaks into the inputs* the way it does in real data: each
event's two photon four-vectors are the decay of a diphoton system of mass m
(signal: Gaussian at 125 GeV, σ = 1.7 GeV; background: exponential with a
30 GeV slope on 100–180 GeV), boosted to a transverse momentum (signal
harder), rapidity and azimuth, so m is a function of the inputs and photon
pT scales with m.  The selection of ``configs/selection/hgg.yaml`` is applied
(|η| < 2.5, pT₁/m > 1/3, pT₂/m > 1/4); labels 0 = background, 1 = signal
(the hgg table's classes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..objects import ObjectType

CLASSES = ("background", "signal")
DATASETS = ("diphoton_toy", "hgg_toy")


def _decays(m: np.ndarray, pt: np.ndarray, y: np.ndarray, phi: np.ndarray,
            cos_theta: np.ndarray, phi_star: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lab four-momenta (N, 2, 4) = (E, px, py, pz) of the two photons."""
    n = m.size
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    half = 0.5 * m
    k = np.stack([half * sin_theta * np.cos(phi_star), half * sin_theta * np.sin(phi_star),
                  half * cos_theta], axis=1)
    mt = np.sqrt(m**2 + pt**2)
    big_p = np.stack([mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)], axis=1)
    beta = big_p[:, 1:] / big_p[:, :1]
    b2 = np.sum(beta**2, axis=1, keepdims=True)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    out = np.empty((n, 2, 4))
    for j, sign in enumerate((1.0, -1.0)):
        p = sign * k
        e = half[:, None]
        bp = np.sum(beta * p, axis=1, keepdims=True)
        coef = np.where(b2 > 0, (gamma - 1.0) * bp / np.where(b2 > 0, b2, 1.0), 0.0)
        out[:, j, 0] = (gamma * (e + bp))[:, 0]
        out[:, j, 1:] = p + coef * beta + gamma * beta * e
    return out, big_p


def _draw(n: int, signal: bool, rng: np.random.Generator) -> np.ndarray:
    if signal:
        m = rng.normal(125.0, 1.7, n)
        pt = rng.exponential(35.0, n)
        y = rng.normal(0.0, 1.1, n)
        cos_theta = rng.uniform(-1.0, 1.0, n)  # spin 0: isotropic
    else:
        u = rng.random(n)
        slope = 30.0
        lo, hi = 100.0, 180.0
        m = lo - slope * np.log(1.0 - u * (1.0 - np.exp(-(hi - lo) / slope)))
        pt = rng.exponential(18.0, n)
        y = rng.normal(0.0, 1.4, n)
        # q q̄ → γγ: forward-peaked, ∝ (1 + c²)/(1 − c²), cut at |c| < 0.95 (accept-reject)
        c = rng.uniform(-0.95, 0.95, 4 * n)
        keep = rng.random(4 * n) * (1 + 0.95**2) / (1 - 0.95**2) < (1 + c**2) / (1 - c**2)
        cos_theta = np.resize(c[keep], n)
    phi = rng.uniform(-np.pi, np.pi, n)
    phi_star = rng.uniform(-np.pi, np.pi, n)
    photons, _ = _decays(m, pt, y, phi, cos_theta, phi_star)
    return np.concatenate([photons.reshape(n, 8), m[:, None]], axis=1)


def _kinematics(p4: np.ndarray) -> dict[str, np.ndarray]:
    e, px, py, pz = p4[..., 0], p4[..., 1], p4[..., 2], p4[..., 3]
    pt = np.hypot(px, py)
    return {"pt": pt, "eta": np.arcsinh(pz / np.maximum(pt, 1e-9)), "phi": np.arctan2(py, px),
            "e": e}


def hgg_toy_events(n_events: int, seed: int, signal_fraction: float = 0.5) -> dict[str, Any]:
    """Events in the object-table layout (see :func:`eventlens.training.toy.write_table`)."""
    rng = np.random.default_rng(seed)
    n_sig = round(n_events * signal_fraction)
    parts = []
    for label, n in ((1, n_sig), (0, n_events - n_sig)):
        rows: list[np.ndarray] = []
        have = 0
        while have < n:
            batch = _draw(max(2 * (n - have), 64), bool(label), rng)
            kin = _kinematics(batch[:, :8].reshape(-1, 2, 4))
            m = batch[:, 8]
            lead = np.argmax(kin["pt"], axis=1)
            pt_sorted = np.sort(kin["pt"], axis=1)[:, ::-1]
            ok = ((np.abs(kin["eta"]) < 2.5).all(axis=1) & (m >= 100) & (m <= 180)
                  & (pt_sorted[:, 0] / m > 1 / 3) & (pt_sorted[:, 1] / m > 0.25))
            batch = batch[ok]
            order = np.stack([lead[ok], 1 - lead[ok]], axis=1)
            p4 = np.take_along_axis(batch[:, :8].reshape(-1, 2, 4), order[:, :, None], axis=1)
            rows.append(np.concatenate([p4.reshape(-1, 8), batch[:, 8:], np.full((len(batch), 1),
                                                                                  label)], axis=1))
            have += len(batch)
        parts.append(np.concatenate(rows)[:n])
    data = np.concatenate(parts)
    data = data[rng.permutation(len(data))]
    kin = _kinematics(data[:, :8].reshape(-1, 2, 4))
    n = len(data)
    offsets = np.arange(0, 2 * n + 1, 2, dtype=np.int64)
    columns = {
        "type": np.full(2 * n, int(ObjectType.PHOTON), np.int32),
        "pt": kin["pt"].reshape(-1).astype(np.float32),
        "eta": kin["eta"].reshape(-1).astype(np.float32),
        "phi": kin["phi"].reshape(-1).astype(np.float32),
        "mass": np.zeros(2 * n, np.float32),
        "charge": np.zeros(2 * n, np.int32),
        "btag": np.zeros(2 * n, np.float32),
    }
    labels = data[:, 9].astype(np.int32)
    return {
        "offsets": offsets,
        "columns": columns,
        "label": labels,
        "weight": np.ones(n),
        "mass": data[:, 8].astype(np.float32),
        "dataset": np.asarray([DATASETS[i] for i in labels]),
        "run": np.ones(n, dtype=np.uint32),
        "luminosityBlock": (np.arange(n) // 1000 + 1).astype(np.uint32),
        "event": np.arange(1, n + 1, dtype=np.uint64),
    }


def write_hgg_toy_table(path: str | Path, n_events: int, seed: int = 0, n_files: int = 2) -> Path:
    """The toy as an object table folder (task ``hgg``, classes background/signal)."""
    from ..training.toy import write_table

    return write_table(path, hgg_toy_events(n_events, seed), "hgg", list(CLASSES), n_files)
