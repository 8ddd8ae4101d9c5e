"""Binned fits of the m_γγ spectrum: signal shape, smooth background, spurious signal, Asimov.

An H → γγ analysis never takes the background under the peak from
simulation: it fits a smooth function to the data's m_γγ spectrum category
by category.  A classifier cut that carves a bump into the background makes
that fit report a signal where there is none (the *spurious signal*).  This
module holds the fit machinery (numpy + iminuit); :mod:`.spurious` applies it
to the categories of the study.

Choices (and why):

* **Binned**, :data:`FIT_EDGES` = 100–180 GeV in 0.5 GeV bins: well below the
  signal width (σ ≈ 1–1.5 GeV), and the model is *integrated* over each bin
  (Gauss–Legendre, :data:`_NODES` points per bin), so binning costs no bias.
* **Weighted events**: :class:`Histogram` keeps Σw and Σw² per bin, and the
  fit is iminuit's :class:`~iminuit.cost.ExtendedBinnedNLL` fed with both, i.e.
  the Poisson likelihood of the *effective counts* n_eff = (Σw)²/Σw² with the
  expectation scaled by the same factor (Bohm & Zech, NIM A 748 (2014) 1).  A
  Poisson (not Gaussian χ²) likelihood stays unbiased in the near-empty bins
  of tight categories, and the effective counts make the fitted uncertainties
  those of the simulated sample (its statistical precision, not the
  luminosity it is scaled to).  For unit or uniform weights it is the plain
  Poisson likelihood.  The cost is Baker–Cousins' χ² (= 2·ΔNLL to the
  saturated model), so cost differences are likelihood-ratio statistics.
* **Signal**: a double-sided Crystal Ball (:class:`DoubleCrystalBall`), fitted
  to the H → γγ simulation of the category; in signal + background fits its
  shape is frozen and only its yield floats.
* **Background**: :class:`Exponential`, :class:`PowerLaw` and
  :class:`Bernstein` of order 1–4 (coefficients ≥ 0, the first fixed to 1,
  so the function is positive).  :func:`choose_background` states the rule:
  the Bernstein order by an F-test (the likelihood-ratio form used in CMS
  H → γγ: go to order n+1 while 2ΔNLL > 3.84, the 95 % quantile of χ²(1)),
  then among exponential, power law and that Bernstein the lowest
  AIC = χ²_BC + 2k.
* **Expected uncertainties and significance** (:func:`expected_signal_error`,
  :func:`asimov_significance`) use Asimov data at the target luminosity
  (plain Poisson: those are data, not simulation), with every background
  parameter profiled.  The spurious signal enters the significance as a
  signal-shaped term θ·S_spur with a unit Gaussian constraint on θ — a
  systematic on the signal yield, as in the ATLAS/CMS H → γγ fits.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..errors import EventLensError

#: The selection's m_γγ window.
MASS_RANGE = (100.0, 180.0)
#: Fit binning: 0.5 GeV.
FIT_EDGES = np.linspace(MASS_RANGE[0], MASS_RANGE[1], 161)
#: Higgs mass hypothesis (GeV) of the signal shape's start value.
HIGGS_MASS = 125.0
#: Gauss–Legendre points per bin for the bin integrals of the model.
_NODES = 4
#: χ²(1) 95 % quantile: the F-test's threshold on 2ΔNLL for one more parameter.
FTEST_THRESHOLD = 3.841458820694124
#: Bernstein orders tried by the F-test.
BERNSTEIN_ORDERS = (1, 2, 3, 4)
#: An expectation is never below this (a bin expectation ≤ 0 is unphysical; the
#: clamp turns it into a steep barrier instead of a silently wrong likelihood).
_TINY = 1e-9


@dataclasses.dataclass(frozen=True)
class Histogram:
    """A weighted m_γγ histogram: Σw and Σw² per bin."""

    edges: np.ndarray
    sumw: np.ndarray
    sumw2: np.ndarray

    @classmethod
    def of(cls, mass: np.ndarray, weight: np.ndarray | None = None,
           edges: np.ndarray = FIT_EDGES) -> Histogram:
        """Histogram of ``mass`` with ``weight`` (unit weights if None)."""
        mass = np.asarray(mass, dtype=np.float64)
        w = np.ones_like(mass) if weight is None else np.asarray(weight, dtype=np.float64)
        if w.shape != mass.shape:
            raise EventLensError(f"Histogram: {w.size} weights for {mass.size} masses")
        if (w < 0).any():
            raise EventLensError("Histogram: negative event weights; the effective-count "
                                 "likelihood needs w >= 0")
        sumw, _ = np.histogram(mass, bins=edges, weights=w)
        sumw2, _ = np.histogram(mass, bins=edges, weights=w * w)
        return cls(np.asarray(edges, dtype=np.float64), sumw, sumw2)

    @property
    def total(self) -> float:
        return float(self.sumw.sum())

    @property
    def n_effective(self) -> float:
        """(Σw)²/Σw² of the whole histogram: how many unit-weight events it is worth."""
        s2 = float(self.sumw2.sum())
        return self.total ** 2 / s2 if s2 > 0 else 0.0

    @property
    def centres(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def scaled(self, factor: float) -> Histogram:
        """Every weight × ``factor`` (e.g. to another luminosity)."""
        return Histogram(self.edges, self.sumw * factor, self.sumw2 * factor * factor)

    def weighted_counts(self) -> np.ndarray:
        """(nbins, 2) [Σw, Σw²]: iminuit's input for the Bohm–Zech likelihood."""
        return np.stack([self.sumw, self.sumw2], axis=-1)


