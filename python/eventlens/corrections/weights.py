"""Scale factors → per-event weights with up/down variations (``coffea.analysis_tools.Weights``).

:class:`ScaleFactors` opens the correctionlib files of a
:class:`~eventlens.corrections.config.CorrectionConfig` once and, for the
selected objects of a chunk, adds to a ``Weights``:

- per muon (electron) SF entry ``name``: the product over the event's selected
  muons (electrons) of SF(η or |η|, pT), with ``<name>Up``/``<name>Down`` from
  the up/down SFs (fully correlated between the leptons of an event);
- the b-tag weight of the fixed-working-point method (CMS BTV "1a")::

      w = Π_tagged SF_i · Π_untagged (1 − SF_i ε_i) / (1 − ε_i)

  over the jets within ``abs_eta_max`` (ε: the simulation's efficiency for the
  jet's flavour, pT, |η|; tagged: score ≥ ``threshold``), with two variations
  as BTV recommends: ``<name>_bcUp/Down`` (b and c SFs moved together) and
  ``<name>_lightUp/Down`` (light SFs), through ``Weights.add_multivariation``.

:func:`measure_btag_efficiency` fills the efficiency histogram from an
analysis's own simulation and :func:`efficiency_correction` turns it into the
correctionlib correction the config's ``btag.efficiency`` points at — the way
to get ε for the real CMS SFs (the generator's set ships exact ones).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import awkward as ak
import hist
import numpy as np

from ..errors import ConfigError, InputFileError
from .config import CorrectionConfig, Efficiency, LeptonSF

log = logging.getLogger(__name__)

#: Efficiencies are kept inside (0, 1) so that (1 − SF ε)/(1 − ε) stays finite.
_EFF_CLIP = 1e-6


class _Evaluator:
    """One correction of one file, called with named quantities (config ``inputs``)."""

    def __init__(
        self,
        cset: Any,
        name: str,
        inputs: Mapping[str, str],
        fixed: Mapping[str, str],
        file: str,
    ) -> None:
        names = sorted(cset.keys())  # "in" on a CorrectionSet raises for a missing name
        if name not in names:
            raise ConfigError(f"{file}: no correction {name!r} (it has {', '.join(names)})")
        self.corr = cset[name]
        self.where = f"{file}:{name}"
        self.order: list[tuple[str, str]] = []
        for var in self.corr.inputs:
            if var.name in fixed:
                value: Any = fixed[var.name]
                if var.type == "int":
                    value = int(value)
                elif var.type == "real":
                    value = float(value)
                self.order.append(("fixed", value))
            elif var.name in inputs:
                self.order.append(("quantity", inputs[var.name]))
            else:
                raise ConfigError(
                    f"{self.where}: input {var.name!r} is neither mapped in 'inputs' nor "
                    "'fixed' in the corrections config"
                )

    def __call__(self, **quantities: Any) -> np.ndarray:
        args = [value if kind == "fixed" else quantities[value] for kind, value in self.order]
        try:
            return np.asarray(self.corr.evaluate(*args), dtype=np.float64)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise InputFileError(f"{self.where}: evaluation failed ({exc})") from exc


def _open(path: Any) -> Any:
    import correctionlib

    try:
        return correctionlib.CorrectionSet.from_file(str(path))
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such correction file") from None
    except (RuntimeError, ValueError) as exc:
        raise InputFileError(f"{path}: not a correctionlib JSON file ({exc})") from exc


def _flat(array: ak.Array, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=dtype)


def _per_event(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Product over each event's objects of a flat per-object array."""
    return np.asarray(ak.prod(ak.unflatten(values, counts), axis=1), dtype=np.float64)


