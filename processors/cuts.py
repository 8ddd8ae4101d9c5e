"""Object-level selection shared by all tasks: ID, isolation, kinematics, b-tag, MET.

Every threshold comes from an :class:`~eventlens.config.selection.ObjectCuts`
block; nothing here knows about a particular task.
"""

from __future__ import annotations

import dataclasses

import awkward as ak
import numpy as np

from eventlens.config.selection import ECAL_BARREL_ABS_ETA, BTagConfig, ObjectCuts

from .cutflow import finite_events
from .inputs import Inputs
from .kinematics import delta_r_clean
from .reuse import reusable


@reusable
def good_objects(objects: ak.Array, cuts: ObjectCuts) -> ak.Array:
    """Objects passing pT, |η| (minus the optional gap), ID, isolation, electron-veto and
    impact cuts.

    An ID with ``endcap_min`` cuts at ``min`` for |η| < 1.479 (ECAL barrel) and
    at ``endcap_min`` beyond, as the EGM MVA working points do.  Objects keep
    their input order, which in NanoAOD is decreasing pT.
    """
    abs_eta = abs(objects.eta)
    keep = (objects.pt > cuts.pt_min) & (abs_eta < cuts.abs_eta_max)
    if cuts.eta_gap is not None:
        lo, hi = cuts.eta_gap
        keep = keep & ~((abs_eta >= lo) & (abs_eta <= hi))
    if cuts.id is not None:
        flag = objects[cuts.id.branch]
        if cuts.id.min is None:
            keep = keep & (flag != 0)
        elif cuts.id.endcap_min is None:
            keep = keep & (flag >= cuts.id.min)
        else:
            barrel = abs_eta < ECAL_BARREL_ABS_ETA
            keep = keep & ak.where(barrel, flag >= cuts.id.min, flag >= cuts.id.endcap_min)
    if cuts.electron_veto:
        keep = keep & (objects.electronVeto != 0)
    if cuts.isolation is not None:
        keep = keep & (objects[cuts.isolation.branch] < cuts.isolation.max)
    if cuts.dxy_max is not None:
        keep = keep & (abs(objects.dxy) < cuts.dxy_max)
    if cuts.dz_max is not None:
        keep = keep & (abs(objects.dz) < cuts.dz_max)
    return objects[keep]


@reusable
def drawn_objects(objects: ak.Array, cuts: ObjectCuts) -> ak.Array:
    """The objects drawn for the event: :func:`good_objects`, or with
    ``cuts.draw_pt_min`` every object above it in the |η| acceptance (see
    :class:`~eventlens.config.selection.ObjectCuts`)."""
    if cuts.draw_pt_min is None:
        return good_objects(objects, cuts)
    loose = dataclasses.replace(
        cuts,
        pt_min=cuts.draw_pt_min,
        id=None,
        isolation=None,
        dxy_max=None,
        dz_max=None,
        electron_veto=None,
    )
    return good_objects(objects, loose)


@reusable
def jet_cleaners(selected: ak.Array, cuts: ObjectCuts) -> ak.Array:
    """The selected objects that remove jets: all of them, or with ``cuts.jet_cleaning``
    only those passing that isolation (CMS cleans jets against isolated leptons, so a
    non-isolated muon from a b or c decay leaves its jet in place)."""
    if cuts.jet_cleaning is None:
        return selected
    return selected[selected[cuts.jet_cleaning.branch] < cuts.jet_cleaning.max]


def cut_fields(cuts: ObjectCuts) -> list[str]:
    """The fields :func:`good_objects` reads, for the bad-value check of a step."""
    fields = ["pt", "eta"]
    if cuts.id is not None:
        fields.append(cuts.id.branch)
    if cuts.isolation is not None:
        fields.append(cuts.isolation.branch)
    if cuts.electron_veto:
        fields.append("electronVeto")
    if cuts.jet_cleaning is not None:
        fields.append(cuts.jet_cleaning.branch)
    fields += [n for n, c in (("dxy", cuts.dxy_max), ("dz", cuts.dz_max)) if c is not None]
    return list(dict.fromkeys(fields))


def bad_values(inputs: Inputs, block: str, cuts: ObjectCuts) -> np.ndarray:
    """Events with a NaN/inf in any branch the object cuts of ``block`` read."""
    return ~finite_events(inputs[block], cut_fields(cuts))


def good_jets(inputs: Inputs, cuts: ObjectCuts, btag: BTagConfig, *selected: ak.Array) -> ak.Array:
    """Good jets with a ``btag`` score field, ΔR-cleaned against the selected objects.

    Cleaning (``cuts.cleaning_dr``) keeps a lepton or photon that is also
    clustered into a jet from being drawn twice.
    """
    return _good_jets(inputs["jet"], cuts, btag, *selected)


@reusable
def _good_jets(jets: ak.Array, cuts: ObjectCuts, btag: BTagConfig, *selected: ak.Array) -> ak.Array:
    jets = good_objects(jets, cuts)
    jets = ak.with_field(jets, jets[btag.branch], "btag")
    if cuts.cleaning_dr is not None and selected:
        against = ak.concatenate([s[list(_P4)] for s in selected], axis=1)
        jets = delta_r_clean(jets, against, cuts.cleaning_dr)
    return jets


_P4 = ("pt", "eta", "phi", "mass")


def n_btagged(jets: ak.Array, btag: BTagConfig) -> np.ndarray:
    """Number of jets with score >= the configured working point, per event."""
    return ak.to_numpy(ak.sum(jets.btag >= btag.threshold, axis=1))