@functools.cache
def _nodes(edges: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre abscissae (nbins, _NODES) and weights for the bins of ``edges``."""
    e = np.asarray(edges)
    x, w = np.polynomial.legendre.leggauss(_NODES)
    half = 0.5 * np.diff(e)[:, None]
    mid = 0.5 * (e[1:] + e[:-1])[:, None]
    return mid + half * x[None, :], half * w[None, :]


def bin_fractions(density: Any, edges: np.ndarray) -> np.ndarray:
    """Fractions of ``density`` (a vectorised function of m) in each bin, summing to 1."""
    x, w = _nodes(tuple(float(v) for v in edges))
    integrals = (np.asarray(density(x), dtype=np.float64) * w).sum(axis=1)
    total = integrals.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(len(edges) - 1, np.nan)
    return integrals / total


class Shape(Protocol):
    """A normalised m_γγ shape with named parameters (the yield is not one of them)."""

    name: str
    params: tuple[str, ...]

    def start(self, hist: Histogram) -> dict[str, float]: ...

    def limits(self) -> dict[str, tuple[float | None, float | None]]: ...

    def fixed(self, hist: Histogram) -> dict[str, float]: ...

    def density(self, m: np.ndarray, *values: float) -> np.ndarray: ...


def _t(m: np.ndarray) -> np.ndarray:
    lo, hi = MASS_RANGE
    return (np.asarray(m) - lo) / (hi - lo)


@dataclasses.dataclass(frozen=True)
class Exponential:
    """exp(a·t), t = (m − 100)/80."""

    name: str = "exponential"
    params: tuple[str, ...] = ("a",)

    def start(self, hist: Histogram) -> dict[str, float]:
        return {"a": -3.0}

    def limits(self) -> dict[str, tuple[float | None, float | None]]:
        return {"a": (-40.0, 40.0)}

    def fixed(self, hist: Histogram) -> dict[str, float]:
        return {}

    def density(self, m: np.ndarray, *values: float) -> np.ndarray:
        return np.exp(values[0] * _t(m))


@dataclasses.dataclass(frozen=True)
class PowerLaw:
    """(m/100 GeV)^p."""

    name: str = "power_law"
    params: tuple[str, ...] = ("p",)

    def start(self, hist: Histogram) -> dict[str, float]:
        return {"p": -4.0}

    def limits(self) -> dict[str, tuple[float | None, float | None]]:
        return {"p": (-60.0, 30.0)}

    def fixed(self, hist: Histogram) -> dict[str, float]:
        return {}

    def density(self, m: np.ndarray, *values: float) -> np.ndarray:
        return np.power(np.asarray(m) / 100.0, values[0])


@dataclasses.dataclass(frozen=True)
class Bernstein:
    """Σ_k c_k·C(n,k)·t^k·(1−t)^(n−k) with all c_k ≥ 0 (so the function is positive).

    The shape is normalised, so one coefficient is fixed to 1: the *anchor*, the one
    whose basis function peaks (t = k/n) where the histogram is densest.  Fixing c_0
    instead fails when the spectrum vanishes at 100 GeV (a sculpted category): the
    other coefficients then run to 10⁶ and the fit's errors to round-off.
    """

    order: int

    @property
    def name(self) -> str:
        return f"bernstein_{self.order}"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(f"c{k}" for k in range(self.order + 1))

    def _densities(self, hist: Histogram) -> np.ndarray:
        """Mean Σw per bin around each t = k/n (±1/(2n)): the data's height there."""
        n = self.order
        t = _t(hist.centres)
        out = np.zeros(n + 1)
        for k in range(n + 1):
            near = np.abs(t - k / n) <= 0.5 / n
            out[k] = max(float(hist.sumw[near].mean()), 0.0) if near.any() else 0.0
        return out

    def anchor(self, hist: Histogram) -> int:
        return int(np.argmax(self._densities(hist)))

    def start(self, hist: Histogram) -> dict[str, float]:
        d = self._densities(hist)
        top = d.max() if d.max() > 0 else 1.0
        return {f"c{k}": float(np.clip(d[k] / top, 1e-3, 1e3)) for k in range(self.order + 1)}

    def limits(self) -> dict[str, tuple[float | None, float | None]]:
        return {f"c{k}": (0.0, None) for k in range(self.order + 1)}

    def fixed(self, hist: Histogram) -> dict[str, float]:
        return {f"c{self.anchor(hist)}": 1.0}

    def renormalise(self, values: dict[str, float], prefix: str,
                    hist: Histogram) -> dict[str, float]:
        """Start values scaled so the anchor of ``hist`` is 1: the same shape."""
        key = f"{prefix}c{self.anchor(hist)}"
        scale = values.get(key, 0.0)
        if scale <= 0:
            return values
        return {k: (v / scale if k.startswith(f"{prefix}c") else v) for k, v in values.items()}

    def density(self, m: np.ndarray, *values: float) -> np.ndarray:
        t = _t(m)
        n = self.order
        out = np.zeros_like(t, dtype=np.float64)
        for k, c in enumerate(values):
            out = out + c * math.comb(n, k) * t ** k * (1.0 - t) ** (n - k)
        return out


@dataclasses.dataclass(frozen=True)
class DoubleCrystalBall:
    """Gaussian core (μ, σ) with power-law tails below −α_L and above α_R (in σ)."""

    name: str = "double_crystal_ball"
    params: tuple[str, ...] = ("mu", "sigma", "alpha_l", "n_l", "alpha_r", "n_r")

    def start(self, hist: Histogram) -> dict[str, float]:
        c, w = hist.centres, np.clip(hist.sumw, 0.0, None)
        mean = float((c * w).sum() / w.sum()) if w.sum() > 0 else HIGGS_MASS
        core = np.abs(c - mean) < 5.0
        rms = math.sqrt(float((w[core] * (c[core] - mean) ** 2).sum() / w[core].sum())) \
            if w[core].sum() > 0 else 1.5
        return {"mu": mean, "sigma": max(0.3, 0.8 * rms), "alpha_l": 1.5, "n_l": 5.0,
                "alpha_r": 1.5, "n_r": 5.0}

    def limits(self) -> dict[str, tuple[float | None, float | None]]:
        return {"mu": (115.0, 135.0), "sigma": (0.2, 10.0), "alpha_l": (0.3, 6.0),
                "n_l": (1.05, 60.0), "alpha_r": (0.3, 6.0), "n_r": (1.05, 60.0)}

    def fixed(self, hist: Histogram) -> dict[str, float]:
        return {}

    def density(self, m: np.ndarray, *values: float) -> np.ndarray:
        mu, sigma, al, nl, ar, nr = values
        t = (np.asarray(m, dtype=np.float64) - mu) / sigma
        out = np.exp(-0.5 * t * t)
        lo, hi = t < -al, t > ar
        if lo.any():
            b = nl / al - al
            out[lo] = np.exp(-0.5 * al * al) * (nl / al) ** nl * (b - t[lo]) ** (-nl)
        if hi.any():
            b = nr / ar - ar
            out[hi] = np.exp(-0.5 * ar * ar) * (nr / ar) ** nr * (b + t[hi]) ** (-nr)
        return out


def background_shapes() -> list[Shape]:
    """The candidate background functions, fewest parameters first."""
    return [Exponential(), PowerLaw(), *(Bernstein(n) for n in BERNSTEIN_ORDERS)]


def shape_by_name(name: str) -> Shape:
    for s in [*background_shapes(), DoubleCrystalBall()]:
        if s.name == name:
            return s
    raise EventLensError(f"unknown m_yy shape {name!r}")


@dataclasses.dataclass
class Fit:
    """One fit's outcome (JSON-able through :meth:`to_dict`)."""

    values: dict[str, float]
    errors: dict[str, float]
    cost: float          # Baker–Cousins χ² (2·NLL − saturated) at the minimum
    n_free: int          # free parameters, yields included
    n_bins: int
    valid: bool
    shapes: dict[str, str]  # component -> shape name ("signal", "background")

    @property
    def ndof(self) -> int:
        return self.n_bins - self.n_free

    @property
    def aic(self) -> float:
        return self.cost + 2.0 * self.n_free

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values, "errors": self.errors, "chi2_baker_cousins": self.cost,
                "n_free": self.n_free, "n_bins": self.n_bins, "valid": self.valid,
                "shapes": self.shapes}


