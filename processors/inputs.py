"""The branches a task reads, loaded from coffea NanoEvents or directly from uproot.

A task never touches NanoEvents itself: it receives :class:`Inputs`, plain
awkward records keyed by the config block name (``muon``, ``jet``, ...) plus
MET, genWeight and the event ids.  The coffea processor builds them from
NanoEvents (:func:`inputs_from_nanoevents`), the benchmark's reference path
from ``uproot`` arrays (:func:`inputs_from_arrays`), so both run the very same
selection code.

Documented fallbacks, applied per file and reported in the output ``notes``:

* MET: the first of ``met.collections`` present (``MET``, then ``PFMET`` as in
  NanoAOD v15, then ``PuppiMET``).
* A collection marked ``optional: true`` that a file lacks is read as empty.
* No ``genWeight`` branch: the file is data, every weight is 1.

Anything else missing raises :class:`MissingBranchError` naming the file and
the branch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from eventlens.config.selection import TaskConfig
from eventlens.errors import InputFileError

#: Per-event id branches copied into every table row.
EVENT_IDS = ("run", "luminosityBlock", "event")
LEPTON_BLOCKS = ("muon", "electron")


class MissingBranchError(InputFileError):
    """A file lacks a branch or collection the task needs."""


@dataclass(frozen=True)
class CollectionNeed:
    collection: str
    fields: tuple[str, ...]
    optional: bool = False


@dataclass(frozen=True)
class Needs:
    """Everything a task reads: object collections, MET candidates, event ids."""

    objects: dict[str, CollectionNeed]
    met_candidates: tuple[str, ...]

    def filter_names(self) -> list[str]:
        """uproot ``filter_name`` patterns for every branch any file may need.

        Given to NanoEvents so that its schema is built from a few dozen
        branches instead of ~1500 (0.4 s per chunk on real NanoAOD).  Counter
        patterns cover both ``nMuon`` and the per-branch ``nMuon_pt`` that
        uproot-written files carry.
        """
        names = [*EVENT_IDS, "genWeight"]
        for met in self.met_candidates:
            names += [f"{met}_pt", f"{met}_phi"]
        for need in self.objects.values():
            c = need.collection
            names += [f"n{c}", f"n{c}_*", *(f"{c}_{f}" for f in need.fields)]
        return list(dict.fromkeys(names))

    def branches(self, met: str, absent: Collection[str] = ()) -> list[str]:
        """Flat NanoAOD branch names for a file whose MET is called ``met``."""
        names = [*EVENT_IDS, f"{met}_pt", f"{met}_phi"]
        for need in self.objects.values():
            if need.collection not in absent:
                names += [f"{need.collection}_{f}" for f in need.fields]
        return names


def needs_of(cfg: TaskConfig) -> Needs:
    """The fields each object block of ``cfg`` reads (kinematics + its cut branches)."""
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
        fields += [
            name for name, cut in (("dxy", cuts.dxy_max), ("dz", cuts.dz_max)) if cut is not None
        ]
        objects[block] = CollectionNeed(
            cuts.collection, tuple(dict.fromkeys(fields)), cuts.optional
        )
    return Needs(objects, cfg.met.collections)


def resolve_met(needs: Needs, has_collection: Callable[[str], bool], filename: str) -> str:
    """The MET collection to use: the first candidate the file has."""
    for name in needs.met_candidates:
        if has_collection(name):
            return name
    looked = ", ".join(f"{m}_pt" for m in needs.met_candidates)
    raise MissingBranchError(f"{filename}: no MET collection (looked for {looked})")


@dataclass
class Inputs:
    """One chunk's worth of the branches a task uses, as plain awkward arrays."""

    n: int
    objects: dict[str, ak.Array]
    met: ak.Array  # records {pt, phi}, one per event
    gen_weight: np.ndarray | None  # None for data
    ids: dict[str, np.ndarray]
    notes: set[str] = field(default_factory=set)

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
    notes: set[str] = set()
    met_name = resolve_met(needs, present.__contains__, where)
    if met_name != needs.met_candidates[0]:
        notes.add(f"{where}: MET read from {met_name}_pt/{met_name}_phi")
    for f in EVENT_IDS:
        if f not in present:
            raise MissingBranchError(f"{where}: missing branch {f}")
    n = len(events)
    objects = {}
    for block, need in needs.objects.items():
        if need.collection not in present:
            if not need.optional:
                raise MissingBranchError(
                    f"{where}: no {need.collection} collection (branches {need.collection}_*)"
                )
            notes.add(f"{where}: no {need.collection} collection, read as empty (optional)")
            objects[block] = _empty_collection(n, need.fields)
            continue
        coll = events[need.collection]
        _check_fields(where, need.collection, need.fields, set(coll.fields))
        objects[block] = ak.zip({f: coll[f] for f in need.fields})
    _check_fields(where, met_name, ("pt", "phi"), set(events[met_name].fields))
    met = ak.zip({"pt": events[met_name].pt, "phi": events[met_name].phi})
    gen_weight = events.genWeight if "genWeight" in present else None
    ids = {f: events[f] for f in EVENT_IDS}
    try:
        objects = {k: _plain(v) for k, v in objects.items()}
        met = _plain(met)
        ids = {k: ak.to_numpy(ak.materialize(v)) for k, v in ids.items()}
        weights = None if gen_weight is None else ak.to_numpy(ak.materialize(gen_weight))
    except Exception as exc:  # decompression/deserialisation errors come in many types
        raise InputFileError(
            f"{where}: entries {meta.get('entrystart')}-{meta.get('entrystop')} unreadable "
            f"({type(exc).__name__}: {exc})".replace("\n", " ")
        ) from exc
    return Inputs(n, objects, met, weights, ids, notes)


