"""One binned statistical model, built once, written three ways.

:func:`build_model` turns contract histograms (:mod:`eventlens.stats.io`) and a
fit model (:mod:`eventlens.stats.config`) into a :class:`StatModel`; the
combine shapes file, the datacard and the pyhf workspace are all written from
that one object, so they describe the same model:

- **samples**: the run's processes, or sums of them where the fit model's
  ``samples`` says so (tt̄ from its semileptonic-e, semileptonic-μ and dilepton
  datasets: one signal, one μ), as cabinetry composes a sample of several inputs;
- **regions** (combine bins, pyhf channels): the ``region`` categories, in the
  histogram's order (or the fit model's ``regions``);
- **processes** per region: every simulated process with a non-zero nominal
  yield there; the signal first (combine process index 0), then the
  backgrounds (1, 2, …) in the histogram's order.  A process with no yield in a
  region is left out of that region in all three outputs (logged);
- **observation**: the ``data`` process's nominal histogram; without one,
  the Asimov prediction (nominal parameters, μ = 1), said in the log and in
  :attr:`StatModel.observation`;
- **μ** (combine's ``r``, pyhf's ``mu``): a free factor on the signal;
- **lnN** normalisations (``lumi`` and the fit model's ``normalisations``):
  κ = 1 + u, i.e. a yield factor κ^θ — combine's ``lnN`` and pyhf ``normsys``
  with hi = κ, lo = 1/κ;
- **template systematics** from the ``<syst>Up/Down`` variations: combine
  ``shape`` (normalisation as an asymmetric log-normal from the template
  integrals, shape from the normalised templates), and in pyhf the same split,
  as cabinetry does: ``normsys`` (hi = N_up/N, lo = N_down/N) + ``histosys`` of
  the templates scaled to the nominal integral, one parameter.  A variation
  identical to the nominal (or unfilled, i.e. all zero) for a process does not
  act on it.  A systematic with only ``Up`` is mirrored (down = 2·nominal − up);
  one whose Up or Down keeps less than :data:`PRUNE_RATIO` of a template's yield
  (a sparse template emptied by a shift) is pruned for that template, with a warning;
- **floating** backgrounds: combine ``rateParam`` / pyhf ``normfactor``
  ``norm_<process>``;
- **MC statistics**: one Barlow–Beeston-lite parameter per bin (combine
  ``autoMCStats 0``, pyhf ``staterror``) from the Weight() variances.

Interpolation is a fit setting, not part of the files: the fit uses pyhf's
``code4`` (normsys) and ``code4p`` (histosys), the smooth polynomial schemes
closest to combine's.  Bins are the observable axis's bins (under/overflow
dropped unless ``include_flow``), optionally merged by ``rebin``; negative
bin contents (negative weights) are set to 0 with a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import hist
import numpy as np

from ..errors import ConfigError, EventLensError
from .config import FitModel
from .io import NOMINAL, HistogramSet, ProcessInfo

log = logging.getLogger(__name__)

POI = "mu"
LUMI = "lumi"
#: A template systematic whose Up or Down keeps less than this fraction of the nominal
#: yield is pruned for that template (see :func:`_variation_pair`).
PRUNE_RATIO = 1e-3
#: Names combine and pyhf both accept (combine splits datacard lines on whitespace,
#: shapes paths on "/" and the ``$PROCESS_$SYSTEMATIC`` pattern on nothing else).
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def norm_parameter(process: str) -> str:
    """Name of a floating background's free normalisation (rateParam / normfactor)."""
    return f"norm_{process}"


@dataclass
class Template:
    """One process in one region: nominal sums of weights, their variances, variations."""

    nominal: np.ndarray
    variance: np.ndarray
    #: systematic -> (up, down) bin contents
    variations: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return float(self.nominal.sum())


@dataclass
class Region:
    name: str
    edges: np.ndarray
    observed: np.ndarray
    templates: dict[str, Template]  # process -> template, signal first