class Model:
    """Σ_components yield × shape, integrated over the bins; the parameters of all."""

    def __init__(self, edges: np.ndarray, components: dict[str, Shape | np.ndarray]) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self.components = components
        self.names: list[str] = []
        self._slices: dict[str, slice] = {}
        for comp, shape in components.items():
            self.names.append(f"n_{comp}")
            if not isinstance(shape, np.ndarray):
                start = len(self.names)
                self.names += [f"{comp}_{p}" for p in shape.params]
                self._slices[comp] = slice(start, len(self.names))

    def fractions(self, comp: str, values: Sequence[float]) -> np.ndarray:
        shape = self.components[comp]
        if isinstance(shape, np.ndarray):
            return shape
        sl = self._slices[comp]
        return bin_fractions(lambda m: shape.density(m, *values[sl]), self.edges)

    def expected(self, values: Sequence[float]) -> np.ndarray:
        """Expected Σw per bin."""
        idx = {n: i for i, n in enumerate(self.names)}
        mu = np.zeros(len(self.edges) - 1)
        for comp in self.components:
            mu = mu + values[idx[f"n_{comp}"]] * self.fractions(comp, values)
        return mu

    def scaled_cdf(self, xe: np.ndarray, *values: float) -> np.ndarray:
        """What iminuit's ExtendedBinnedNLL wants: the cumulative expectation at the edges."""
        mu = self.expected(values)
        mu = np.where(np.isfinite(mu), np.maximum(mu, _TINY), 1e300)
        return np.concatenate([[0.0], np.cumsum(mu)])


