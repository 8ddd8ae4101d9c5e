"""Systematic uncertainties of the measurement: event weights and shifted objects.

Two kinds, both filled by the inference processor (:mod:`.inference`) as
categories of the ``variation`` axis of the histogram contract
(:mod:`eventlens.stats.io`), in the same pass as the nominal:

**Weights** (:class:`EventWeights`, a ``coffea.analysis_tools.Weights`` per
chunk): ``norm`` = genWeight × σ × L / Σ genWeight (:mod:`.weights`, as every
run computes it) times the correctionlib scale factors of the selection
config's ``measurement.corrections`` (default: the generator's detector set,
``configs/corrections/eventlens_detector.yaml``; ``cms_2018_ul`` or a path for
the CMS POG files; see :mod:`eventlens.corrections`): muon ID/iso on the
selected (tight) muons, electron ID on the selected electrons, the
fixed-working-point b-tag weight on the selected jets.  Their Up/Down
variations are ``muon_idUp``, ``electron_idDown``, ``btag_bcDown``, ...  Data
gets weight 1 and no variation.  Cross-section and luminosity uncertainties are
not weights: they live in the fit model (``configs/fit/<task>.yaml``).

**Shapes** (:func:`vary`): the objects of the chunk are changed, the selection
is re-applied (:func:`eventlens.processors.task.analyse`: its own cutflow is
dropped, the nominal cutflow accounts for every event), the scale factors
recomputed on the newly selected objects, the events re-rendered and
re-classified.  Sizes from ``measurement.shapes`` (relative; 0 = off):

``jes``              jet pT and mass × (1 ± s), s = 0.02;
``jer``              one-sided: jets smeared further, pT × (1 + σ(pT, η)·√((1+s)²−1)·z),
                     s = 0.10, σ the generator's jet resolution
                     (:func:`eventlens.generate.jets.resolution`), z a standard normal drawn
                     from (run, luminosityBlock, event, jet index) — the same for every
                     executor and chunking.  Without generator-level jets nothing can be
                     made sharper, so there is only ``jerUp``; the fit model mirrors it;
``met_unclustered``  MET from NanoAOD's ``<MET>_pt/phiUnclusteredUp/Down`` (Run 3) or
                     ``MET_MetUnclustEnUpDeltaX/Y`` (Run 2, Down = −Δ) where the file has
                     them; otherwise *modelled*: the unclustered recoil
                     U = −MET − Σ(objects read) scaled by 1 ± s, s = 0.10 (the generator's
                     unclustered response resolution), i.e. MET ∓ s·U;
``muon_scale``       muon pT × (1 ± s), s = 0.002.

JES, JER and the muon scale are propagated to MET (type-1 style: MET −= Δp_T of
every jet above 15 GeV, of every muon).

**Cheap variations.**  The picture quantises: a circle's radius is
``floor(C·ln pT + 0.5)`` whole pixels and its centre a pixel of the (η, φ) grid
(``cpp/include/eventlens/render.h``), so a 2 % shift of pT moves the radius by
C·0.02 ≈ 0.03 pixel at C = 1.5 (the 32 × 32 DTW canvas) and changes it for ~3 %
of the circles.  Events selected in both the nominal and the varied pass whose
drawn objects all keep their class, centre and radius
(:meth:`eventlens.modelio.ModelInput.unchanged`, asked of the renderer's own
placement code without drawing) keep their nominal scores; only the others are
re-rendered and re-classified.  Which variations change the image at all:
JES (jet radii; MET radius and direction through the propagation), JER (same),
unclustered MET (the MET circle only), muon scale (muon radii, MET); a variation
can also change the picture by adding or removing an object (a jet crossing the
30 GeV cut) or the event (selected in one pass only).  The processor counts,
per variation, how many events were selected, shared with the nominal, kept
their picture, and were classified anew (``variations`` in ``inference.json``).
Table models (``dtw_ffn``) read every pT, so for them every shifted event is
re-classified.

Measured with the shipped ``dtw_compact_cnn`` on 6000 generated tt̄ events (seed 7,
``eventlens measurement-study``, docs/measurement.md), the fraction of the selected
events re-classified: jesUp/Down 0.26/0.26, jerUp 0.71, met_unclusteredUp/Down
0.22/0.23, muon_scaleUp/Down 0.021/0.017 — JES and JER reach the picture mostly
through MET (its direction is quantised to 2π/32 in φ), the muon scale almost never.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from eventlens.config.selection import TaskConfig, corrections_path

from .cuts import good_objects
from .inputs import Inputs
from .task import ChunkResult

log = logging.getLogger(__name__)

#: The shape systematics, in the order they are filled (``measurement.shapes`` keys).
SHAPES = ("jes", "jer", "met_unclustered", "muon_scale")
#: One-sided systematics (only ``Up``; the fit model mirrors them).
ONE_SIDED = ("jer",)
#: Jets above this pT enter MET (CMS type-1 correction threshold).
MET_JET_PT_MIN = 15.0
UP, DOWN = "Up", "Down"
NORM = "norm"


@dataclass(frozen=True)
class ShapeVariation:
    """One shifted pass: systematic ``name`` in ``direction`` (Up/Down) of relative ``size``."""

    name: str
    direction: str
    size: float

    @property
    def label(self) -> str:
        """The ``variation`` category: ``jesUp``, ``jerUp``, ..."""
        return f"{self.name}{self.direction}"

    @property
    def sign(self) -> float:
        return 1.0 if self.direction == UP else -1.0


def shape_variations(cfg: TaskConfig) -> list[ShapeVariation]:
    """The shape variations ``cfg`` switches on, in :data:`SHAPES` order."""
    out = []
    for name in SHAPES:
        size = cfg.measurement.shapes.get(name, 0.0)
        if size <= 0:
            continue
        out.append(ShapeVariation(name, UP, size))
        if name not in ONE_SIDED:
            out.append(ShapeVariation(name, DOWN, size))
    return out


# ---- weights -----------------------------------------------------------------------------
class EventWeights:
    """The nominal weight and the scale-factor variations of a chunk's selected events.

    Built once per processor from the selection config; the correctionlib files
    are opened lazily, once per worker process (the object pickles as its config).
    """

    def __init__(self, cfg: TaskConfig) -> None:
        self.cfg = cfg
        self.path = corrections_path(cfg)
        self._sf: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sf": None}

    @property
    def scale_factors(self) -> Any:
        """``eventlens.corrections.ScaleFactors`` of the config, or None (no corrections)."""
        if self._sf is None and self.path is not None:
            from eventlens.corrections import ScaleFactors, load_corrections

            self._sf = ScaleFactors(load_corrections(self.path))
        return self._sf

    def variations(self) -> list[str]:
        """The weight variations a simulated chunk gets, in a fixed order."""
        sf = self.scale_factors
        if sf is None:
            return []
        names = [m.name for m in sf.config.muon] if "muon" in self.cfg.objects else []
        if "electron" in self.cfg.objects:
            names += [m.name for m in sf.config.electron]
        if sf.config.btag is not None and "jet" in self.cfg.objects:
            names += [f"{sf.config.btag.name}_bc", f"{sf.config.btag.name}_light"]
        return [f"{n}{d}" for n in names for d in (UP, DOWN)]

    def of(self, result: ChunkResult, inputs: Inputs) -> Any:
        """``coffea.analysis_tools.Weights`` of the selected events of ``result``."""
        from coffea.analysis_tools import Weights

        weights = Weights(len(result.weight), storeIndividual=True)
        weights.add(NORM, result.weight)
        sf = self.scale_factors
        if sf is None or not inputs.is_simulation:
            return weights
        leptons = {}
        for block, entries in (("muon", sf.config.muon), ("electron", sf.config.electron)):
            if block in self.cfg.objects and entries:  # the selected (counted) leptons
                leptons[block] = good_objects(inputs[block], self.cfg.objects[block])[
                    result.selected
                ]
        jets = result.collections.get("Jet") if sf.config.btag is not None else None
        sf.add_to(
            weights,
            muons=leptons.get("muon"),
            jets=jets,
            btag_branch=self.cfg.btag.branch,
            electrons=leptons.get("electron"),
        )
        return weights


# ---- shifted objects -----------------------------------------------------------------------
def vary(inputs: Inputs, variation: ShapeVariation) -> tuple[Inputs, str | None]:
    """``inputs`` with the objects of ``variation`` shifted (module docstring), and a note
    saying how MET was varied when it was modelled (None otherwise)."""
    s = variation.size * variation.sign
    if variation.name == "jes":
        return _shift_jets(inputs, lambda pt, eta, counts: np.full(len(pt), 1.0 + s)), None
    if variation.name == "jer":

        def jer(pt: np.ndarray, eta: np.ndarray, counts: np.ndarray) -> np.ndarray:
            z = object_normals(inputs.ids, counts, _JER_SALT)
            return jer_factor(pt, eta, z, variation.size)

        return _shift_jets(inputs, jer), None
    if variation.name == "muon_scale":
        return _shift_muons(inputs, 1.0 + s), None
    if variation.name == "met_unclustered":
        return _met_unclustered(inputs, variation)
    raise ValueError(f"unknown shape systematic {variation.name!r} (known: {', '.join(SHAPES)})")


def _components(pt: Any, phi: Any) -> tuple[Any, Any]:
    return pt * np.cos(phi), pt * np.sin(phi)


def _with_met(inputs: Inputs, px: np.ndarray, py: np.ndarray) -> Inputs:
    """``inputs`` with MET set to (px, py) (dtype of the original)."""
    dtype = np.asarray(ak.to_numpy(inputs.met.pt)).dtype
    met = ak.zip(
        {
            "pt": np.hypot(px, py).astype(dtype),
            "phi": np.arctan2(py, px).astype(np.asarray(ak.to_numpy(inputs.met.phi)).dtype),
        }
    )
    return dataclasses.replace(inputs, met=met)


def _met_xy(inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    pt = np.asarray(ak.to_numpy(inputs.met.pt), dtype=np.float64)
    phi = np.asarray(ak.to_numpy(inputs.met.phi), dtype=np.float64)
    return _components(pt, phi)


def _propagate(inputs: Inputs, old: ak.Array, new_pt: ak.Array, mask: Any = None) -> Inputs:
    """MET minus the change of the objects' transverse momenta (where ``mask``)."""
    dpt = ak.values_astype(new_pt, np.float64) - ak.values_astype(old.pt, np.float64)
    if mask is not None:
        dpt = ak.where(mask, dpt, 0.0)
    dx, dy = _components(dpt, ak.values_astype(old.phi, np.float64))
    mx, my = _met_xy(inputs)
    return _with_met(
        inputs,
        mx - np.asarray(ak.to_numpy(ak.sum(dx, axis=1))),
        my - np.asarray(ak.to_numpy(ak.sum(dy, axis=1))),
    )


