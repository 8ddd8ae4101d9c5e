"""The branches a task reads, loaded from coffea NanoEvents or directly from uproot.

A task never touches NanoEvents itself: it receives :class:`Inputs`, plain
awkward records keyed by the config block name (``muon``, ``jet``, ...) plus
MET, genWeight and the event ids.  The coffea processor builds them from
NanoEvents (:func:`inputs_from_nanoevents`), the benchmark's reference path
from ``uproot`` arrays (:func:`inputs_from_arrays`), so both run the very same
selection code.

What is read from which branch depends on the file's NanoAOD flavour
(:mod:`.flavour`: Run 2 UL, Run 3 v12, v15): a renamed branch is read under
its new name, a dropped jet ID is computed, photons without a mass are
massless, Run 3 MET is PuppiMET.  Further documented fallbacks:

* MET: the first of ``met.collections`` present (Run 3: PuppiMET first).
* A collection marked ``optional: true`` that a file lacks is read as empty.
* No ``genWeight`` branch: the file is data, every weight is 1.

Every substitution is reported in the output ``notes``; anything else
missing raises :class:`MissingBranchError` naming the file, the branch and
the config key that asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from eventlens.config.selection import TaskConfig
from eventlens.errors import InputFileError

from . import flavour as flav
from .flavour import MissingBranchError, Source

#: Per-event id branches copied into every table row.
EVENT_IDS = ("run", "luminosityBlock", "event")
LEPTON_BLOCKS = ("muon", "electron")

__all__ = [
    "EVENT_IDS",
    "MET_UNCLUSTERED_BRANCHES",
    "Inputs",
    "MissingBranchError",
    "Needs",
    "needs_of",
]


@dataclass(frozen=True)
class CollectionNeed:
    """The fields one config block reads, and the config key asking for each."""

    block: str
    collection: str
    fields: tuple[str, ...]
    optional: bool = False
    asked_by: dict[str, str] = field(default_factory=dict)
    #: Fields read from simulation only (data lacks them): jets' hadronFlavour for b-tag SFs.
    simulation: tuple[str, ...] = ()

    def key_of(self, name: str) -> str:
        return self.asked_by.get(name, f"objects.{self.block}")

    def fields_of(self, simulation: bool) -> tuple[str, ...]:
        return (*self.fields, *self.simulation) if simulation else self.fields


@dataclass(frozen=True)
class Needs:
    """Everything a task reads: object collections, MET candidates, event ids."""

    objects: dict[str, CollectionNeed]
    met_candidates: tuple[str, ...]
    #: HLT branches read from data (``data.triggers``).
    triggers: tuple[str, ...] = ()
    #: Read the MET collection's unclustered-energy variations where the file has them.
    met_unclustered: bool = False

    def filter_names(self) -> list[str]:
        """uproot ``filter_name`` patterns for every branch any file may need.

        Given to NanoEvents so that its schema is built from a few dozen
        branches instead of ~1500 (0.4 s per chunk on real NanoAOD).  Counter
        patterns cover both ``nMuon`` and the per-branch ``nMuon_pt`` that
        uproot-written files carry.  The branches a field may be read from in
        another NanoAOD flavour are included (a branch listed here is only
        read when used).
        """
        names = [*EVENT_IDS, "genWeight", *self.triggers]
        for met in self.met_candidates:
            names += [f"{met}_pt", f"{met}_phi"]
            if self.met_unclustered:
                names += [f"{met}_{b}" for b in MET_UNCLUSTERED_BRANCHES]
        for need in self.objects.values():
            c = need.collection
            fields = need.fields_of(True)
            names += [f"n{c}", f"n{c}_*", *(f"{c}_{f}" for f in fields)]
            for f in fields:
                names += [f"{c}_{alt}" for alt in flav.alternatives(need.block, f)]
        return list(dict.fromkeys(names))


#: NanoAOD's unclustered-energy MET variations, per MET collection: Run 3
#: (``*_pt/phiUnclusteredUp/Down``) and Run 2 (``MET_MetUnclustEnUpDeltaX/Y``, Up only).
MET_UNCLUSTERED_BRANCHES = (
    "ptUnclusteredUp",
    "ptUnclusteredDown",
    "phiUnclusteredUp",
    "phiUnclusteredDown",
    "MetUnclustEnUpDeltaX",
    "MetUnclustEnUpDeltaY",
)


def needs_of(cfg: TaskConfig, measurement: bool = False) -> Needs:
    """The fields each object block of ``cfg`` reads (kinematics + its cut branches).

    ``measurement`` (``eventlens infer``): also what the systematics read — jets'
    ``hadronFlavour`` in simulation for b-tag scale factors, the MET collection's
    unclustered-energy variations where present (:mod:`.systematics`).  Data
    requirements (``data.triggers``) are read in every run.
    """
    btag_sf = measurement and cfg.measurement.corrections is not None
    met_unclustered = measurement and cfg.measurement.shapes.get("met_unclustered", 0.0) > 0
    objects = {}
    for block, cuts in cfg.objects.items():
        fields = ["pt", "eta", "phi", "mass"]
        if block in LEPTON_BLOCKS:
            fields.append("charge")
        if block == "jet":
            fields.append(cfg.btag.branch)
        if cuts.id is not None:
            fields.append(cuts.id.branch)
        if cuts.isolation is not None:
            fields.append(cuts.isolation.branch)
        if cuts.electron_veto:
            fields.append("electronVeto")
        if cuts.jet_cleaning is not None:
            fields.append(cuts.jet_cleaning.branch)
        fields += [
            name for name, cut in (("dxy", cuts.dxy_max), ("dz", cuts.dz_max)) if cut is not None
        ]
        asked_by = {"charge": f"objects.{block}"}
        if cuts.jet_cleaning is not None:
            asked_by[cuts.jet_cleaning.branch] = f"objects.{block}.jet_cleaning"
        if cuts.electron_veto:
            asked_by["electronVeto"] = f"objects.{block}.electron_veto"
        if block == "jet":
            asked_by[cfg.btag.branch] = "btag.branch"
        if cuts.id is not None:
            asked_by[cuts.id.branch] = f"objects.{block}.id"
        if cuts.isolation is not None:
            asked_by[cuts.isolation.branch] = f"objects.{block}.isolation"
        asked_by.update(dxy=f"objects.{block}.dxy_max", dz=f"objects.{block}.dz_max")
        simulation: tuple[str, ...] = ()
        if block == "jet" and btag_sf:
            simulation = ("hadronFlavour",)
            asked_by["hadronFlavour"] = "measurement.corrections (b-tag scale factors)"
        objects[block] = CollectionNeed(
            block,
            cuts.collection,
            tuple(dict.fromkeys(fields)),
            cuts.optional,
            asked_by,
            simulation,
        )
    return Needs(objects, cfg.met.collections, cfg.data.triggers, met_unclustered)


def resolve_met(
    needs: Needs, has_collection: Callable[[str], bool], filename: str, flavour: str
) -> str:
    """The MET collection to use: the first candidate the file has (Run 3: PuppiMET first)."""
    for name in flav.met_order(needs.met_candidates, flavour):
        if has_collection(name):
            return name
    looked = ", ".join(f"{m}_pt" for m in needs.met_candidates)
    raise MissingBranchError(
        f"{filename}: no MET collection (looked for {looked}; the list is met.collections "
        "in the selection config)"
    )


@dataclass
class FileReading:
    """How one file's branches answer a task's needs (:func:`resolve_branches`)."""

    flavour: str
    met: str
    absent: set[str]  # optional collections the file lacks (read as empty)
    sources: dict[tuple[str, str], Source]  # (block, field) -> where the values come from
    notes: set[str]
    branches: list[str]  # the flat branches to read

    def summary(self) -> str:
        """The one log line: flavour and substitutions."""
        subs = sorted(n.split(": ", 1)[-1] for n in self.notes)
        return f"NanoAOD {self.flavour}" + (f"; {'; '.join(subs)}" if subs else "")


@dataclass
class Inputs:
    """One chunk's worth of the branches a task uses, as plain awkward arrays."""

    n: int
    objects: dict[str, ak.Array]
    met: ak.Array  # records {pt, phi}, one per event
    gen_weight: np.ndarray | None  # None for data
    ids: dict[str, np.ndarray]
    notes: set[str] = field(default_factory=set)
    #: Data: the ``data.triggers`` branches (HLT path -> bool per event).
    triggers: dict[str, np.ndarray] = field(default_factory=dict)
    #: The MET collection's unclustered variations present in the file (branch suffix ->
    #: values), read for ``eventlens infer`` (:data:`MET_UNCLUSTERED_BRANCHES`).
    met_unclustered: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def is_simulation(self) -> bool:
        return self.gen_weight is not None

    def __getitem__(self, block: str) -> ak.Array:
        return self.objects[block]