Limits = dict[str, tuple[float | None, float | None]]


def _minuit(cost: Any, start: dict[str, float], limits: Limits,
            fixed: dict[str, float]) -> Any:
    from iminuit import Minuit

    m = Minuit(cost, **start)
    for name, (lo, hi) in limits.items():
        m.limits[name] = (lo, hi)
    for name, value in fixed.items():
        m.values[name] = value
        m.fixed[name] = True
    # Strategy 2 (full Hessian each step) and a 10× tighter EDM goal: the models have
    # ≤ 8 parameters, and Bernstein coefficients resting on their bound at 0 otherwise
    # leave the minimum (and MINOS crossings) a few per cent short in flat directions.
    m.strategy = 2
    m.tol = 0.01
    m.migrad(ncall=50000)
    if not m.valid:
        m.migrad(ncall=50000)  # a second start from the first's end usually converges
    m.hesse()
    return m


def fit(hist: Histogram, components: dict[str, Shape | np.ndarray],
        start: dict[str, float] | None = None,
        fixed: dict[str, float] | None = None,
        limits: dict[str, tuple[float | None, float | None]] | None = None,
        weighted: bool = True, constraints: dict[str, tuple[float, float]] | None = None,
        profile: Sequence[str] = ()) -> Fit:
    """Extended binned likelihood fit of ``components`` (name → shape, or frozen bin
    fractions) to ``hist``.  ``weighted``: the Bohm–Zech effective-count likelihood
    (simulation); False: plain Poisson of Σw (Asimov data).  ``constraints``: name →
    (mean, σ) Gaussian constraints (iminuit ``NormalConstraint``).  Parameter names are
    ``n_<component>`` for yields and ``<component>_<param>`` for shape parameters.

    ``profile``: parameters whose error comes from the profile likelihood instead of
    Hesse: the parameter is fixed at value ± d (d = its Hesse error), everything else
    refitted, and σ± = d/√Δχ²(±d); the error is the mean of σ+ and σ−.  A background
    parameter resting on its bound (a Bernstein coefficient at 0) makes the Hesse matrix
    — and MINOS' crossing search, measured here — depend on round-off; two refits at
    fixed values do not.
    """
    from iminuit.cost import ExtendedBinnedNLL, NormalConstraint

    model = Model(hist.edges, components)
    counts = hist.weighted_counts() if weighted else hist.sumw
    cost: Any = ExtendedBinnedNLL(counts, hist.edges, model.scaled_cdf, name=model.names)
    for name, (mean, sigma) in (constraints or {}).items():
        cost = cost + NormalConstraint(name, mean, sigma)
    total = max(hist.total, 1e-9)
    values: dict[str, float] = {}
    lims: dict[str, tuple[float | None, float | None]] = {}
    fix: dict[str, float] = {}
    for comp, shape in components.items():
        values[f"n_{comp}"] = total / len(components)
        lims[f"n_{comp}"] = (0.0, 10.0 * total + 10.0)
        if not isinstance(shape, np.ndarray):
            values.update({f"{comp}_{k}": v for k, v in shape.start(hist).items()})
            lims.update({f"{comp}_{k}": v for k, v in shape.limits().items()})
            fix.update({f"{comp}_{k}": v for k, v in shape.fixed(hist).items()})
    values.update(start or {})
    for comp, shape in components.items():
        if isinstance(shape, Bernstein):
            values = shape.renormalise(values, f"{comp}_", hist)
    lims.update(limits or {})
    fix.update(fixed or {})
    names = list(model.names) + [n for n in (constraints or {}) if n not in model.names]
    m = _minuit(cost, {n: values.get(n, 0.0) for n in names}, lims, fix)
    n_bins = int((hist.sumw2 > 0).sum()) if weighted else len(hist.sumw)
    errors = {n: float(m.errors[n]) if not m.fixed[n] else 0.0 for n in names}
    best = {n: float(m.values[n]) for n in names}
    for name in profile:
        d = errors[name]
        sigmas = []
        for sign in (1.0, -1.0):
            lo, hi = lims.get(name, (None, None))
            at = best[name] + sign * d
            if (lo is not None and at < lo) or (hi is not None and at > hi):
                continue
            mp = _minuit(cost, best | {name: at}, lims, {**fix, name: at})
            q = float(mp.fval) - float(m.fval)
            if q > 0:
                sigmas.append(d / math.sqrt(q))
        if sigmas:
            errors[name] = float(np.mean(sigmas))
    return Fit(
        values={n: float(m.values[n]) for n in names},
        errors=errors,
        cost=float(m.fval),
        n_free=int(sum(not m.fixed[n] for n in names)),
        n_bins=n_bins,
        valid=bool(m.valid),
        shapes={c: ("frozen" if isinstance(s, np.ndarray) else s.name)
                for c, s in components.items()},
    )


