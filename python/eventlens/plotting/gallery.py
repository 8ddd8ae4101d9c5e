"""Example event images per class, with a legend of the object channels.

Multi-channel images are shown as RGB composites: each channel gets a fixed,
distinguishable colour (the seed's colours where it has one), so the picture a
network sees can be looked at.  The seed RGB mode is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..render import RenderConfig
from .labels import mpl_label
from .style import cms_label, pyplot, save

#: Display colour of each channel (RGB 0-1).
CHANNEL_COLOURS: dict[str, tuple[float, float, float]] = {
    "electron": (0.0, 0.3, 1.0),
    "muon": (0.0, 0.6, 0.0),
    "muon+": (0.0, 0.7, 0.0),
    "muon-": (0.5, 0.8, 0.0),
    "photon": (1.0, 0.65, 0.0),
    "jet": (1.0, 0.5, 0.5),
    "bjet": (0.55, 0.0, 0.0),
    "met": (0.0, 0.0, 0.0),
}


def composite(image: np.ndarray, config: RenderConfig) -> np.ndarray:
    """An (H, W, 3) RGB picture of one (C, H, W) image on a white background."""
    img = image.astype(np.float32)
    if config.dtype == "uint8":
        img = img / 255.0
    if config.style == "seed_rgb":
        return np.clip(np.moveaxis(img, 0, -1), 0.0, 1.0)
    rgb = np.ones((*img.shape[1:], 3), np.float32)
    for k, name in enumerate(config.channels):
        colour = np.asarray(CHANNEL_COLOURS[name], np.float32)
        alpha = np.clip(img[k], 0.0, 1.0)[..., None]
        rgb = rgb * (1.0 - alpha) + colour * alpha
    return rgb


def plot_gallery(
    examples: Mapping[str, np.ndarray],
    config: RenderConfig,
    path: str | Path,
    per_class: int = 4,
    captions: Mapping[str, Sequence[str]] | None = None,
    data: bool = False,
) -> list[Path]:
    """A grid: one row per class, ``per_class`` example images each.

    ``examples`` maps a class name to its (N, C, H, W) images; ``captions``
    optionally gives a short text per image (e.g. "m = 91.3 GeV, p = 0.97").
    """
    plt = pyplot()
    classes = list(examples)
    fig, axes = plt.subplots(
        len(classes), per_class, figsize=(3.0 * per_class, 3.2 * len(classes)), squeeze=False
    )
    lo, hi = config.eta_range
    for row, name in enumerate(classes):
        images = examples[name]
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(images):
                ax.imshow(
                    composite(images[col], config),
                    origin="lower",
                    aspect="auto",
                    extent=(lo, hi, -np.pi, np.pi),
                    interpolation="nearest",
                )
                if captions and col < len(captions.get(name, ())):
                    ax.set_title(captions[name][col], fontsize=11)
            if col == 0:
                ax.set_ylabel(f"{mpl_label(name)}\n$\\phi$", fontsize=14)
            if row == len(classes) - 1:
                ax.set_xlabel(r"$\eta$", fontsize=14)
    if config.style != "seed_rgb":
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=CHANNEL_COLOURS[c], label=c) for c in config.channels]
        fig.legend(
            handles=handles,
            loc="upper center",
            ncol=len(handles),
            fontsize=12,
            bbox_to_anchor=(0.5, 1.02),
            frameon=False,
        )
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.05, top=0.9, wspace=0.08, hspace=0.25)
    cms_label(axes[0, 0], data=data, rlabel="", fontsize=16)
    if captions:
        # the label sits on the top edge of the first image, where its caption is:
        # lift it above the caption row
        from matplotlib.transforms import ScaledTranslation

        lift = ScaledTranslation(0.0, 0.3, fig.dpi_scale_trans)
        for text in axes[0, 0].texts:
            text.set_transform(text.get_transform() + lift)
    return save(fig, path)