def _empty_collection(n: int, fields: tuple[str, ...]) -> ak.Array:
    content = ak.zip({f: np.zeros(0, np.int32 if f == "charge" else np.float32) for f in fields})
    return ak.unflatten(content, np.zeros(n, dtype=np.int64))


def inputs_from_nanoevents(events: ak.Array, needs: Needs) -> Inputs:
    """Load (materialise) what the task needs from a coffea NanoEvents chunk.

    Raises MissingBranchError for absent required branches and InputFileError
    when the file's baskets cannot be read (corrupt or truncated data).
    """
    meta = events.metadata
    where = f"{meta.get('filename', '?')}"
    present = set(events.fields)
    flat = set(present)
    for name in present:
        sub = events[name].fields
        flat |= {f"{name}_{f}" for f in sub}
    reading = resolve_branches(needs, flat, where, meta.get(flav.FLAVOUR_KEY))
    for f in EVENT_IDS:
        if f not in present:
            raise MissingBranchError(f"{where}: missing branch {f}")
    n = len(events)
    simulation = "genWeight" in present
    objects = {}
    for block, need in needs.objects.items():
        if need.collection in reading.absent:
            objects[block] = _empty_collection(n, need.fields_of(simulation))
            continue
        coll = events[need.collection]
        objects[block] = _collection_values(need, reading, coll.__getitem__, simulation)
    met_coll = events[reading.met]
    met = ak.zip({"pt": met_coll.pt, "phi": met_coll.phi})
    gen_weight = events.genWeight if simulation else None
    ids = {f: events[f] for f in EVENT_IDS}
    # NanoAODSchema groups HLT_X as events.HLT.X
    triggers = {} if simulation else {t: events["HLT"][t[4:]] for t in needs.triggers}
    unclustered = {}
    if needs.met_unclustered:
        have = set(met_coll.fields)
        unclustered = {b: met_coll[b] for b in MET_UNCLUSTERED_BRANCHES if b in have}
    try:
        objects = {k: _plain(v) for k, v in objects.items()}
        met = _plain(met)
        ids = {k: ak.to_numpy(ak.materialize(v)) for k, v in ids.items()}
        weights = None if gen_weight is None else ak.to_numpy(ak.materialize(gen_weight))
        triggers = {k: ak.to_numpy(ak.materialize(v)).astype(bool) for k, v in triggers.items()}
        unclustered = {k: ak.to_numpy(ak.materialize(v)) for k, v in unclustered.items()}
    except Exception as exc:  # decompression/deserialisation errors come in many types
        raise InputFileError(
            f"{where}: entries {meta.get('entrystart')}-{meta.get('entrystop')} unreadable "
            f"({type(exc).__name__}: {exc})".replace("\n", " ")
        ) from exc
    return Inputs(n, objects, met, weights, ids, set(reading.notes), triggers, unclustered)