def expected_bins(fit_: Fit, hist_edges: np.ndarray,
                  components: dict[str, Shape | np.ndarray],
                  only: Sequence[str] | None = None) -> np.ndarray:
    """Expected Σw per bin of a fit (all components, or ``only`` these)."""
    model = Model(hist_edges, components)
    values = [fit_.values[n] for n in model.names]
    idx = {n: i for i, n in enumerate(model.names)}
    mu = np.zeros(len(hist_edges) - 1)
    for comp in only or components:
        mu = mu + values[idx[f"n_{comp}"]] * model.fractions(comp, values)
    return mu


# --- the building blocks of the spurious-signal test ---------------------------------------


@dataclasses.dataclass
class SignalShape:
    """The fitted signal shape: DSCB parameters and its bin fractions on ``edges``."""

    values: dict[str, float]
    errors: dict[str, float]
    fractions: np.ndarray
    edges: np.ndarray
    valid: bool

    def to_dict(self) -> dict[str, Any]:
        return {"shape": DoubleCrystalBall().name, "values": self.values,
                "errors": self.errors, "valid": self.valid}

    def density(self, m: np.ndarray) -> np.ndarray:
        """Unit-area density (per GeV over :data:`MASS_RANGE`) of the shape."""
        dscb = DoubleCrystalBall()
        vals = [self.values[f"sig_{p}"] for p in dscb.params]
        x, w = _nodes(tuple(float(v) for v in self.edges))
        area = float((dscb.density(x, *vals) * w).sum())
        return dscb.density(np.asarray(m, dtype=np.float64), *vals) / area


