"""Physics names for objects and classes: what an explanation says, in a physicist's words.

Attributions are only useful if they read like an analysis note: "b-jet 2
(pT 85 GeV, η 0.4): +0.41 towards tt̄", not "pixel (17, 40), channel 4".
Objects are numbered within their *kind* by decreasing pT (b-jet 1 is the
leading b-jet), as physicists number them.  A jet's kind follows the
renderer's b-tag working point, so "b-jet" here means exactly what the
network saw drawn in the b-jet channel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..objects import ObjectType

#: Object kinds in summary order; ``bjet`` = jet with b-tag ≥ the working point.
KINDS = ("electron", "muon", "photon", "jet", "bjet", "met")

#: How a kind is written in text.
KIND_LABELS = {
    "electron": "electron",
    "muon": "muon",
    "photon": "photon",
    "jet": "jet",
    "bjet": "b-jet",
    "met": "MET",
}

#: Display names of the project's class names (others are shown as they are).
CLASS_LABELS = {
    "ttbar": "tt̄",
    "wjets": "W+jets",
    "dy": "DY",
    "hgg": "H→γγ",
    "diphoton": "γγ",
}

#: The DeepJet medium working point, the renderer's default.
DEFAULT_BTAG_THRESHOLD = 0.2783

_TYPE_KIND = {
    int(ObjectType.ELECTRON): "electron",
    int(ObjectType.MUON): "muon",
    int(ObjectType.PHOTON): "photon",
    int(ObjectType.JET): "jet",
    int(ObjectType.MET): "met",
}


#: Class names for figures (matplotlib mathtext: the combining macron of tt̄ renders badly).
CLASS_TEX = {"ttbar": r"$t\bar{t}$", "hgg": r"H$\to\gamma\gamma$", "diphoton": r"$\gamma\gamma$"}


def class_label(name: str) -> str:
    """The display name of a class (``ttbar`` → ``tt̄``)."""
    return CLASS_LABELS.get(name, name)


def class_tex(name: str) -> str:
    """The display name of a class in figures (``ttbar`` → ``$t\\bar{t}$``)."""
    return CLASS_TEX.get(name, class_label(name))


def object_kinds(
    types: np.ndarray, btag: np.ndarray | None, btag_threshold: float = DEFAULT_BTAG_THRESHOLD
) -> list[str]:
    """The kind of each object (unknown type codes become ``"other"``)."""
    kinds = []
    for i, t in enumerate(np.asarray(types).tolist()):
        kind = _TYPE_KIND.get(int(t), "other")
        if kind == "jet" and btag is not None and float(btag[i]) >= btag_threshold:
            kind = "bjet"
        kinds.append(kind)
    return kinds


def object_names(kinds: Sequence[str], pt: np.ndarray) -> list[str]:
    """``b-jet 1``, ``jet 2``, ``MET``… numbered within each kind by decreasing pT."""
    pt = np.asarray(pt, dtype=np.float64)
    names = [""] * len(kinds)
    by_kind: dict[str, list[int]] = {}
    for i, k in enumerate(kinds):
        by_kind.setdefault(k, []).append(i)
    for kind, members in by_kind.items():
        label = KIND_LABELS.get(kind, kind)
        if kind == "met" and len(members) == 1:
            names[members[0]] = label
            continue
        ordered = sorted(members, key=lambda i: (-_finite(pt[i]), i))
        for rank, i in enumerate(ordered, start=1):
            names[i] = f"{label} {rank}"
    return names


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def describe_object(name: str, kind: str, pt: float, eta: float) -> str:
    """``b-jet 2 (pT 85 GeV, η 0.4)``; MET has no η: ``MET (62 GeV)``."""
    if kind == "met":
        return f"{name} ({pt:.0f} GeV)"
    return f"{name} (pT {pt:.0f} GeV, η {signed(eta, 1)})"


def signed(value: float, digits: int = 2) -> str:
    """``+0.41`` / ``−0.07`` (a real minus sign; tiny values as ``+0.00``)."""
    text = f"{value:+.{digits}f}"
    return text.replace("-", "−")


def ranking_text(
    descriptions: Sequence[str], values: np.ndarray, cls: str, top: int = 5
) -> str:
    """``b-jet 2 (pT 85 GeV, η +0.4): +0.41 towards tt̄; MET (62 GeV): +0.22; …``.

    Objects are ordered by |attribution|; the rest are summarised as "n more".
    """
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(-np.abs(values), kind="stable")
    parts = []
    for j, i in enumerate(order[:top]):
        suffix = f" towards {class_label(cls)}" if j == 0 else ""
        parts.append(f"{descriptions[i]}: {signed(values[i])}{suffix}")
    if len(order) > top:
        parts.append(f"{len(order) - top} more")
    return "; ".join(parts)


def class_scores_text(scores: Mapping[str, float]) -> str:
    """``tt̄ 0.93, W+jets 0.05, DY 0.02``."""
    return ", ".join(f"{class_label(c)} {v:.2f}" for c, v in scores.items())