class ScaleFactors:
    """The configured SFs, evaluated per chunk (see module docstring)."""

    def __init__(self, config: CorrectionConfig) -> None:
        self.config = config
        files: dict[str, Any] = {}

        def cset(path: str) -> Any:
            resolved = config.resolve(path)
            if str(resolved) not in files:
                files[str(resolved)] = _open(resolved)
            return files[str(resolved)]

        def lepton(entries: tuple[LeptonSF, ...]) -> list[tuple[LeptonSF, _Evaluator]]:
            return [
                (m, _Evaluator(cset(m.file), m.correction, m.inputs, m.fixed, m.file))
                for m in entries
            ]

        self.muon = lepton(config.muon)
        self.electron = lepton(config.electron)
        self.btag: dict[str, _Evaluator] = {}
        self.efficiency: _Evaluator | None = None
        if config.btag is not None:
            b = config.btag
            self.btag = {
                flav: _Evaluator(cset(b.file), name, b.inputs, b.fixed, b.file)
                for flav, name in b.corrections.items()
            }
            eff: Efficiency = b.efficiency
            eff_file = eff.file or b.file
            self.efficiency = _Evaluator(
                cset(eff_file), eff.correction, eff.inputs, eff.fixed, eff_file
            )

    # ---- leptons ---------------------------------------------------------------------
    def muon_weights(self, muons: ak.Array) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``{name: (nominal, up, down)}`` per event for every configured muon SF."""
        return _lepton_weights(muons, self.muon)

    def electron_weights(
        self, electrons: ak.Array
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``{name: (nominal, up, down)}`` per event for every configured electron SF."""
        return _lepton_weights(electrons, self.electron)

    # ---- b-tagging -----------------------------------------------------------------
    def btag_weights(
        self, jets: ak.Array, btag_branch: str = "btagDeepFlavB"
    ) -> dict[str, np.ndarray]:
        """Per event: ``nominal`` and ``bc_up``/``bc_down``/``light_up``/``light_down``
        b-tag weights (fixed-WP formula, module docstring)."""
        b = self.config.btag
        if b is None or self.efficiency is None:
            raise ConfigError("no 'btag' block in the corrections config")
        counts = np.asarray(ak.num(jets, axis=1))
        pt, eta = _flat(jets.pt), _flat(jets.eta)
        flavour = _flat(jets.hadronFlavour, np.int64)
        score = _flat(jets[btag_branch])
        abseta = np.abs(eta)
        inside = abseta < b.abs_eta_max
        if not np.isin(flavour, (0, 4, 5)).all():
            bad = sorted(set(flavour[~np.isin(flavour, (0, 4, 5))].tolist()))
            raise InputFileError(f"jets with hadronFlavour {bad}: expected 0, 4 or 5")
        tagged = score >= b.threshold
        groups = {"b": flavour == 5, "c": flavour == 4, "light": flavour == 0}

        def evaluate(ev: _Evaluator, sel: np.ndarray, variation: str | None) -> np.ndarray:
            q = {
                "pt": pt[sel],
                "eta": eta[sel],
                "abseta": abseta[sel],
                "flavour": flavour[sel].astype(np.int32),
                "working_point": b.working_point,
                "variation": variation,
            }
            return ev(**q)

        eff = np.full(len(pt), 0.5)
        sel = inside
        if sel.any():
            eff[sel] = np.clip(evaluate(self.efficiency, sel, None), _EFF_CLIP, 1 - _EFF_CLIP)
        sf: dict[str, np.ndarray] = {}
        for key, v in (
            ("nominal", b.variations.nominal),
            ("up", b.variations.up),
            ("down", b.variations.down),
        ):
            arr = np.ones(len(pt))
            for flav, mask in groups.items():
                m = mask & inside
                if m.any():
                    arr[m] = evaluate(self.btag[flav], m, v)
            sf[key] = arr

        def weight(sfs: np.ndarray) -> np.ndarray:
            factor = np.where(tagged, sfs, (1.0 - sfs * eff) / (1.0 - eff))
            return _per_event(np.where(inside, factor, 1.0), counts)

        heavy = groups["b"] | groups["c"]
        out = {"nominal": weight(sf["nominal"])}
        for direction in ("up", "down"):
            out[f"bc_{direction}"] = weight(np.where(heavy, sf[direction], sf["nominal"]))
            out[f"light_{direction}"] = weight(np.where(heavy, sf["nominal"], sf[direction]))
        return out

    # ---- all -------------------------------------------------------------------------
    def add_to(
        self,
        weights: Any,
        muons: ak.Array | None = None,
        jets: ak.Array | None = None,
        btag_branch: str = "btagDeepFlavB",
        electrons: ak.Array | None = None,
    ) -> Any:
        """Add the configured SFs of these selected objects to a coffea ``Weights``."""
        for leptons, entries in ((muons, self.muon), (electrons, self.electron)):
            if leptons is None:
                continue
            for name, (nom, up, down) in _lepton_weights(leptons, entries).items():
                weights.add(name, nom, weightUp=up, weightDown=down)
        if jets is not None and self.config.btag is not None:
            w = self.btag_weights(jets, btag_branch)
            weights.add_multivariation(
                self.config.btag.name,
                w["nominal"],
                ["bc", "light"],
                [w["bc_up"], w["light_up"]],
                [w["bc_down"], w["light_down"]],
            )
        return weights

    def weights(
        self,
        muons: ak.Array | None = None,
        jets: ak.Array | None = None,
        btag_branch: str = "btagDeepFlavB",
        electrons: ak.Array | None = None,
    ) -> Any:
        """A new ``coffea.analysis_tools.Weights`` holding the configured SFs."""
        from coffea.analysis_tools import Weights

        given = [a for a in (muons, electrons, jets) if a is not None]
        n = len(given[0]) if given else 0
        return self.add_to(
            Weights(n, storeIndividual=True), muons, jets, btag_branch, electrons=electrons
        )