def fit_signal_shape(hist: Histogram) -> SignalShape:
    """Double-sided Crystal Ball fitted to signal simulation (weighted likelihood)."""
    if hist.n_effective < 20:
        raise EventLensError(f"signal shape fit: only {hist.n_effective:.0f} effective "
                             "signal events in the category")
    dscb = DoubleCrystalBall()
    f = fit(hist, {"sig": dscb})
    vals = [f.values[f"sig_{p}"] for p in dscb.params]
    fr = bin_fractions(lambda m: dscb.density(m, *vals), hist.edges)
    return SignalShape(values=f.values, errors=f.errors, fractions=fr, edges=hist.edges,
                       valid=f.valid)


@dataclasses.dataclass
class BackgroundChoice:
    """Every candidate's background-only fit, the F-test steps and the chosen function."""

    chosen: str
    fits: dict[str, Fit]
    ftest: list[dict[str, Any]]
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "rule": self.rule, "ftest": self.ftest,
                "candidates": {n: {"chi2_baker_cousins": f.cost, "n_free": f.n_free,
                                   "aic": f.aic, "valid": f.valid}
                               for n, f in self.fits.items()}}


RULE = ("Bernstein order by F-test (raise the order while 2*dNLL > 3.84, the chi2(1) 95 % "
        "quantile); then the lowest AIC = chi2_BakerCousins + 2k among exponential, power law "
        "and that Bernstein; background-only fits to the background simulation of the category")


def choose_background(hist: Histogram) -> BackgroundChoice:
    """Fit every candidate (background only) and choose by :data:`RULE`."""
    fits: dict[str, Fit] = {}
    previous: Fit | None = None
    for shape in background_shapes():
        f = fit(hist, {"bkg": shape})
        if isinstance(shape, Bernstein) and previous is not None:
            # Order n+1 also starts from order n's minimum, raised exactly to degree n+1
            # (degree elevation): its fit can then never be worse than order n's, so the
            # F-test compares minima, not the luck of a start value.
            raised = fit(hist, {"bkg": shape}, start=elevate(previous, shape.order))
            f = raised if raised.cost < f.cost else f
        fits[shape.name] = f
        previous = f if isinstance(shape, Bernstein) else None
    ftest: list[dict[str, Any]] = []
    order = BERNSTEIN_ORDERS[0]
    for lo, hi in itertools.pairwise(BERNSTEIN_ORDERS):
        gain = fits[f"bernstein_{lo}"].cost - fits[f"bernstein_{hi}"].cost
        better = bool(gain > FTEST_THRESHOLD)
        ftest.append({"from": lo, "to": hi, "two_delta_nll": float(gain), "significant": better})
        if not better:
            break
        order = hi
    pool = ["exponential", "power_law", f"bernstein_{order}"]
    # By AIC alone: Minuit's validity flag (EDM, Hesse at a limit) flips on round-off for
    # fits that have converged to the same minimum, so it must not change the choice.
    chosen = min(pool, key=lambda n: (fits[n].aic, n))
    return BackgroundChoice(chosen=chosen, fits=fits, ftest=ftest, rule=RULE)


