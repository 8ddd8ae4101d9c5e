"""The binned profile-likelihood fit: pyhf (numpy backend, MINUIT), cabinetry for yields.

:func:`fit` minimises −2 ln L of a pyhf model with MIGRAD, takes the covariance
from HESSE and, for the POI, the asymmetric interval from MINOS (the Δ(−2 ln L)
= 1 crossings of the profile likelihood).  :func:`run_fit` is the whole
``eventlens fit`` measurement: the fit to the data (or to the Asimov data with
``asimov=True``), a second fit to the pre-fit Asimov data at μ = 1 for the
*expected* uncertainty, the pulls and constraints of every nuisance parameter
and the impact ranking (cabinetry's definition: refit with one parameter fixed
at its best-fit value ± its pre-fit and post-fit uncertainty; the shift of μ is
the impact).  :func:`fit_toys` fits pseudo-experiments sampled from a model
(closure tests).

Interpolation: ``code4`` for normsys, ``code4p`` for histosys (see
:data:`~eventlens.stats.workspace.MODIFIER_SETTINGS`).  The backend is set to
numpy + MINUIT for the duration of a call and restored afterwards.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import POI
from .workspace import MODIFIER_SETTINGS

log = logging.getLogger(__name__)

#: MINUIT tolerance (EDM < 0.002 · tolerance): tighter than pyhf's 0.1 default, so
#: that impacts of small nuisance parameters are not minimiser noise.
TOLERANCE = 0.01


@contextlib.contextmanager
def numpy_minuit(strategy: int | None = None) -> Iterator[None]:
    """pyhf's numpy backend with the MINUIT optimiser, restoring the previous backend.

    ``strategy`` None is pyhf's choice (1 with numerical gradients); 0 saves ~40 %
    of the function calls and suits refits that start next to the minimum.
    """
    import pyhf

    previous = pyhf.get_backend()
    pyhf.set_backend(
        "numpy",
        pyhf.optimize.minuit_optimizer(tolerance=TOLERANCE, strategy=strategy, verbose=0),
    )
    try:
        yield
    finally:
        pyhf.set_backend(*previous)


def pyhf_model(spec: dict[str, Any]) -> tuple[Any, list[float]]:
    """(pyhf model, observed data with auxdata) of a workspace spec."""
    import pyhf

    ws = pyhf.Workspace(spec)
    model = ws.model(modifier_settings=MODIFIER_SETTINGS)
    return model, list(ws.data(model))


@dataclass
class FitResult:
    """Best-fit values, HESSE errors, correlations and the minimiser's status."""

    labels: list[str]
    bestfit: np.ndarray
    uncertainty: np.ndarray
    corr: np.ndarray
    twice_nll: float
    converged: bool
    status: dict[str, Any]
    minos: dict[str, tuple[float, float]] = field(default_factory=dict)

    def index(self, name: str) -> int:
        return self.labels.index(name)

    def value(self, name: str) -> float:
        return float(self.bestfit[self.index(name)])

    def error(self, name: str) -> float:
        return float(self.uncertainty[self.index(name)])

    def cabinetry(self) -> Any:
        """As ``cabinetry.fit.FitResults`` (for ``cabinetry.model_utils.prediction``)."""
        from cabinetry.fit.results_containers import FitResults

        return FitResults(
            np.asarray(self.bestfit),
            np.asarray(self.uncertainty),
            list(self.labels),
            np.asarray(self.corr),
            float(self.twice_nll),
            minos_uncertainty=dict(self.minos),
        )