def _lepton_weights(
    leptons: ak.Array, entries: list[tuple[LeptonSF, _Evaluator]]
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{name: (nominal, up, down)}``: per event, the product over its leptons."""
    counts = np.asarray(ak.num(leptons, axis=1))
    pt, eta = _flat(leptons.pt), _flat(leptons.eta)
    out = {}
    for m, ev in entries:
        values = [
            _per_event(ev(pt=pt, eta=eta, abseta=np.abs(eta), variation=v), counts)
            for v in (m.variations.nominal, m.variations.up, m.variations.down)
        ]
        out[m.name] = (values[0], values[1], values[2])
    return out


# ---- b-tag efficiencies from an analysis's own simulation --------------------------------
#: Default binning of measured efficiencies (BTV-like).
EFF_PT_EDGES = (20.0, 30.0, 50.0, 70.0, 100.0, 140.0, 200.0, 300.0, 600.0, 1000.0)
EFF_ABSETA_EDGES = (0.0, 0.8, 1.6, 2.5)


def book_btag_efficiency(
    pt_edges: tuple[float, ...] = EFF_PT_EDGES, abseta_edges: tuple[float, ...] = EFF_ABSETA_EDGES
) -> hist.Hist:
    """Empty counts: tagged (0/1) × flavour × pT × |η| (weighted; mergeable across chunks)."""
    return (
        hist.Hist.new.IntCat([0, 1], name="tagged")
        .IntCat([0, 4, 5], name="flavor")
        .Variable(pt_edges, name="pt", underflow=False, overflow=False)
        .Variable(abseta_edges, name="abseta", underflow=False, overflow=False)
        .Weight()
    )


def measure_btag_efficiency(
    h: hist.Hist,
    jets: ak.Array,
    threshold: float,
    weight: np.ndarray | None = None,
    btag_branch: str = "btagDeepFlavB",
) -> hist.Hist:
    """Fill ``h`` (:func:`book_btag_efficiency`) with the selected simulated jets of a chunk;
    ``weight`` is the per-event weight (broadcast to its jets)."""
    counts = np.asarray(ak.num(jets, axis=1))
    w = np.ones(int(counts.sum())) if weight is None else np.repeat(np.asarray(weight), counts)
    ptv = np.clip(_flat(jets.pt), h.axes["pt"].edges[0], np.nextafter(h.axes["pt"].edges[-1], 0))
    h.fill(
        tagged=(_flat(jets[btag_branch]) >= threshold).astype(int),
        flavor=_flat(jets.hadronFlavour, np.int64),
        pt=ptv,
        abseta=np.abs(_flat(jets.eta)),
        weight=w,
    )
    return h


def efficiency_correction(
    h: hist.Hist, working_point: str, name: str = "btag_mc_efficiency"
) -> Any:
    """The measured efficiency (tagged / all per flavour, pT, |η|) as a correctionlib
    ``Correction`` with inputs ``working_point``, ``flavor``, ``abseta``, ``pt``
    (the generator set's layout); empty bins get the flavour's average."""
    from correctionlib import schemav2 as cs

    from .detector import efficiency_node_correction

    def content(flavor: int) -> cs.MultiBinning:
        num = h[{"tagged": hist.loc(1), "flavor": hist.loc(flavor)}].values()
        den = num + h[{"tagged": hist.loc(0), "flavor": hist.loc(flavor)}].values()
        average = num.sum() / den.sum() if den.sum() > 0 else 0.0
        eff = np.where(den > 0, num / np.where(den > 0, den, 1.0), average)
        return cs.MultiBinning(
            nodetype="multibinning",
            inputs=["abseta", "pt"],
            edges=[list(h.axes["abseta"].edges), list(h.axes["pt"].edges)],
            content=[float(x) for x in eff.T.ravel()],  # abseta rows, pt columns
            flow="clamp",
        )

    return efficiency_node_correction(
        name,
        "b-tag efficiency measured on the analysis's simulation",
        {working_point: {f: content(f) for f in (0, 4, 5)}},
    )
