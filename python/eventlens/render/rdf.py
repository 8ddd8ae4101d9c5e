"""Render images inside an RDataFrame event loop (entry point (a) of the C++ helper).

Two ways, both driven by the same C++ drawing core as :func:`eventlens.render.render`:

* :func:`define_image` adds a column holding each event's image as an
  ``RVec<uint8_t>``/``RVec<float>`` (C×H×W, flattened) — convenient in a C++-style
  chain of ``Define``/``Filter``/``Snapshot``.
* :func:`render_dataframe` draws every event straight into a numpy buffer
  (zero-copy, the fast way to get images into Python).

Columns default to NanoAOD names; pass ``columns=`` to use selected
collections (e.g. ``GoodJet_pt`` defined earlier in the chain).  Collections
absent from the dataset (no ``Photon_*`` branches, say) are replaced by empty
vectors, with one log line naming them.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import numpy as np

from . import _cpp
from .batch import RenderStats, allocate, check_buffer
from .config import RenderConfig

log = logging.getLogger(__name__)

#: Argument order of ``eventlens::Renderer::event_*`` and the NanoAOD column of each.
NANOAOD_COLUMNS: dict[str, str] = {
    "el_pt": "Electron_pt",
    "el_eta": "Electron_eta",
    "el_phi": "Electron_phi",
    "mu_pt": "Muon_pt",
    "mu_eta": "Muon_eta",
    "mu_phi": "Muon_phi",
    "mu_charge": "Muon_charge",
    "ph_pt": "Photon_pt",
    "ph_eta": "Photon_eta",
    "ph_phi": "Photon_phi",
    "jet_pt": "Jet_pt",
    "jet_eta": "Jet_eta",
    "jet_phi": "Jet_phi",
    "jet_btag": "Jet_btagDeepFlavB",
    "met_pt": "MET_pt",
    "met_phi": "MET_phi",
}

_counter = itertools.count()


def _declare_renderer(config: RenderConfig) -> str:
    """Expose this process's renderer for ``config`` to cling under a unique name."""
    ROOT = _cpp.root()
    r = _cpp.renderer(config)
    name = f"eventlens_renderer_{config.digest()}"
    if not hasattr(ROOT, name):
        address = ROOT.addressof(r)
        ROOT.gInterpreter.Declare(
            f"const eventlens::Renderer& {name} = "
            f"*reinterpret_cast<const eventlens::Renderer*>({address}ULL);"
        )
    return name


def _arguments(df: Any, columns: dict[str, str] | None) -> str:
    mapping = {**NANOAOD_COLUMNS, **(columns or {})}
    unknown = set(mapping) - set(NANOAOD_COLUMNS)
    if unknown:
        raise ValueError(
            f"rdf: unknown argument(s) {sorted(unknown)}; known: {list(NANOAOD_COLUMNS)}"
        )
    present = {str(c) for c in df.GetColumnNames()}
    args, absent = [], []
    for arg, column in mapping.items():
        if column in present:
            args.append(column)
        elif arg.startswith("met"):
            raise ValueError(f"rdf: the dataset has no column {column!r} (needed for MET)")
        else:
            absent.append(column)
            args.append("ROOT::RVecI{}" if arg == "mu_charge" else "ROOT::RVecF{}")
    if absent:
        log.info("rdf: columns %s absent, drawing those collections as empty", absent)
    return ", ".join(args)


def define_image(
    df: Any, config: RenderConfig, name: str = "image", columns: dict[str, str] | None = None
) -> Any:
    """``df.Define(name, <image of the event>)``: an RVec of C·H·W pixels per event."""
    renderer = _declare_renderer(config)
    method = "event_u8" if config.dtype == "uint8" else "event_f32"
    return df.Define(name, f"{renderer}.{method}({_arguments(df, columns)})")


def render_dataframe(
    df: Any,
    config: RenderConfig,
    n_events: int | None = None,
    out: np.ndarray | None = None,
    columns: dict[str, str] | None = None,
    index_column: str = "rdfentry_",
) -> tuple[np.ndarray, RenderStats]:
    """Run the event loop and draw event ``i`` into ``out[i]`` (zero-copy).

    ``index_column`` picks the row; the default ``rdfentry_`` is the entry number,
    which follows the file order only without implicit multithreading (with
    ``ROOT.EnableImplicitMT()`` pass an explicit index column).
    """
    if n_events is None:
        n_events = int(df.Count().GetValue())
    if out is None:
        out = allocate(config, n_events)
    check_buffer(out, config, n_events)
    renderer_name = _declare_renderer(config)
    r = _cpp.renderer(config)
    r.reset_event_stats()
    method = "event_into_u8" if config.dtype == "uint8" else "event_into_f32"
    call = (
        f"{renderer_name}.{method}({out.ctypes.data}ULL, {n_events}ULL, {index_column}, "
        f"{_arguments(df, columns)})"
    )
    column = f"eventlens_drawn_{next(_counter)}"
    df.Define(column, call).Sum(column).GetValue()
    return out, RenderStats.from_cpp(r.event_stats())
