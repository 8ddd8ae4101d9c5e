"""Open NanoAOD files as coffea NanoEvents, with errors a physicist can act on."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import awkward as ak

from .errors import InputFileError

log = logging.getLogger(__name__)


def open_events(
    path: str | Path, treename: str = "Events", entry_stop: int | None = None
) -> ak.Array:
    """Read a NanoAOD file eagerly into NanoEvents (``NanoAODSchema``).

    Raises InputFileError naming the file when it is missing, unreadable or has
    no ``treename`` tree.
    """
    import uproot
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    try:
        with uproot.open(path) as f:
            if treename not in f:
                raise InputFileError(
                    f"{path}: no '{treename}' tree (has {sorted(f.keys(cycle=False))})"
                )
            n = f[treename].num_entries
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(
            f"{path}: not a readable ROOT file ({type(exc).__name__}: {exc})"
        ) from exc
    stop = n if entry_stop is None else min(n, entry_stop)
    with warnings.catch_warnings():
        # NanoAODSchema warns about cross-references absent from reduced files.
        warnings.simplefilter("ignore", RuntimeWarning)
        return NanoEventsFactory.from_root(
            {str(path): treename}, schemaclass=NanoAODSchema, mode="eager", entry_stop=stop
        ).events()