def fit(
    model: Any,
    data: Sequence[float],
    *,
    init: Sequence[float] | None = None,
    fixed: Sequence[bool] | None = None,
    minos: Sequence[str] = (),
    strategy: int | None = None,
) -> FitResult:
    """Maximum-likelihood fit of ``model`` to ``data`` (main + auxdata).

    A fit MIGRAD does not converge is returned with ``converged=False`` and the
    minimiser's message, not raised: the caller reports it.  ``strategy``: MINUIT's
    (None: pyhf's default).
    """
    import pyhf

    labels = list(model.config.par_names)
    fixed_list = list(model.config.suggested_fixed() if fixed is None else fixed)
    with numpy_minuit(strategy):
        try:
            result, corr, twice_nll, obj = pyhf.infer.mle.fit(
                list(data),
                model,
                init_pars=None if init is None else list(init),
                fixed_params=fixed_list,
                return_uncertainties=True,
                return_correlations=True,
                return_fitted_val=True,
                return_result_obj=True,
            )
        except pyhf.exceptions.FailedMinimization as exc:
            res = exc.result
            m = getattr(res, "minuit", None)
            n = len(labels)
            return FitResult(
                labels,
                np.asarray(res.x, dtype=float),
                np.full(n, np.nan),
                np.full((n, n), np.nan),
                float(res.fun) if getattr(res, "fun", None) is not None else float("nan"),
                False,
                _status(m, str(res.message)),
            )
        m = obj.minuit
        result = np.asarray(result, dtype=float)
        corr = _hesse_unbounded(m, np.asarray(corr, dtype=float))
        # fixed parameters have no error (iminuit reports their step size)
        uncertainty = np.where(np.asarray(fixed_list), 0.0, np.asarray(m.errors))
        minos_out: dict[str, tuple[float, float]] = {}
        # MINOS needs a valid minimum (iminuit raises otherwise): an invalid one is
        # reported as not converged, without an interval
        for name in minos if m.valid else ():
            m.minos(name)
            me = m.merrors[name]
            minos_out[name] = (float(me.lower), float(me.upper))
        status = _status(m, str(obj.message))
        if minos:
            status["minos_valid"] = bool(m.valid) and all(m.merrors[n].is_valid for n in minos)
    return FitResult(
        labels,
        result[:, 0],
        uncertainty,
        np.asarray(corr, dtype=float),
        float(twice_nll),
        bool(obj.success and m.valid),
        status,
        minos_out,
    )


def _hesse_unbounded(m: Any, corr: np.ndarray) -> np.ndarray:
    """Rerun HESSE with the limits of parameters more than 1 σ from them released.

    MINUIT maps a bounded parameter through a sine; HESSE's finite differences in
    that internal coordinate misstate the error (μ = 2 in [0, 10] of a counting
    experiment: 1.2 % too small).  Away from its limits a parameter needs none,
    so HESSE is redone in the plain coordinates; a parameter near a limit keeps
    it.  Returns the new correlation matrix (the old one if HESSE fails).
    """
    limits = [tuple(lim) for lim in m.limits]
    released = []
    for i, (lo, hi) in enumerate(limits):
        v, e = m.values[i], m.errors[i]
        near = (np.isfinite(lo) and v - lo < e) or (np.isfinite(hi) and hi - v < e)
        released.append((lo, hi) if near or m.fixed[i] else (-np.inf, np.inf))
    if released == limits:
        return corr
    m.limits = released
    try:
        m.hesse()
        if not m.accurate:
            raise ValueError("inaccurate covariance")
        return np.asarray(m.covariance.correlation(), dtype=float)
    except (RuntimeError, ValueError) as exc:
        log.warning("HESSE without parameter limits failed (%s): keeping the bounded one", exc)
        m.limits = limits
        m.hesse()
        return corr
    finally:
        m.limits = limits


def _status(m: Any, message: str) -> dict[str, Any]:
    if m is None:
        return {"message": message}
    fmin = m.fmin
    return {
        "message": message,
        "valid_minimum": bool(fmin.is_valid),
        "accurate_covariance": bool(fmin.has_accurate_covar),
        "edm": float(fmin.edm),
        "nfcn": int(fmin.nfcn),
        "strategy": int(m.strategy.strategy),
    }


