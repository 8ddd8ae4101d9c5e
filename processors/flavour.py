"""NanoAOD flavours: what a task reads from which branch, in Run 2 UL (v9) and Run 3 (v12–v15).

The tasks ask for NanoAOD fields by their classic names (``Jet_jetId``,
``Photon_pfRelIso03_all``, ``Photon_mass``, the ``MET`` collection).  Newer
NanoAOD renamed or dropped some of them; this module is the one place that
knows, so no task carries ``if`` branches for versions:

* ``Jet_jetId``: a branch up to v14; v15 dropped it, so it is computed from
  the jet's energy fractions and multiplicities (JME recipe, :func:`jet_id`);
* ``Photon_pfRelIso03_all``: a branch in Run 2; ``..._all_quadratic`` in Run 3;
* ``Photon_mass``: absent in Run 3 v15 — photons are massless (0);
* MET: ``MET`` (PF) in Run 2, ``PuppiMET`` in Run 3 (v15 has no plain ``MET``,
  only ``PFMET`` and ``PuppiMET``).

:func:`detect` names a file's flavour from its branches; :func:`resolve`
says, for one wanted field, where its values come from (the branch, an
alias, a computation or a constant) — raising :class:`MissingBranchError`
when nothing can stand in, naming the branch and the config key that asks
for it.  The same resolution serves the driver's pre-check (branch names),
the coffea processor (NanoEvents) and the direct uproot reader, so all three
read the same values.  Every substitution made is reported (run log, manifest
``notes``).

MET: the config's ``met.collections`` lists the collections a task accepts;
for a Run 3 file ``PuppiMET`` (the Run 3 default) is preferred when listed,
for other files the list's order applies.  Restrict the list (e.g. to
``[PFMET]``) to choose.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import awkward as ak
import numpy as np

from eventlens.errors import InputFileError

RUN2, RUN3_V12, RUN3_V15, UNKNOWN = "Run 2 (<= v9)", "Run 3 v12-v14", "Run 3 v15", "unknown"
#: Chunk metadata key under which the driver hands each file's flavour to the workers.
FLAVOUR_KEY = "nanoaod_flavour"

#: The energy fractions and multiplicities the jet ID is computed from.
JET_ID_INPUTS = ("neHEF", "neEmEF", "chHEF", "chEmEF", "muEF", "chMultiplicity", "neMultiplicity")
#: Jet ID bits as NanoAOD's ``Jet_jetId`` has them: 2 = tight, 4 = tight lepton veto.
TIGHT, TIGHT_LEPTON_VETO = 2, 4


class MissingBranchError(InputFileError):
    """A file lacks a branch or collection the task needs, and nothing can stand in."""


def detect(branches: Collection[str]) -> str:
    """The NanoAOD flavour of a file, from its branch names."""
    keys = set(branches)
    if "Jet_btagUParTAK4B" in keys or ("Jet_jetId" not in keys and "Jet_neMultiplicity" in keys):
        return RUN3_V15
    if "Jet_btagPNetB" in keys or "Photon_pfRelIso03_all_quadratic" in keys:
        return RUN3_V12
    if "Jet_btagDeepFlavB" in keys or "MET_pt" in keys:
        return RUN2
    return UNKNOWN


def is_run3(flavour: str) -> bool:
    return flavour in (RUN3_V12, RUN3_V15)


@dataclass(frozen=True)
class Source:
    """Where the values of one wanted field come from.

    ``kind``: ``branch`` (the field itself), ``alias`` (another branch,
    ``inputs``), ``computed`` (from ``inputs`` by a rule), ``zero`` (a constant).
    """

    kind: str
    inputs: tuple[str, ...] = ()
    note: str = ""


#: Per (collection kind, field): the alternatives, tried in order, when the field is absent.
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "photon": {
        "pfRelIso03_all": ("pfRelIso03_all_quadratic",),
        "pfRelIso03_all_quadratic": ("pfRelIso03_all",),
        "pfRelIso03_chg": ("pfRelIso03_chg_quadratic",),
    },
}


def alternatives(block: str, field: str) -> tuple[str, ...]:
    """Every field ``field`` may be read from when it is absent (for branch filters)."""
    alts = _ALIASES.get(block, {}).get(field, ())
    if block == "jet" and field == "jetId":
        alts += (*JET_ID_INPUTS, "eta")
    return alts


def resolve(
    block: str, collection: str, field: str, present: Collection[str], where: str, asked_by: str
) -> Source:
    """Where ``collection_field`` comes from in a file whose ``collection`` has ``present`` fields.

    ``block`` is the config block (``jet``, ``photon``, …); ``asked_by`` the
    config key that needs the field, named in the error when nothing stands in.
    """
    if field in present:
        return Source("branch")
    for alias in _ALIASES.get(block, {}).get(field, ()):
        if alias in present:
            return Source("alias", (alias,), f"{collection}_{field} read from {collection}_{alias}")
    if block == "jet" and field == "jetId" and all(f in present for f in JET_ID_INPUTS):
        return Source(
            "computed",
            (*JET_ID_INPUTS, "eta"),
            f"{collection}_jetId computed from the energy fractions and multiplicities "
            "(JME Run 3 tight / tight-lepton-veto recipe)",
        )
    if field == "mass" and block == "photon":
        return Source("zero", (), f"no {collection}_mass: photons are massless")
    raise MissingBranchError(
        f"{where}: missing branch {collection}_{field} (asked for by {asked_by}; change or "
        "remove that key in the selection config to run without it)"
    )


def source_branches(collection: str, field: str, source: Source) -> list[str]:
    """The flat branch names reading ``field`` through ``source`` needs."""
    if source.kind == "branch":
        return [f"{collection}_{field}"]
    return [f"{collection}_{name}" for name in source.inputs]


def values(source: Source, field: str, get: Callable[[str], ak.Array], like: ak.Array) -> ak.Array:
    """The values of ``field`` through ``source``; ``get(name)`` reads a field of the collection,
    ``like`` is any field of it (for the jagged structure of a constant)."""
    if source.kind == "branch":
        return get(field)
    if source.kind == "alias":
        return get(source.inputs[0])
    if source.kind == "zero":
        return ak.values_astype(like * 0, np.float32)
    return jet_id({name: get(name) for name in source.inputs})


def jet_id(jets: Mapping[str, ak.Array]) -> ak.Array:
    """NanoAOD ``Jet_jetId`` bits (0, 2 = tight, 6 = tight + lepton veto) from the jet's
    energy fractions and multiplicities: the JME Run 3 AK4 PUPPI recipe.

    * |η| ≤ 2.6: neHEF < 0.99, neEmEF < 0.90, chMultiplicity + neMultiplicity > 1,
      chHEF > 0.01, chMultiplicity > 0;
    * 2.6 < |η| ≤ 2.7: neHEF < 0.90, neEmEF < 0.99;
    * 2.7 < |η| ≤ 3.0: neHEF < 0.99;
    * |η| > 3.0: neMultiplicity ≥ 2, neEmEF < 0.4;
    * lepton veto, |η| ≤ 2.6 only: muEF < 0.8 and chEmEF < 0.8.

    NanoAOD v15 dropped ``Jet_jetId`` (it must be re-derived after
    re-reconstruction) but keeps these inputs.
    """
    eta = abs(jets["eta"])
    ne_hef, ne_em, ch_hef = jets["neHEF"], jets["neEmEF"], jets["chHEF"]
    # NanoAOD stores the multiplicities as uint8: widen before adding (200 + 56 is not 0)
    ch_mult = ak.values_astype(jets["chMultiplicity"], np.int32)
    ne_mult = ak.values_astype(jets["neMultiplicity"], np.int32)
    central = eta <= 2.6
    tight_central = (
        (ne_hef < 0.99)
        & (ne_em < 0.90)
        & (ch_mult + ne_mult > 1)
        & (ch_hef > 0.01)
        & (ch_mult > 0)
    )
    tight = ak.where(
        central,
        tight_central,
        ak.where(
            eta <= 2.7,
            (ne_hef < 0.90) & (ne_em < 0.99),
            ak.where(eta <= 3.0, ne_hef < 0.99, (ne_mult >= 2) & (ne_em < 0.4)),
        ),
    )
    lepton_veto = ~central | ((jets["muEF"] < 0.8) & (jets["chEmEF"] < 0.8))
    bits = ak.values_astype(tight, np.int32) * TIGHT + ak.values_astype(
        tight & lepton_veto, np.int32
    ) * TIGHT_LEPTON_VETO
    return ak.values_astype(bits, np.uint8)


def met_order(candidates: tuple[str, ...], flavour: str) -> tuple[str, ...]:
    """The MET collections to try, in order: Run 3 files prefer PuppiMET when it is allowed."""
    if is_run3(flavour) and "PuppiMET" in candidates:
        return ("PuppiMET", *(c for c in candidates if c != "PuppiMET"))
    return candidates
