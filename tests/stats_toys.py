"""Small contract histograms with a known truth, for the statistics tests.

Three regions (the predicted classes of a DTW-like task), a signal ``ttbar``
and two backgrounds ``dy`` and ``wjets``; one template systematic ``jes``
(a tilt plus a normalisation change, on ``ttbar`` and ``wjets`` only) and MC
statistical variances as if each simulated event weighed ``MC_WEIGHT``.
"""

from __future__ import annotations

import hist
import numpy as np

from eventlens.stats.io import HistogramSet, ProcessInfo

REGIONS = ("dy", "wjets", "ttbar")
EDGES = np.array([0.0, 40.0, 80.0, 120.0, 160.0, 200.0])
#: Expected yields (μ = 1) per region and process, in the five bins.
YIELDS = {
    "dy": {"dy": [40, 300, 500, 120, 30], "wjets": [30, 60, 40, 20, 10], "ttbar": [2, 5, 8, 6, 4]},
    "wjets": {
        "dy": [20, 30, 25, 10, 5],
        "wjets": [150, 260, 180, 80, 40],
        "ttbar": [8, 20, 25, 18, 10],
    },
    "ttbar": {"dy": [3, 6, 8, 4, 2], "wjets": [15, 30, 35, 20, 12], "ttbar": [40, 90, 110, 80, 45]},
}
MC_WEIGHT = 0.05
JES = {"ttbar": 0.04, "wjets": 0.06}  # relative normalisation effect of jesUp
TILT = np.linspace(-1.0, 1.0, len(EDGES) - 1)


def expected(region: str, mu: float = 1.0) -> np.ndarray:
    y = YIELDS[region]
    return (
        np.asarray(y["dy"], float)
        + np.asarray(y["wjets"], float)
        + mu * np.asarray(y["ttbar"], float)
    )


def contract_hist(
    observed: dict[str, np.ndarray] | None = None, with_jes: bool = True
) -> hist.Hist:
    """The ``mass`` contract histogram; ``observed`` (region -> bins) fills process ``data``."""
    h = (
        hist.Hist.new.StrCat([], growth=True, name="process", label="Process")
        .StrCat([], growth=True, name="region", label="Region")
        .StrCat([], growth=True, name="variation", label="Variation")
        .Variable(EDGES, name="mass", label="Mass [GeV]")
        .Weight()
    )
    centers = 0.5 * (EDGES[1:] + EDGES[:-1])
    for region, per in YIELDS.items():
        for proc, values in per.items():
            nominal = np.asarray(values, float)
            variants = {"nominal": nominal}
            if with_jes:
                s = JES.get(proc, 0.0)
                variants["jesUp"] = nominal * (1 + s) * (1 + 0.03 * TILT)
                variants["jesDown"] = nominal * (1 - s) * (1 - 0.03 * TILT)
            for var, v in variants.items():
                if var != "nominal" and proc not in JES:
                    continue
                # one weighted fill per bin centre sets value and variance exactly
                n = len(v)
                h.fill(
                    process=[proc] * n,
                    region=[region] * n,
                    variation=[var] * n,
                    mass=centers,
                    weight=v,
                )
                view = h.view(flow=False)[
                    h.axes["process"].index(proc),
                    h.axes["region"].index(region),
                    h.axes["variation"].index(var),
                ]
                view.variance = v * MC_WEIGHT
    if observed is not None:
        for region, counts in observed.items():
            h.fill(
                process=["data"] * len(counts),
                region=[region] * len(counts),
                variation=["nominal"] * len(counts),
                mass=centers,
                weight=np.asarray(counts, float),
            )
    return h


def histogram_set(
    observed: dict[str, np.ndarray] | None = None, with_jes: bool = True
) -> HistogramSet:
    processes = {
        "ttbar": ProcessInfo("tt\u0304", 832.0, signal=True),
        "dy": ProcessInfo("Drell-Yan", 6077.0),
        "wjets": ProcessInfo("W+jets", 61527.0),
    }
    if observed is not None:
        processes["data"] = ProcessInfo("Pseudo-data", data=True)
    return HistogramSet(
        {"mass": contract_hist(observed, with_jes)}, processes, luminosity_pb=1000.0, task="dtw"
    )


def poisson_data(mu: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {r: rng.poisson(expected(r, mu)).astype(float) for r in REGIONS}