def _scaled(objects: ak.Array, factor: ak.Array, fields: tuple[str, ...]) -> ak.Array:
    out = objects
    for f in fields:
        values = objects[f]
        dtype = np.asarray(ak.to_numpy(ak.flatten(values))).dtype
        out = ak.with_field(out, ak.values_astype(values * factor, dtype), f)
    return out


def _shift_jets(inputs: Inputs, factor_of: Any) -> Inputs:
    """Jets' pT and mass × a per-jet factor ``factor_of(flat pt, jets)``, propagated to MET."""
    if "jet" not in inputs.objects:
        return inputs
    jets = inputs["jet"]
    counts = np.asarray(ak.num(jets, axis=1))
    flat_pt = np.asarray(ak.to_numpy(ak.flatten(jets.pt)), dtype=np.float64)
    flat_eta = np.asarray(ak.to_numpy(ak.flatten(jets.eta)), dtype=np.float64)
    factor = ak.unflatten(np.asarray(factor_of(flat_pt, flat_eta, counts)), counts)
    shifted = _scaled(jets, factor, ("pt", "mass"))
    out = dataclasses.replace(inputs, objects={**inputs.objects, "jet": shifted})
    return _propagate(out, jets, shifted.pt, jets.pt > MET_JET_PT_MIN)