def elevate(fit_: Fit, order: int) -> dict[str, float]:
    """Start values for Bernstein order ``order`` that reproduce the order − 1 fit
    exactly (degree elevation): c'_k = (k/n) c_(k−1) + (1 − k/n) c_k, n = ``order``
    (:func:`fit` rescales them to its anchor); the yield unchanged."""
    n = order
    c = [fit_.values[f"bkg_c{k}"] for k in range(n)]
    raised = [(k / n) * (c[k - 1] if k > 0 else 0.0) + (1 - k / n) * (c[k] if k < n else 0.0)
              for k in range(n + 1)]
    out = {f"bkg_c{k}": v for k, v in enumerate(raised)}
    out["n_bkg"] = fit_.values["n_bkg"]
    return out


def background_fit_start(fit_: Fit, shape: Shape) -> dict[str, float]:
    """Start values for the ``bkg`` component of a signal + background fit."""
    return {f"bkg_{p}": fit_.values[f"bkg_{p}"] for p in shape.params} | {
        "n_bkg": fit_.values["n_bkg"]}


def fit_signal_plus_background(hist: Histogram, signal: np.ndarray, shape: Shape,
                               bkg_only: Fit | None = None, weighted: bool = True) -> Fit:
    """S + B fit with the signal shape frozen (bin fractions ``signal``), S free in sign."""
    start = {"n_sig": 0.0, **(background_fit_start(bkg_only, shape) if bkg_only else {})}
    total = max(hist.total, 1e-9)
    return fit(hist, {"sig": signal, "bkg": shape}, start=start,
               limits={"n_sig": (-total, total)}, weighted=weighted, profile=("n_sig",))


def expected_signal_error(background: np.ndarray, signal: np.ndarray, shape: Shape,
                          bkg_only: Fit, edges: np.ndarray = FIT_EDGES) -> float:
    """Statistical uncertainty on the fitted signal yield for data = the background
    expectation ``background`` (Σw per bin at the target luminosity; background-only
    Asimov), every background parameter free."""
    asimov = Histogram(edges, background, background)
    start = dataclasses.replace(bkg_only, values={**bkg_only.values,
                                                  "n_bkg": float(background.sum())})
    f = fit_signal_plus_background(asimov, signal, shape, start, weighted=False)
    return f.errors["n_sig"]


def asimov_significance(s_expected: float, background: np.ndarray, signal: np.ndarray,
                        shape: Shape, bkg_only: Fit, spurious: float = 0.0,
                        edges: np.ndarray = FIT_EDGES) -> dict[str, float]:
    """Median discovery significance Z = √q0 on Asimov data s + b (Cowan et al. 2011),
    the background shape and yield profiled and, when ``spurious`` ≠ 0, a signal-shaped
    term θ·|spurious| with θ ~ N(0, 1) that the background-only hypothesis may use: the
    spurious signal as a systematic on the signal yield."""
    data = background + s_expected * signal
    asimov = Histogram(edges, data, data)
    start = {**background_fit_start(bkg_only, shape), "n_bkg": float(background.sum())}
    spur = abs(float(spurious))
    if spur > 0:
        # The spurious term's yield is θ·S_spur: a parameter "n_spur" = θ·S_spur with a
        # Gaussian constraint of width S_spur around 0 is the same likelihood.
        f0 = fit(asimov, {"spur": signal, "bkg": shape}, start={**start, "n_spur": 0.0},
                 limits={"n_spur": (-10 * spur - 10 * s_expected - 1, 10 * spur
                                    + 10 * s_expected + 1)},
                 weighted=False, constraints={"n_spur": (0.0, spur)})
    else:
        f0 = fit(asimov, {"bkg": shape}, start=start, weighted=False)
    q0 = max(f0.cost, 0.0)  # the S+B hypothesis reproduces the Asimov data: cost 0
    return {"z": math.sqrt(q0), "q0": q0, "valid": f0.valid}