@dataclass
class StatModel:
    """The binned model (see module docstring); written by shapes/datacard/workspace."""

    regions: list[Region]
    signal: str
    backgrounds: list[str]
    #: lnN nuisance -> {process: kappa}
    lnn: dict[str, dict[str, float]]
    shape_systematics: list[str]
    floating: list[str]
    mc_stat: bool
    norm_bounds: tuple[float, float]
    poi_bounds: tuple[float, float]
    observable: str
    observable_label: str
    #: "data" (the histograms' data) or "asimov" (no data in the histograms)
    observation: str
    labels: dict[str, str]
    luminosity_pb: float | None = None
    real_data: bool = False

    @property
    def processes(self) -> list[str]:
        return [self.signal, *self.backgrounds]

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(name)

    def prediction(self, region: Region, mu: float = 1.0) -> np.ndarray:
        """Nominal expected contents of ``region`` with signal strength ``mu``."""
        total = np.zeros(len(region.edges) - 1)
        for proc, t in region.templates.items():
            total = total + (mu if proc == self.signal else 1.0) * t.nominal
        return total


def group_processes(hset: HistogramSet, samples: dict[str, tuple[str, ...]]) -> HistogramSet:
    """``hset`` with each fit sample's member processes summed into one ``process``
    category named after the sample (values and variances add; the other processes
    unchanged, in their order).  Members the run does not have are skipped, so one fit
    model serves a muon-only run and a run with both lepton flavours."""
    if not samples:
        return hset
    member_of = {proc: name for name, members in samples.items() for proc in members}
    hists: dict[str, hist.Hist] = {}
    names: list[str] = []
    for key, h in hset.histograms.items():
        old = list(h.axes["process"])
        data = [p for p in old if p in member_of and hset.info(p).data]
        if data:
            raise ConfigError(
                f"fit model: 'samples.{member_of[data[0]]}' includes the data process {data[0]!r}"
            )
        names = list(dict.fromkeys(member_of.get(p, p) for p in old))
        axes = [hist.axis.StrCategory(names, name="process", label=h.axes["process"].label),
                *h.axes[1:]]
        out = hist.Hist(*axes, storage=hist.storage.Weight())
        src, dst = h.view(flow=True), out.view(flow=True)
        for i, proc in enumerate(old):
            j = names.index(member_of.get(proc, proc))
            dst.value[j] += src.value[i]
            dst.variance[j] += src.variance[i]
        hists[key] = out
    processes = dict(hset.processes)
    for name, members in samples.items():
        processes[name] = ProcessInfo(
            label=name, signal=any(hset.info(m).signal for m in members if m in hset.processes)
        )
        for m in members:
            if m != name:
                processes.pop(m, None)
    return HistogramSet(hists, processes, hset.luminosity_pb, hset.task, hset.real_data)


def choose_signal(hset: HistogramSet, fit_model: FitModel, signal: str | None) -> str:
    """``signal`` (command line) > the fit model's ``signal`` > the one process the run marked."""
    if signal:
        return signal
    if fit_model.signal:
        return fit_model.signal
    marked = [p for p, info in hset.processes.items() if info.signal and not info.data]
    if len(marked) == 1:
        return marked[0]
    raise ConfigError(
        "no signal process: give --signal PROCESS or 'signal:' in the fit model "
        f"(the run marked {marked or 'none'} as signal)"
    )


def choose_observable(hset: HistogramSet, fit_model: FitModel, observable: str | None) -> str:
    name = observable or fit_model.observable
    if name is None:
        if len(hset.histograms) != 1:
            raise ConfigError(
                f"several histograms ({', '.join(hset.histograms)}): choose one with "
                "--observable or 'observable:' in the fit model"
            )
        (name,) = hset.histograms
    if name not in hset.histograms:
        raise ConfigError(f"no histogram {name!r} in the run (it has {', '.join(hset.histograms)})")
    return name


def _check_name(kind: str, name: str) -> None:
    bad_suffix = kind == "systematic" and name.endswith(("Up", "Down"))
    if not _NAME.match(name) or bad_suffix:
        raise EventLensError(
            f"{kind} name {name!r} cannot be used in a datacard/workspace: use letters, digits, "
            "'_', '.', '-' (starting with a letter)"
            + ("; a systematic name must not end in Up/Down" if kind == "systematic" else "")
        )


