"""Which scale factors to apply, from which correctionlib file, with which inputs.

A YAML file (``configs/corrections/*.yaml``), loaded strictly (unknown key →
one-line :class:`~eventlens.errors.ConfigError` naming key and file).  The same
reader serves the generator's own set and the CMS POG files: only names and
inputs differ, and both are configured here.  Relative ``file`` paths are
relative to the YAML file.  Layout::

    muon:                                   # product over the selected muons
      - name: muon_id                       # -> Weights variations muon_idUp / muon_idDown
        file: eventlens_detector.json
        correction: NUM_TightID_DEN_TrackerMuons
        inputs: {abseta: abseta, pt: pt, scale_factors: variation}
        fixed: {}                           # constant inputs, e.g. {year: 2018_UL}
        variations: {nominal: nominal, up: systup, down: systdown}
    electron:                               # the same, over the selected electrons
      - name: electron_id
        file: eventlens_detector.json
        correction: UL-Electron-ID-SF       # EGM's name; signed eta, as EGM bins it
        inputs: {eta: eta, pt: pt, ValType: variation}
        fixed: {WorkingPoint: Tight}
        variations: {nominal: sf, up: sfup, down: sfdown}
    btag:                                   # fixed-working-point event weight (BTV method 1a)
      file: eventlens_detector.json
      corrections: {b: deepJet_comb, c: deepJet_comb, light: deepJet_incl}
      working_point: M                      # as the file names it
      threshold: 0.2783                     # score >= threshold is tagged
      abs_eta_max: 2.5                      # jets beyond carry no b-tag weight
      inputs: {systematic: variation, working_point: working_point, flavor: flavour,
               abseta: abseta, pt: pt}
      variations: {nominal: central, up: up, down: down}
      efficiency:                           # the simulation's tagging efficiency
        file: eventlens_detector.json
        correction: deepJet_mc_efficiency
        inputs: {working_point: working_point, flavor: flavour, abseta: abseta, pt: pt}

``inputs`` maps each input *name of the correction in the file* to a quantity
the reader knows: ``pt``, ``eta``, ``abseta``, ``flavour`` (jets'
``hadronFlavour``), ``working_point``, ``variation`` (the ``variations`` value
being evaluated).  An input neither mapped nor ``fixed`` is an error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import load, setting
from ..errors import ConfigError

#: What an ``inputs`` entry may map a correction input to.
QUANTITIES = ("pt", "eta", "abseta", "flavour", "working_point", "variation")


@dataclass(frozen=True)
class Variations:
    """The values of a correction's systematic input for nominal, up and down."""

    nominal: str
    up: str
    down: str


@dataclass(frozen=True)
class LeptonSF:
    """One per-lepton scale factor (``muon:`` or ``electron:`` entry): the event weight
    is the product over the event's selected leptons of that flavour."""

    name: str
    file: str
    correction: str
    inputs: dict[str, str]
    variations: Variations
    fixed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Efficiency:
    correction: str
    inputs: dict[str, str]
    file: str | None = None  # default: the b-tag file
    fixed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BTagSF:
    file: str
    corrections: dict[str, str]  # b / c / light -> correction name
    working_point: str
    threshold: float
    inputs: dict[str, str]
    variations: Variations
    efficiency: Efficiency
    abs_eta_max: float = 2.5
    name: str = "btag"
    fixed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CorrectionConfig:
    muon: tuple[LeptonSF, ...] = ()
    electron: tuple[LeptonSF, ...] = ()
    btag: BTagSF | None = None
    source: str = setting("", source=True)

    def resolve(self, path: str) -> Path:
        """A ``file`` entry as a path (relative to the YAML file)."""
        p = Path(path).expanduser()
        return p if p.is_absolute() or not self.source else Path(self.source).parent / p


def _check_inputs(inputs: dict[str, str], where: str, src: str) -> None:
    for name, quantity in inputs.items():
        if quantity not in QUANTITIES:
            raise ConfigError(
                f"{src}: '{where}.inputs.{name}' = {quantity!r} is not one of "
                f"{', '.join(QUANTITIES)}"
            )


def validate(cfg: CorrectionConfig) -> CorrectionConfig:
    src = cfg.source or "corrections config"
    names = [m.name for m in (*cfg.muon, *cfg.electron)]
    for flavour in ("muon", "electron"):
        for i, m in enumerate(getattr(cfg, flavour)):
            _check_inputs(m.inputs, f"{flavour}[{i}]", src)
    if len(set(names)) != len(names):
        raise ConfigError(f"{src}: 'muon' and 'electron' entries need distinct names, got {names}")
    if cfg.btag is not None:
        b = cfg.btag
        _check_inputs(b.inputs, "btag", src)
        _check_inputs(b.efficiency.inputs, "btag.efficiency", src)
        missing = sorted({"b", "c", "light"} - set(b.corrections))
        extra = sorted(set(b.corrections) - {"b", "c", "light"})
        if missing or extra:
            raise ConfigError(
                f"{src}: 'btag.corrections' needs exactly the keys b, c, light "
                f"(missing {missing}, unknown {extra})"
            )
        if b.name in names:
            raise ConfigError(f"{src}: 'btag.name' {b.name!r} is also a lepton SF name")
    return cfg


def load_corrections(path: str | Path) -> CorrectionConfig:
    """Read and validate a corrections YAML file."""
    return validate(load(CorrectionConfig, path, "corrections config"))