def _plain(array: ak.Array) -> ak.Array:
    """Materialise a NanoEvents-derived array into plain numpy-backed awkward.

    Later operations then skip the virtual-buffer checks and the NanoEvents
    parameters (``__doc__`` on every field), ~10 % of a task's selection time.
    """
    form, length, buffers = ak.to_buffers(ak.without_parameters(ak.materialize(array)))
    return ak.from_buffers(form, length, buffers)


def _check_fields(where: str, collection: str, fields: tuple[str, ...], present: set[str]) -> None:
    missing = [f"{collection}_{f}" for f in fields if f not in present]
    if missing:
        raise MissingBranchError(f"{where}: missing branch {', '.join(missing)}")


def resolve_branches(
    needs: Needs, keys: Collection[str], filename: str
) -> tuple[str, set[str], set[str]]:
    """Check a file's branch list: returns (MET name, absent optional collections, notes).

    Used before processing (fail fast, one message per file) and by the direct
    uproot reader.  Raises MissingBranchError naming the first missing branch.
    """
    keyset = set(keys)
    prefixes = {k.split("_", 1)[0] for k in keyset if "_" in k}
    met = resolve_met(needs, lambda name: f"{name}_pt" in keyset, filename)
    notes = set()
    if met != needs.met_candidates[0]:
        notes.add(f"{filename}: MET read from {met}_pt/{met}_phi")
    absent = set()
    for need in needs.objects.values():
        if need.collection not in prefixes and f"n{need.collection}" not in keyset:
            if not need.optional:
                raise MissingBranchError(
                    f"{filename}: no {need.collection} collection (branches {need.collection}_*)"
                )
            absent.add(need.collection)
            notes.add(f"{filename}: no {need.collection} collection, read as empty (optional)")
    missing = [b for b in needs.branches(met, absent) if b not in keyset]
    if missing:
        raise MissingBranchError(f"{filename}: missing branch {', '.join(missing)}")
    return met, absent, notes


def inputs_from_arrays(
    arrays: ak.Array, needs: Needs, met: str, absent: Collection[str] = ()
) -> Inputs:
    """Build :class:`Inputs` from flat NanoAOD branches read with ``uproot`` (reference path)."""
    n = len(arrays)
    objects = {}
    for block, need in needs.objects.items():
        if need.collection in absent:
            objects[block] = _empty_collection(n, need.fields)
        else:
            objects[block] = ak.zip({f: arrays[f"{need.collection}_{f}"] for f in need.fields})
    met_arr = ak.zip({"pt": arrays[f"{met}_pt"], "phi": arrays[f"{met}_phi"]})
    gen_weight = ak.to_numpy(arrays["genWeight"]) if "genWeight" in arrays.fields else None
    ids = {f: ak.to_numpy(arrays[f]) for f in EVENT_IDS}
    return Inputs(n, objects, met_arr, gen_weight, ids)
