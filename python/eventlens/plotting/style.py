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
    """``hep.cms.label``: "Open Data" for real data, "Simulation" otherwise."""
    import mplhep as hep

    text = "Open Data, Private work" if data else "Simulation, Private work"
    if lumi is not None:
        rlabel = f"{lumi:g} pb$^{{-1}}$ ({rlabel})"
    kwargs = {} if fontsize is None else {"fontsize": fontsize}
    hep.cms.label(text, data=True, ax=ax, rlabel=rlabel, loc=0, **kwargs)


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