def _collection_values(
    need: CollectionNeed,
    reading: FileReading,
    get: Callable[[str], ak.Array],
    simulation: bool = False,
) -> ak.Array:
    """The record of ``need``'s fields, each read through its resolved source."""
    first = get("pt")
    return ak.zip(
        {
            f: flav.values(reading.sources[(need.block, f)], f, get, first)
            for f in need.fields_of(simulation)
        }
    )


def _plain(array: ak.Array) -> ak.Array:
    """Materialise a NanoEvents-derived array into plain numpy-backed awkward.

    Later operations then skip the virtual-buffer checks and the NanoEvents
    parameters (``__doc__`` on every field), ~10 % of a task's selection time.
    """
    form, length, buffers = ak.to_buffers(ak.without_parameters(ak.materialize(array)))
    return ak.from_buffers(form, length, buffers)


def resolve_branches(
    needs: Needs, keys: Collection[str], filename: str, flavour: str | None = None
) -> FileReading:
    """Check a file's flat branch list against the task's needs (see :class:`FileReading`).

    Used before processing (fail fast, one message per file), by the coffea
    processor on each chunk and by the direct uproot reader.  ``flavour``
    (known from the driver's look at all the file's branches) is detected
    from ``keys`` when not given.  Raises MissingBranchError naming the first
    branch nothing can stand in for.
    """
    keyset = set(keys)
    simulation = "genWeight" in keyset
    flavour = flavour or flav.detect(keyset)
    prefixes = {k.split("_", 1)[0] for k in keyset if "_" in k}
    met = resolve_met(needs, lambda name: f"{name}_pt" in keyset, filename, flavour)
    notes = set()
    if met != needs.met_candidates[0]:
        notes.add(f"{filename}: MET read from {met}_pt/{met}_phi")
    absent, sources = set(), {}
    branches = [*EVENT_IDS, f"{met}_pt", f"{met}_phi"]
    for need in needs.objects.values():
        c = need.collection
        if c not in prefixes and f"n{c}" not in keyset:
            if not need.optional:
                raise MissingBranchError(
                    f"{filename}: no {c} collection (branches {c}_*; asked for by "
                    f"objects.{need.block}: mark it 'optional: true' to read it as empty)"
                )
            absent.add(c)
            notes.add(f"{filename}: no {c} collection, read as empty (optional)")
            continue
        present = {k[len(c) + 1 :] for k in keyset if k.startswith(f"{c}_")}
        for f in need.fields_of(simulation):
            src = flav.resolve(need.block, c, f, present, filename, need.key_of(f))
            sources[(need.block, f)] = src
            branches += flav.source_branches(c, f, src)
            if src.note:
                notes.add(f"{filename}: {src.note}")
    for f in (*EVENT_IDS, f"{met}_phi"):
        if f not in keyset:
            raise MissingBranchError(f"{filename}: missing branch {f}")
    if not simulation:
        for path in needs.triggers:
            if path not in keyset:
                raise MissingBranchError(
                    f"{filename}: no trigger branch {path} (asked for by data.triggers in the "
                    "selection config; remove it there, or split the data by era)"
                )
        branches += list(needs.triggers)
    return FileReading(flavour, met, absent, sources, notes, list(dict.fromkeys(branches)))


