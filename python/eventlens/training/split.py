"""Train / validation / test split by a hash of each event's identity.

Every labelled event goes to a split decided by a 64-bit hash of (dataset name,
run, luminosityBlock, event) and a salt — not by its position in the table.
Why a hash rather than a seeded permutation:

* it is the **same for every model** trained on the table (the split does not
  depend on the model's seed, the file order, the chunking of the Parquet
  files, or on which other events are present), so model comparisons are made
  on exactly the same test events;
* it is **stable when a table grows**: adding samples never moves an event
  that was already in the test split into training;
* it is computable anywhere from the event identity alone (an analysis can
  tell whether a simulated event was seen in training).

The dataset name is part of the identity because generated samples may reuse
(run, lumi, event) numbers.  The hash is SplitMix64 chained over the four
fields, so u = hash / 2⁶⁴ is uniform on [0, 1): ``u < train`` → train,
``u < train + val`` → validation, the rest → test.  The shares are therefore
80/10/10 *in expectation* (binomial fluctuations, ±0.1 % at 10⁵ events).
Limits (``limits.train: N``) keep the N events of lowest u in a split: again
identical across models, and a smaller limit gives a subset of a larger one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging

import numpy as np

from .config import SplitConfig
from .table import ObjectTable

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def _name_hash(text: str) -> np.uint64:
    return np.uint64(
        int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    )


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (wrapping uint64 arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def event_hash(
    dataset_names: list[str] | np.ndarray,
    run: np.ndarray,
    lumi: np.ndarray,
    event: np.ndarray,
    salt: str,
) -> np.ndarray:
    """64-bit hash per event of (dataset name, run, lumi, event, salt)."""
    names = np.asarray(dataset_names)
    uniq, inverse = np.unique(names, return_inverse=True)
    name_h = np.array([_name_hash(str(u)) for u in uniq], dtype=np.uint64)[inverse.reshape(-1)]
    with np.errstate(over="ignore"):
        h = _mix(name_h ^ _name_hash(salt))
        for col in (run, lumi, event):
            h = _mix(h ^ np.asarray(col, dtype=np.uint64))
    return h


def uniform_from_hash(h: np.ndarray) -> np.ndarray:
    """Map 64-bit hashes to floats in [0, 1) (53-bit mantissa)."""
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclasses.dataclass
class Split:
    """Indices (into the table, ascending) of the labelled events of each split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    digests: dict[str, str]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in SPLITS:
            raise KeyError(f"no split {name!r}; splits are {SPLITS}")
        return getattr(self, name)

    def counts(self, labels: np.ndarray, classes: list[str]) -> dict[str, dict[str, int]]:
        """Events per class in each split."""
        return {
            s: {c: int((labels[self[s]] == i).sum()) for i, c in enumerate(classes)} for s in SPLITS
        }


def split_table(
    table: ObjectTable, config: SplitConfig, limits: dict[str, int | None] | None = None
) -> Split:
    """Split the table's labelled events (label ≥ 0); see the module docstring."""
    names = np.asarray(table.datasets, dtype=object)[table.dataset] if len(table) else []
    h = event_hash(names, table.run, table.lumi, table.event, config.salt)
    u = uniform_from_hash(h)
    labelled = table.label >= 0
    n_other = len(table) - int(labelled.sum())
    if n_other:
        log.info(
            "object table: %d events without a class of the task (label -1: data, or "
            "processes outside the classes) are left out of training and its metrics",
            n_other,
        )
    masks = {
        "train": labelled & (u < config.train),
        "val": labelled & (u >= config.train) & (u < config.train + config.val),
        "test": labelled & (u >= config.train + config.val),
    }
    out: dict[str, np.ndarray] = {}
    digests: dict[str, str] = {}
    for name, mask in masks.items():
        idx = np.flatnonzero(mask)
        limit = (limits or {}).get(name)
        if limit is not None and idx.size > limit:
            idx = np.sort(idx[np.argsort(u[idx], kind="stable")[:limit]])
        out[name] = idx
        digests[name] = hashlib.sha256(np.sort(h[idx]).tobytes()).hexdigest()[:16]
    dup = len(np.unique(h[labelled])) != int(labelled.sum())
    if dup:
        log.warning(
            "object table %s: some labelled events share (dataset, run, lumi, event); "
            "duplicates always land in the same split",
            table.path,
        )
    return Split(train=out["train"], val=out["val"], test=out["test"], digests=digests)
