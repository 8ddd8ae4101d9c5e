"""Import PyROOT quietly and once.

The PyPI ``root`` wheel warns on every import that it is an alpha release;
that is a packaging note, not something a physicist running eventlens can act
on, so it is filtered here (and only here).  Batch mode keeps ROOT from
looking for a display.
"""

from __future__ import annotations

import functools
import warnings
from types import ModuleType


@functools.cache
def root() -> ModuleType:
    """Return the ``ROOT`` module, imported once with batch mode on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*This distribution of ROOT is in alpha")
        try:
            import ROOT
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "eventlens needs PyROOT: `pip install root` (or source a ROOT installation) "
                f"and try again ({exc})"
            ) from exc
    ROOT.gROOT.SetBatch(True)
    return ROOT