def inputs_from_arrays(arrays: ak.Array, needs: Needs, reading: FileReading) -> Inputs:
    """Build :class:`Inputs` from flat NanoAOD branches read with ``uproot`` (reference path)."""
    n = len(arrays)
    simulation = "genWeight" in arrays.fields
    objects = {}
    for block, need in needs.objects.items():
        if need.collection in reading.absent:
            objects[block] = _empty_collection(n, need.fields_of(simulation))
            continue
        c = need.collection

        def get(name: str, c: str = c) -> ak.Array:
            return arrays[f"{c}_{name}"]

        objects[block] = _collection_values(need, reading, get, simulation)
    met = reading.met
    met_arr = ak.zip({"pt": arrays[f"{met}_pt"], "phi": arrays[f"{met}_phi"]})
    gen_weight = ak.to_numpy(arrays["genWeight"]) if simulation else None
    ids = {f: ak.to_numpy(arrays[f]) for f in EVENT_IDS}
    triggers = {}
    if not simulation:
        triggers = {t: ak.to_numpy(arrays[t]).astype(bool) for t in needs.triggers}
    unclustered = {}
    if needs.met_unclustered:
        unclustered = {
            b: ak.to_numpy(arrays[f"{met}_{b}"])
            for b in MET_UNCLUSTERED_BRANCHES
            if f"{met}_{b}" in arrays.fields
        }
    return Inputs(
        n, objects, met_arr, gen_weight, ids, set(reading.notes), triggers, unclustered
    )