def _shift_muons(inputs: Inputs, factor: float) -> Inputs:
    if "muon" not in inputs.objects:
        return inputs
    muons = inputs["muon"]
    shifted = _scaled(muons, factor, ("pt",))
    out = dataclasses.replace(inputs, objects={**inputs.objects, "muon": shifted})
    return _propagate(out, muons, shifted.pt)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (uint64 → uint64), vectorised; wraps modulo 2⁶⁴."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def object_normals(ids: Mapping[str, np.ndarray], counts: np.ndarray, salt: int) -> np.ndarray:
    """One standard normal per object (flat), a function of (run, luminosityBlock, event,
    object index, ``salt``) only: the same whatever the chunk, executor or file order."""
    n = int(counts.sum())
    if n == 0:
        return np.zeros(0)
    event = np.repeat(np.arange(len(counts)), counts)
    index = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    with np.errstate(over="ignore"):
        key = _splitmix64(np.asarray(ids["run"], dtype=np.uint64)[event] ^ np.uint64(salt))
        key = _splitmix64(key ^ np.asarray(ids["luminosityBlock"], dtype=np.uint64)[event])
        key = _splitmix64(key ^ np.asarray(ids["event"], dtype=np.uint64)[event])
        key = _splitmix64(key ^ index.astype(np.uint64))
        other = _splitmix64(key)
    to_unit = 1.0 / float(1 << 53)
    u1 = ((key >> np.uint64(11)).astype(np.float64) + 0.5) * to_unit  # (0, 1)
    u2 = (other >> np.uint64(11)).astype(np.float64) * to_unit
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