def split_variations(names: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """``{syst: (up category, down category)}`` from the variation axis (nominal excluded)."""
    out: dict[str, list[str | None]] = {}
    for v in names:
        if v == NOMINAL:
            continue
        if v.endswith("Up"):
            out.setdefault(v[:-2], [None, None])[0] = v
        elif v.endswith("Down"):
            out.setdefault(v[:-4], [None, None])[1] = v
        else:
            raise EventLensError(f"variation {v!r} is neither 'nominal' nor '<systematic>Up/Down'")
    return {k: (u, d) for k, (u, d) in out.items()}


def _contents(h1: hist.Hist, rebin: int, flow: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, variances, edges) of a 1D weighted histogram, flow folded, bins merged."""
    values = np.asarray(h1.values(flow=True), dtype=np.float64)
    variances = np.asarray(h1.variances(flow=True), dtype=np.float64)
    ax = h1.axes[0]
    lo = 1 if ax.traits.underflow else 0
    n = ax.size
    v, w = values[lo : lo + n].copy(), variances[lo : lo + n].copy()
    if flow:
        if ax.traits.underflow:
            v[0] += values[0]
            w[0] += variances[0]
        if ax.traits.overflow:
            v[-1] += values[lo + n]
            w[-1] += variances[lo + n]
    edges = np.asarray(ax.edges, dtype=np.float64)
    if rebin > 1:
        if n % rebin:
            raise ConfigError(
                f"rebin {rebin} does not divide the {n} bins of the observable {ax.name!r}"
            )
        v = v.reshape(-1, rebin).sum(axis=1)
        w = w.reshape(-1, rebin).sum(axis=1)
        edges = edges[::rebin]
    return v, w, edges


def build_model(
    hset: HistogramSet,
    fit_model: FitModel,
    *,
    signal: str | None = None,
    observable: str | None = None,
) -> StatModel:
    """The :class:`StatModel` of ``hset`` under ``fit_model`` (rules: module docstring)."""
    src = fit_model.source or "fit model"
    hset = group_processes(hset, fit_model.samples)
    obs = choose_observable(hset, fit_model, observable)
    h = hset.histograms[obs]
    sig = choose_signal(hset, fit_model, signal)
    processes = list(h.axes["process"])
    data_procs = [p for p in processes if hset.info(p).data]
    mc = [p for p in processes if p not in data_procs]
    if sig not in mc:
        raise ConfigError(
            f"signal {sig!r} is not a simulated process of histogram {obs!r} "
            f"(processes: {', '.join(mc) or 'none'})"
        )
    for proc in mc:
        _check_name("process", proc)
    backgrounds = [p for p in mc if p != sig]
    for proc in fit_model.floating:
        if proc not in backgrounds:
            raise ConfigError(
                f"{src}: 'floating' names {proc!r}, not a background here "
                f"({', '.join(backgrounds)})"
            )
    for name, per in fit_model.normalisations.items():
        _check_name("systematic", name)
        for proc in per:
            if proc not in mc:
                raise ConfigError(
                    f"{src}: 'normalisations.{name}.{proc}': no simulated process {proc!r} "
                    f"(processes: {', '.join(mc)})"
                )
    variations = split_variations(list(h.axes["variation"]))
    if NOMINAL not in h.axes["variation"]:
        raise EventLensError(f"histogram {obs!r} has no 'nominal' variation")
    wanted = (
        list(variations)
        if fit_model.shape_systematics is None
        else list(fit_model.shape_systematics)
    )
    for syst in wanted:
        if syst not in variations:
            raise ConfigError(
                f"{src}: shape systematic {syst!r} is not among the histogram's variations "
                f"({', '.join(variations) or 'none'})"
            )
        _check_name("systematic", syst)
        if syst == LUMI or syst in fit_model.normalisations:
            raise ConfigError(f"{src}: {syst!r} is both a shape and a normalisation systematic")
    all_regions = list(h.axes["region"])
    region_names = list(fit_model.regions) if fit_model.regions is not None else all_regions
    for r in region_names:
        if r not in all_regions:
            raise ConfigError(
                f"{src}: region {r!r} is not in histogram {obs!r} ({', '.join(all_regions)})"
            )
        _check_name("region", r)

    def contents(proc: str, region: str, variation: str) -> tuple[np.ndarray, ...]:
        one = h[
            {
                "process": hist.loc(proc),
                "region": hist.loc(region),
                "variation": hist.loc(variation),
            }
        ]
        return _contents(one, fit_model.rebin, fit_model.include_flow)

    regions: list[Region] = []
    used_systs: set[str] = set()
    for rname in region_names:
        templates: dict[str, Template] = {}
        edges = None
        for proc in [sig, *backgrounds]:
            nom, var, edges = contents(proc, rname, NOMINAL)
            nom = _clip_negative(nom, f"{rname}/{proc}")
            if nom.sum() <= 0:
                log.info("region %s: process %s has no yield there, left out", rname, proc)
                continue
            t = Template(nom, var)
            for syst in wanted:
                up_name, down_name = variations[syst]
                up = contents(proc, rname, up_name)[0] if up_name else None
                down = contents(proc, rname, down_name)[0] if down_name else None
                pair = _variation_pair(nom, up, down, f"{rname}/{proc}/{syst}")
                if pair is not None:
                    t.variations[syst] = pair
                    used_systs.add(syst)
            templates[proc] = t
        if sig not in templates:
            log.warning("region %s: no signal yield", rname)
        if not templates:
            log.warning("region %s: no simulated yield at all, left out", rname)
            continue
        observed = np.zeros(len(edges) - 1)
        for proc in data_procs:
            observed = observed + contents(proc, rname, NOMINAL)[0]
        regions.append(Region(rname, edges, observed, templates))
    if not regions:
        raise EventLensError(f"histogram {obs!r}: no region has a simulated yield")
    if not any(sig in r.templates for r in regions):
        raise EventLensError(f"signal {sig!r} has no yield in any region of {obs!r}")

    observation = "data"
    if not data_procs:
        observation = "asimov"
        log.warning("no data in the histograms: the observation is the Asimov prediction (mu=1)")
    model_processes = [p for p in [sig, *backgrounds] if any(p in r.templates for r in regions)]
    lnn: dict[str, dict[str, float]] = {}
    if fit_model.luminosity_uncertainty > 0:
        lnn[LUMI] = {
            p: 1.0 + fit_model.luminosity_uncertainty
            for p in model_processes
            if p not in fit_model.floating
        }
    for name, per in fit_model.normalisations.items():
        lnn[name] = {p: 1.0 + u for p, u in per.items() if p in model_processes}
    model = StatModel(
        regions=regions,
        signal=sig,
        backgrounds=[p for p in backgrounds if p in model_processes],
        lnn={k: v for k, v in lnn.items() if v},
        shape_systematics=[s for s in wanted if s in used_systs],
        floating=[p for p in fit_model.floating if p in model_processes],
        mc_stat=fit_model.mc_stat,
        norm_bounds=fit_model.norm_bounds,
        poi_bounds=fit_model.poi_bounds,
        observable=obs,
        observable_label=h.axes[3].label or obs,
        observation=observation,
        labels={p: hset.label(p) for p in processes},
        luminosity_pb=hset.luminosity_pb,
        real_data=hset.real_data,
    )
    if observation == "asimov":
        for r in model.regions:
            r.observed = model.prediction(r, 1.0)
    _check_observed(model)
    return model


def _clip_negative(values: np.ndarray, where: str) -> np.ndarray:
    if (values < 0).any():
        log.warning("%s: %d bins with negative content set to 0", where, int((values < 0).sum()))
        return np.clip(values, 0.0, None)
    return values


def _variation_pair(
    nominal: np.ndarray, up: np.ndarray | None, down: np.ndarray | None, where: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """(up, down) that act on this template, or None when the systematic does not."""

    def acts(v: np.ndarray | None) -> bool:
        return v is not None and bool(v.any()) and not np.array_equal(v, nominal)

    if not acts(up) and not acts(down):
        return None
    if not acts(down):  # one-sided: mirror
        assert up is not None
        log.info("%s: only Up given, Down mirrored (2*nominal - Up)", where)
        down = 2.0 * nominal - up
    elif not acts(up):
        assert down is not None
        log.info("%s: only Down given, Up mirrored (2*nominal - Down)", where)
        up = 2.0 * nominal - down
    assert up is not None and down is not None
    up, down = _clip_negative(up, where + "Up"), _clip_negative(down, where + "Down")
    ratio = min(up.sum(), down.sum()) / nominal.sum()
    if ratio < PRUNE_RATIO:
        # A shifted pass that moves the few simulated events of a sparse template out of it
        # (or, mirrored, doubles it) says nothing about the shape: pruned, as analyses do.
        log.warning(
            "%s: pruned (a variation keeps %.2g of the nominal yield %.3g: too few simulated "
            "events in this template to describe it)",
            where,
            ratio,
            nominal.sum(),
        )
        return None
    return up, down


def _check_observed(model: StatModel) -> None:
    """Observed events where the model predicts none cannot be fitted: say where."""
    for r in model.regions:
        empty = (model.prediction(r, 1.0) <= 0) & (r.observed > 0)
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise EventLensError(
                f"region {r.name}: {r.observed[i]:g} observed events in bin "
                f"[{r.edges[i]:g}, {r.edges[i + 1]:g}) where the simulation predicts none; "
                "use a coarser binning ('rebin' in the fit model) or a narrower range"
            )
