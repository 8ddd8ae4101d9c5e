"""One CMS look for every eventlens figure (mplhep).

``hep.style.CMS`` everywhere; the label says "Simulation" for generated events
and "Open Data" for real collision data, always with "Private work" (these are
not CMS results).  Figures are written atomically, as PNG and PDF by default,
and closed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io import atomic_path


@functools.cache
def pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend and the CMS style applied."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    plt.style.use(hep.style.CMS)
    return plt


def cms_label(
    ax: Any,
    data: bool = False,
    rlabel: str = "13 TeV",
    lumi: float | None = None,
    fontsize: float | None = None,
) -> None:
    """``hep.cms.label``: "Open Data" for real data, "Simulation" otherwise.

    ``lumi`` is in pb⁻¹.  The label stays at mplhep's ``loc=0`` (above the axes:
    "CMS …" on the left, ``rlabel`` on the right, never over the plotted content).
    "Open Data, Private work" plus a luminosity text is wider than a 9–10 inch
    axes at the CMS style's font size, so when the two would touch the whole
    label is redrawn at the font size that leaves a gap between them.
    """
    import mplhep as hep

    text = "Open Data, Private work" if data else "Simulation, Private work"
    if lumi is not None:
        rlabel = f"{lumi_text(lumi)} ({rlabel})"
    size = float(pyplot().rcParams["font.size"] if fontsize is None else fontsize)
    artists = hep.cms.label(text, data=True, ax=ax, rlabel=rlabel, loc=0, fontsize=size)
    scale = _fit_scale(ax, artists)
    if scale < 1.0:
        for artist in artists:
            if artist is not None:
                artist.remove()
        hep.cms.label(text, data=True, ax=ax, rlabel=rlabel, loc=0, fontsize=size * scale)


def lumi_text(lumi_pb: float) -> str:
    """Integrated luminosity the CMS way: fb⁻¹ from 1 fb⁻¹ on, three significant digits.

    Short on purpose: the raw ``2256.38 pb⁻¹`` of a data run pushes the right-hand
    label into "CMS Open Data, Private work".
    """
    value, unit = (lumi_pb / 1000.0, "fb") if lumi_pb >= 1000.0 else (lumi_pb, "pb")
    number = f"{value:.3g}" if value < 1000.0 else f"{value:.0f}"
    return f"{number} {unit}$^{{-1}}$"


def _fit_scale(ax: Any, artists: Sequence[Any], gap: float = 0.03) -> float:
    """Font scale (≤ 1) at which the left label and ``rlabel`` leave ``gap`` (axes
    fraction) between them; 1 when they already do.  Text widths are linear in
    the font size and known without drawing the figure."""
    exp, suffix, right = artists[0], artists[1], artists[2]
    if right is None or not right.get_text():
        return 1.0
    renderer = ax.figure.canvas.get_renderer()
    left_box = exp.get_window_extent(renderer)
    left_end = suffix.get_window_extent(renderer).x1 if suffix is not None else left_box.x1
    right_box = right.get_window_extent(renderer)
    span = right_box.x1 - left_box.x0
    room = span - gap * ax.get_window_extent(renderer).width
    needed = (left_end - left_box.x0) + right_box.width
    return 1.0 if needed <= room else max(room, 0.0) / needed


def save(fig: Any, path: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``path`` with each suffix in ``formats`` (atomically) and close the figure."""
    path = Path(path)
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=100, bbox_inches="tight")
        written.append(target)
    pyplot().close(fig)
    return written