_JER_SALT = 0x4A4552  # "JER"


def jer_factor(pt: np.ndarray, eta: np.ndarray, z: np.ndarray, size: float) -> np.ndarray:
    """The JER-up factor per jet: 1 + σ(pT, |η|)·√((1+s)² − 1)·z, at least 0
    (σ: the generator's relative jet resolution)."""
    from eventlens.generate.config import JetConfig
    from eventlens.generate.jets import resolution

    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = resolution(JetConfig(), np.maximum(pt, 1e-3), np.abs(eta))
    extra = np.sqrt((1.0 + size) ** 2 - 1.0)
    return np.maximum(1.0 + sigma * extra * z, 0.0)


def _met_unclustered(inputs: Inputs, v: ShapeVariation) -> tuple[Inputs, str | None]:
    b = inputs.met_unclustered
    if f"ptUnclustered{v.direction}" in b and f"phiUnclustered{v.direction}" in b:
        pt = np.asarray(b[f"ptUnclustered{v.direction}"], dtype=np.float64)
        phi = np.asarray(b[f"phiUnclustered{v.direction}"], dtype=np.float64)
        return _with_met(inputs, *_components(pt, phi)), None
    if "MetUnclustEnUpDeltaX" in b and "MetUnclustEnUpDeltaY" in b:
        mx, my = _met_xy(inputs)
        dx = np.asarray(b["MetUnclustEnUpDeltaX"], dtype=np.float64)
        dy = np.asarray(b["MetUnclustEnUpDeltaY"], dtype=np.float64)
        return _with_met(inputs, mx + v.sign * dx, my + v.sign * dy), None
    mx, my = _met_xy(inputs)
    ux, uy = -mx, -my
    for objects in inputs.objects.values():
        px, py = _components(
            ak.values_astype(objects.pt, np.float64), ak.values_astype(objects.phi, np.float64)
        )
        ux = ux - np.asarray(ak.to_numpy(ak.sum(px, axis=1)))
        uy = uy - np.asarray(ak.to_numpy(ak.sum(py, axis=1)))
    s = v.sign * v.size
    note = (
        f"met_unclustered modelled: MET -/+ {v.size:g} x the unclustered recoil "
        "(no *_ptUnclusteredUp/Down or MetUnclustEnUpDelta branches)"
    )
    return _with_met(inputs, mx - s * ux, my - s * uy), note
