"""What an event image looks like: canvas, channels, colours, rules.

A :class:`RenderConfig` is plain, frozen, hashable data.  It travels with a
trained model (its :meth:`~RenderConfig.digest` goes into the model card), so
that an analysis can refuse to feed a model images drawn differently from the
ones it was trained on.

Two styles:

* ``"channels"`` (default): one channel per object class, e.g. electron, muon,
  photon, jet, b-jet, MET; muon charge may get its own channels (``muon+``,
  ``muon-``).  Pixels are 0 (nothing) or full scale (an outline passes).
* ``"seed_rgb"``: the picture of Madrazo et al. (2017), §5.2, reproduced: a
  224×224 RGB canvas on white, blue electrons, green muons, light-red jets,
  dark-red b-jets, black MET, C = 10.5, later objects painted over earlier ones
  (as matplotlib does).  Photons, absent from the seed, are drawn orange.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from ..config import DEFAULT_SOURCE, ConfigValueError, build

#: Every channel name a ``channels``-style config may use.
KNOWN_CHANNELS = ("electron", "muon", "muon+", "muon-", "photon", "jet", "bjet", "met")

#: Draw classes, in the order of ``eventlens::DrawClass`` (C++).
DRAW_CLASSES = ("electron", "muon+", "muon-", "photon", "jet", "bjet", "met")

#: The seed's colours (RGB, 0-255); photons are our addition.
SEED_COLOURS: dict[str, tuple[int, int, int]] = {
    "electron": (0, 0, 255),  # blue
    "muon+": (0, 128, 0),  # green (matplotlib "green")
    "muon-": (0, 128, 0),
    "photon": (255, 165, 0),  # orange
    "jet": (255, 128, 128),  # light red
    "bjet": (139, 0, 0),  # dark red
    "met": (0, 0, 0),  # black
}

#: Seed 002 §5.2: C ≈ 10.5 on a 224-pixel canvas.  Other canvases scale it.
SEED_RADIUS_SCALE = 10.5
SEED_CANVAS = 224

Overlap = Literal["max", "add", "over"]
EtaPolicy = Literal["skip", "clamp"]
DType = Literal["uint8", "float32"]


@dataclasses.dataclass(frozen=True)
class RenderConfig:
    """Canvas, channels and drawing rules of an event image.

    Attributes:
        height, width: canvas in pixels (rows = φ, columns = η).
        channels: channel names (``channels`` style), a subset of
            :data:`KNOWN_CHANNELS`; object classes without a channel are not
            drawn (and are counted as such).
        style: ``"channels"`` or ``"seed_rgb"``.
        eta_range: η covered by the columns; φ always covers [-π, π).
        radius_scale: C in R = C·ln(pT/GeV) pixels; ``None`` scales the seed's
            C = 10.5 at 224 px to this canvas.
        btag_threshold: jets with b-tag score ≥ this are b-jets (default: the
            DeepJet medium working point, 0.2783).
        overlap: ``max`` (default), saturating ``add``, or ``over`` (paint over).
        eta_policy: objects outside ``eta_range`` are ``skip``-ped or ``clamp``-ed
            to the edge; both are counted.
        dtype: pixel type of the images, ``float32`` (0..1) or ``uint8`` (0..255).
    """

    height: int = 64
    width: int = 64
    channels: tuple[str, ...] = ("electron", "muon", "photon", "jet", "bjet", "met")
    style: Literal["channels", "seed_rgb"] = "channels"
    eta_range: tuple[float, float] = (-3.0, 3.0)
    radius_scale: float | None = None
    btag_threshold: float = 0.2783
    overlap: Overlap = "max"
    eta_policy: EtaPolicy = "skip"
    dtype: DType = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "eta_range", tuple(float(x) for x in self.eta_range))
        self._validate()

    # ---- construction -----------------------------------------------------
    @classmethod
    def seed_rgb(cls, **overrides: Any) -> RenderConfig:
        """The seed-faithful RGB picture (224×224×3, seed colours, white background)."""
        params: dict[str, Any] = {
            "height": SEED_CANVAS,
            "width": SEED_CANVAS,
            "channels": ("r", "g", "b"),
            "style": "seed_rgb",
            "radius_scale": SEED_RADIUS_SCALE,
            "overlap": "over",
            "dtype": "uint8",
        }
        params.update(overrides)
        return cls(**params)

    @classmethod
    def config_defaults(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults that depend on the data: ``style: seed_rgb`` starts from the seed's picture."""
        if data.get("style") == "seed_rgb":
            return dataclasses.asdict(cls.seed_rgb())
        return {}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], where: str = "render", source: str = DEFAULT_SOURCE
    ) -> RenderConfig:
        """Build from a mapping (the ``render:`` block of a YAML config, a model card's copy);
        ConfigError naming ``source`` and the key path otherwise."""
        return build(cls, data, where, source)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict with every field, including the derived radius scale."""
        d = dataclasses.asdict(self)
        d["channels"] = list(self.channels)
        d["eta_range"] = list(self.eta_range)
        d["radius_scale"] = self.effective_radius_scale
        return d

    def digest(self) -> str:
        """A short, stable hash of everything that changes the pixels."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def differences(self, other: RenderConfig) -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ, as ``{field: (self, other)}``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}

    # ---- derived quantities -----------------------------------------------
    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image: (C, H, W)."""
        return (self.n_channels, self.height, self.width)

    @property
    def effective_radius_scale(self) -> float:
        if self.radius_scale is not None:
            return float(self.radius_scale)
        return SEED_RADIUS_SCALE * min(self.height, self.width) / SEED_CANVAS

    def colour_table(self) -> dict[str, tuple[int, ...] | None]:
        """For each draw class, the value (0-255) it paints in every channel.

        ``None`` means the class is not drawn.
        """
        if self.style == "seed_rgb":
            return {cls: SEED_COLOURS[cls] for cls in DRAW_CLASSES}
        table: dict[str, tuple[int, ...] | None] = {}
        for cls in DRAW_CLASSES:
            channel = self._channel_of(cls)
            if channel is None:
                table[cls] = None
            else:
                table[cls] = tuple(255 if c == channel else 0 for c in self.channels)
        return table

    def background(self) -> tuple[int, ...]:
        return (255,) * self.n_channels if self.style == "seed_rgb" else (0,) * self.n_channels

    def _channel_of(self, cls: str) -> str | None:
        """The channel a draw class goes to, with the documented fallbacks:
        ``muon±`` → ``muon`` when charge channels are absent, ``bjet`` → ``jet``
        when there is no b-jet channel."""
        fallbacks = {
            "muon+": ("muon+", "muon"),
            "muon-": ("muon-", "muon"),
            "bjet": ("bjet", "jet"),
        }
        for name in fallbacks.get(cls, (cls,)):
            if name in self.channels:
                return name
        return None

    # ---- validation ---------------------------------------------------------
    def _validate(self) -> None:
        for name in ("height", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 4 <= value <= 4096:
                raise ConfigValueError(name, f"= {value!r}, must be an integer in [4, 4096]")
        if self.style not in ("channels", "seed_rgb"):
            raise ConfigValueError(
                "style", f"= {self.style!r}, must be 'channels' or 'seed_rgb'"
            )
        if self.style == "channels":
            unknown = [c for c in self.channels if c not in KNOWN_CHANNELS]
            if unknown:
                raise ConfigValueError(
                    "channels", f"has unknown channel(s) {unknown}; known: {list(KNOWN_CHANNELS)}"
                )
            if "muon" in self.channels and ("muon+" in self.channels or "muon-" in self.channels):
                raise ConfigValueError(
                    "channels", "must use either 'muon' or the charge channels 'muon+'/'muon-', "
                    "not both"
                )
        elif self.channels != ("r", "g", "b"):
            raise ConfigValueError(
                "channels", f"= {list(self.channels)}; the seed_rgb style has ['r', 'g', 'b']"
            )
        if not 1 <= len(self.channels) <= 16:
            raise ConfigValueError("channels", f"has {len(self.channels)} entries, must be 1 to 16")
        if len(set(self.channels)) != len(self.channels):
            raise ConfigValueError("channels", f"= {list(self.channels)} repeats a name")
        lo, hi = self.eta_range
        if not lo < hi:
            raise ConfigValueError("eta_range", f"= {list(self.eta_range)}, need min < max")
        if self.radius_scale is not None and not self.radius_scale > 0:
            raise ConfigValueError("radius_scale", f"= {self.radius_scale}, must be > 0")
        if self.overlap not in ("max", "add", "over"):
            raise ConfigValueError("overlap", f"= {self.overlap!r}, must be max, add or over")
        if self.eta_policy not in ("skip", "clamp"):
            raise ConfigValueError("eta_policy", f"= {self.eta_policy!r}, must be skip or clamp")
        if self.dtype not in ("uint8", "float32"):
            raise ConfigValueError("dtype", f"= {self.dtype!r}, must be uint8 or float32")
