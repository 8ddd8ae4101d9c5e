"""Lepton channels of table events: test metrics per lepton flavour (DTW's e and μ channels).

A task that selects electrons *and* muons (DTW) trains one model on both
flavours; its test metrics are then also reported per channel, so a model
that works for muons but not for electrons (or for single- but not dilepton
events) shows.  The channel of an event is read from the object table — what
the model sees — as the flavours of its leptons at or above the selection's
lepton pT thresholds (``objects.electron.pt_min``, ``objects.muon.pt_min`` of
the table's selection config):

``e``, ``mu`` (one lepton), ``ee``, ``mumu``, ``emu`` (two), ``3l`` (three or
more), ``none`` (no lepton above the thresholds; a DTW event always has one,
since its selected leptons are above them).

The table draws leptons that fail the ID or isolation too (``draw_pt_min``),
so a channel counts the leptons drawn above the threshold, not only the
identified ones: a dilepton event of the image is a dilepton event of its
channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..objects import ObjectType
from .table import ObjectTable, manifest_selection

#: Channel names, in the order tables and the results page list them.
CHANNELS = ("e", "mu", "ee", "mumu", "emu", "3l", "none")
#: Channels with two or more leptons (the "dilepton share").
MULTILEPTON = ("ee", "mumu", "emu", "3l")


def lepton_thresholds(manifest: Mapping[str, Any]) -> tuple[float, float] | None:
    """(electron, muon) pT thresholds of a table whose selection has both lepton blocks
    and puts both collections in the table; None otherwise (no channels to tell apart)."""
    config = manifest_selection(dict(manifest)).get("config") or {}
    objects = config.get("objects") or {}
    collections = (config.get("table") or {}).get("collections") or ()
    if not {"electron", "muon"} <= set(objects) or not {"Electron", "Muon"} <= set(collections):
        return None
    return float(objects["electron"]["pt_min"]), float(objects["muon"]["pt_min"])


def channel_names(n_electrons: np.ndarray, n_muons: np.ndarray) -> np.ndarray:
    """The channel of each event from its electron and muon counts (module docstring)."""
    ne, nm = np.asarray(n_electrons), np.asarray(n_muons)
    total = ne + nm
    out = np.full(len(ne), "none", dtype=object)
    out[(total == 1) & (ne == 1)] = "e"
    out[(total == 1) & (nm == 1)] = "mu"
    out[(total == 2) & (ne == 2)] = "ee"
    out[(total == 2) & (nm == 2)] = "mumu"
    out[(total == 2) & (ne == 1)] = "emu"
    out[total >= 3] = "3l"
    return out


def event_channels(table: ObjectTable, idx: np.ndarray) -> np.ndarray | None:
    """The lepton channel of events ``idx`` of ``table``; None for tables without both
    lepton flavours (:func:`lepton_thresholds`)."""
    thresholds = lepton_thresholds(table.manifest)
    if thresholds is None:
        return None
    objs = table.gather(np.asarray(idx, dtype=np.int64))
    kind, pt = objs.columns["type"], objs.columns["pt"]
    event = np.repeat(np.arange(len(idx)), np.diff(objs.offsets))
    counts = []
    for code, pt_min in ((ObjectType.ELECTRON, thresholds[0]), (ObjectType.MUON, thresholds[1])):
        lepton = (kind == int(code)) & (pt >= pt_min)
        counts.append(np.bincount(event[lepton], minlength=len(idx)))
    return channel_names(*counts)