def parameter_types(model: Any) -> dict[str, str]:
    """``{parameter label: kind}``, kind one of poi, normfactor, lnN, shape, staterror."""
    kinds: dict[str, set[str]] = {}
    for name, mtype in model.config.modifiers:
        kinds.setdefault(name, set()).add(mtype)
    out = {}
    for label in model.config.par_names:
        base = label.split("[")[0]
        types = kinds.get(base, set())
        if base == model.config.poi_name:
            out[label] = "poi"
        elif "histosys" in types:
            out[label] = "shape"
        elif "normsys" in types:
            out[label] = "lnN"
        elif "staterror" in types:
            out[label] = "staterror"
        else:
            out[label] = "normfactor"
    return out


def prefit_parameters(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Nominal values and pre-fit (constraint) widths of every parameter (cabinetry's)."""
    from cabinetry import model_utils

    return model_utils.asimov_parameters(model), model_utils.prefit_uncertainties(model)


def asimov_data(model: Any, mu: float = 1.0) -> list[float]:
    """Pre-fit Asimov data (nominal nuisance parameters, μ = ``mu``), with auxdata."""
    from cabinetry import model_utils

    return list(model_utils.asimov_data(model, poi_value=mu))


def pulls(model: Any, result: FitResult) -> dict[str, dict[str, Any]]:
    """Per parameter: value, error, pre-fit value and width, pull and constraint.

    pull = (θ̂ − θ₀)/σ_pre and constraint = σ̂/σ_pre for constrained parameters;
    None for free ones (μ, floating normalisations).
    """
    nominal, width = prefit_parameters(model)
    kinds = parameter_types(model)
    fixed = model.config.suggested_fixed()
    out = {}
    for i, label in enumerate(result.labels):
        w = float(width[i])
        free = w == 0.0
        out[label] = {
            "type": kinds[label],
            "value": float(result.bestfit[i]),
            "error": float(result.uncertainty[i]),
            "prefit_value": float(nominal[i]),
            "prefit_error": w,
            "fixed": bool(fixed[i]),
            "pull": None if free else float((result.bestfit[i] - nominal[i]) / w),
            "constraint": None if free else float(result.uncertainty[i] / w),
        }
    return out


def impacts(
    model: Any, data: Sequence[float], result: FitResult, include_staterror: bool = False
) -> list[dict[str, Any]]:
    """Impact of the nuisance parameters on μ, largest post-fit impact first.

    For parameter θ: four refits with θ fixed at θ̂ ± σ_pre and θ̂ ± σ̂ (pre- and
    post-fit); the impact is μ of the refit minus μ̂ (cabinetry's ranking).
    Free normalisations have no pre-fit width: their pre-fit impacts are None.
    The per-bin MC-statistics parameters (one per bin and region: most of the
    cost) are ranked only with ``include_staterror``.  Refits start at the best
    fit and use MINUIT strategy 0.
    """
    poi = result.index(POI)
    mu_hat = result.bestfit[poi]
    _, width = prefit_parameters(model)
    fixed = list(model.config.suggested_fixed())
    kinds = parameter_types(model)
    rows = []
    for i, label in enumerate(result.labels):
        if i == poi or fixed[i] or (kinds[label] == "staterror" and not include_staterror):
            continue
        fix = fixed.copy()
        fix[i] = True
        shifts: dict[str, float | None] = {}
        for key, delta in (
            ("prefit_up", width[i]),
            ("prefit_down", -width[i]),
            ("postfit_up", result.uncertainty[i]),
            ("postfit_down", -result.uncertainty[i]),
        ):
            if delta == 0 or not np.isfinite(delta):
                shifts[key] = None
                continue
            init = result.bestfit.copy()
            init[i] = result.bestfit[i] + delta
            refit = fit(model, data, init=init, fixed=fix, strategy=0)
            shifts[key] = float(refit.bestfit[poi] - mu_hat) if refit.converged else float("nan")
        rows.append({"parameter": label, "type": kinds[label], **shifts})
    rows.sort(key=lambda r: -max(abs(r["postfit_up"] or 0.0), abs(r["postfit_down"] or 0.0)))
    return rows


def _mu_summary(result: FitResult) -> dict[str, Any]:
    down, up = result.minos.get(POI, (float("nan"), float("nan")))
    return {
        "mu": result.value(POI),
        "mu_err": result.error(POI),
        "mu_err_up": abs(up),
        "mu_err_down": abs(down),
    }


@dataclass
class Measurement:
    """Everything ``eventlens fit`` reports and plots (:meth:`summary` is fit.json)."""

    model: Any
    data: list[float]
    data_kind: str
    result: FitResult
    expected: FitResult
    pulls: dict[str, dict[str, Any]]
    impacts: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        r = self.result
        return {
            "poi": POI,
            "data": self.data_kind,
            **_mu_summary(r),
            "expected": {
                "asimov_mu": 1.0,
                **{k: v for k, v in _mu_summary(self.expected).items() if k != "mu"},
            },
            "status": {
                "converged": r.converged,
                "twice_nll": r.twice_nll,
                **r.status,
                "expected_converged": self.expected.converged,
            },
            "parameters": self.pulls,
            "impacts": self.impacts,
            "correlation": {
                "labels": r.labels,
                "matrix": np.round(r.corr, 6).tolist(),
            },
        }


def run_fit(
    spec: dict[str, Any],
    *,
    asimov: bool = False,
    with_impacts: bool = True,
    impacts_staterror: bool = False,
) -> Measurement:
    """Fit a workspace the way ``eventlens fit`` does (see module docstring)."""
    model, observed = pyhf_model(spec)
    expected_data = asimov_data(model, 1.0)
    data = expected_data if asimov else observed
    log.info(
        "fitting %d parameters to %s",
        len(model.config.par_names),
        "the Asimov data" if asimov else "the data",
    )
    result = fit(model, data, minos=(POI,))
    if not result.converged:
        log.error("the fit did not converge: %s", result.status.get("message"))
    expected = result if asimov else fit(model, expected_data, minos=(POI,))
    ranking = (
        impacts(model, data, result, include_staterror=impacts_staterror)
        if with_impacts and result.converged
        else []
    )
    return Measurement(
        model,
        data,
        "asimov" if asimov else "observed",
        result,
        expected,
        pulls(model, result),
        ranking,
    )


@contextlib.contextmanager
def _seeded_global_numpy(seed: int) -> Iterator[None]:
    """pyhf's numpy backend samples through scipy's global RandomState: seed it for
    the duration and put the caller's state back, so toys are reproducible and the
    rest of the program is unaffected."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def fit_toys(spec: dict[str, Any], mu: float, n_toys: int, seed: int) -> dict[str, np.ndarray]:
    """Fit ``n_toys`` pseudo-experiments drawn from the model at μ = ``mu``.

    Each toy draws the main data (Poisson) and the auxiliary data (the
    constraint terms) from the model with nominal nuisance parameters; returns
    arrays ``mu_hat``, ``mu_err`` (HESSE) and ``converged``.
    """
    import pyhf

    model, _ = pyhf_model(spec)
    pars = np.asarray(prefit_parameters(model)[0], dtype=float)
    pars[model.config.poi_index] = mu
    with numpy_minuit(), _seeded_global_numpy(seed):
        toys = np.asarray(model.make_pdf(pyhf.tensorlib.astensor(pars)).sample((n_toys,)))
    out = {k: np.empty(n_toys) for k in ("mu_hat", "mu_err", "converged")}
    for i, toy in enumerate(toys):
        r = fit(model, toy, strategy=0)
        out["mu_hat"][i] = r.value(POI)
        out["mu_err"][i] = r.error(POI)
        out["converged"][i] = r.converged
    out["converged"] = out["converged"].astype(bool)
    return out
