"""The parametric CMS-like detector: a batch of Pythia events → NanoAOD columns.

Order of work per batch (and so of each event's random numbers):
1. generator truth (GenPart subset, GenMET, Generator_*) — no randomness;
2. muons, electrons, photons (efficiency, smearing, isolation, IDs);
3. jets from every visible particle except the isolated reconstructed
   leptons/photons and the muons (which leave little in the calorimeters;
   non-isolated reconstructed muons are clustered, as PF muons are);
4. MET from the reconstructed objects and the smeared unclustered rest.

Random numbers come from one generator per event seeded with
``[seed, stream, event]`` (:mod:`.randoms`), so a file's content does not
depend on batch or chunk sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np

from .config import DetectorConfig
from .jets import cluster_jets
from .met import missing_et
from .particles import NEUTRINOS, flatten_batch
from .randoms import EventRandom
from .reco import reconstruct_leptons_photons
from .truth import gen_met, gen_particles, generator_info

#: NanoAOD collections (with a counter ``nName``), in the order they are written.
COLLECTIONS = ("Muon", "Electron", "Photon", "Jet", "GenPart")


@dataclass
class EventColumns:
    """Simulated events as NanoAOD columns: flat scalars and jagged collections."""

    n_events: int
    scalars: dict[str, np.ndarray]
    collections: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]  # name -> (counts, columns)

    def to_branches(self) -> dict[str, np.ndarray | ak.Array]:
        """What uproot's ``mktree``/``extend`` take: scalars plus a record array per collection.

        A record array ``{"Muon": ak.zip(...)}`` becomes the shared counter
        ``nMuon`` and branches ``Muon_pt`` … in the TTree.
        """
        out: dict[str, np.ndarray | ak.Array] = dict(self.scalars)
        for name, (counts, columns) in self.collections.items():
            offsets = np.zeros(len(counts) + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            out[name] = ak.Array(
                ak.contents.ListOffsetArray(
                    ak.index.Index64(offsets),
                    ak.contents.RecordArray(
                        [ak.contents.NumpyArray(np.ascontiguousarray(v)) for v in columns.values()],
                        list(columns),
                    ),
                )
            )
        return out


def simulate(
    batch: ak.Array,
    charge_of: Callable[[np.ndarray], np.ndarray],
    seed: int,
    stream: int,
    event_numbers: np.ndarray,
    luminosity_block: int,
    config: DetectorConfig,
) -> EventColumns:
    """Run the detector on one batch of Pythia events (``nextBatch`` output)."""
    flat = flatten_batch(batch, charge_of)
    n = flat.n_events
    rnd = EventRandom(seed, stream, event_numbers)

    truth = gen_particles(flat)
    reco = reconstruct_leptons_photons(flat, config, rnd, truth.index_of_row)

    apid = np.abs(flat.pid)
    calo = (
        flat.final
        & ~np.isin(apid, NEUTRINOS)
        & (apid != 13)
        & (np.abs(flat.eta) < config.max_abs_eta)
    )
    for name in ("Electron", "Photon"):
        objs = reco[name]
        calo[objs.rows[objs.isolated]] = False
    muons = reco["Muon"]
    calo[muons.rows[~muons.isolated]] = True
    jets = cluster_jets(flat, np.flatnonzero(calo), config.jet, rnd)

    met = missing_et(n, jets, [reco["Muon"], reco["Electron"], reco["Photon"]], config.met, rnd)
    genmet = gen_met(flat)
    generator = generator_info(batch.info)

    scalars: dict[str, np.ndarray] = {
        "run": np.ones(n, dtype=np.uint32),
        "luminosityBlock": np.full(n, luminosity_block, dtype=np.uint32),
        "event": np.asarray(event_numbers, dtype=np.uint64),
        "genWeight": generator["weight"].astype(np.float32),
    }
    scalars.update({f"Generator_{k}": v for k, v in generator.items()})
    scalars.update({f"MET_{k}": v for k, v in met.items()})
    scalars.update({f"GenMET_{k}": v for k, v in genmet.items()})

    collections = {name: (objs.counts(n), objs.columns) for name, objs in reco.items()}
    collections["Jet"] = (np.bincount(jets.event, minlength=n).astype(np.int64), jets.columns)
    collections["GenPart"] = (truth.counts, truth.columns)
    return EventColumns(n, scalars, {k: collections[k] for k in COLLECTIONS})
