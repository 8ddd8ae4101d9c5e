"""The parametric CMS-like detector: a batch of Pythia events → NanoAOD columns.

Order of work per batch (and so of each event's random numbers):
1. generator truth (GenPart subset, GenMET, Generator_*) — no randomness;
2. muons, electrons, photons (efficiency, smearing, isolation, IDs);
3. jets from every visible particle except the isolated reconstructed
   leptons/photons; muons leave little in the calorimeters but particle flow
   keeps their tracks, so every muon inside the tracker (|η| < 2.5) that is
   not an isolated reconstructed muon is clustered — non-isolated
   reconstructed muons as PF muons, muons lost to the reconstruction
   inefficiency as charged hadrons — and muons beyond the tracker are lost;
4. MET from the reconstructed objects and the smeared unclustered rest (so
   a muon lost to the muon reconstruction is *not* missing energy).

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
from .particles import NEUTRINOS, TRACKER_ETA, FlatEvents, flatten_batch, segment_sum
from .pileup import (
    PileupLibrary,
    PileupSettings,
    isolation_density,
    jet_offset,
    no_overlay,
    overlay,
)
from .randoms import EventRandom
from .reco import RecoObjects, reconstruct_leptons_photons
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


@dataclass(frozen=True)
class PileupInput:
    """What the detector needs to overlay pileup on a batch."""

    library: PileupLibrary
    settings: PileupSettings


def simulate(
    batch: ak.Array,
    charge_of: Callable[[np.ndarray], np.ndarray],
    seed: int,
    stream: int,
    event_numbers: np.ndarray,
    luminosity_block: int,
    config: DetectorConfig,
    pileup: PileupInput | None = None,
) -> EventColumns:
    """Run the detector on one batch of Pythia events (``nextBatch`` output)."""
    return simulate_flat(
        flatten_batch(batch, charge_of),
        generator_info(batch.info),
        seed,
        stream,
        event_numbers,
        luminosity_block,
        config,
        pileup,
    )


def jet_inputs(
    flat: FlatEvents, reco: dict[str, RecoObjects], config: DetectorConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Rows clustered into jets, and which rows are PF muons (the reconstructed ones).

    Everything visible within the calorimeters except isolated reconstructed
    leptons/photons and charged pileup inside the tracker (CHS); muons only
    inside the tracker, where particle flow keeps their tracks whether or not
    the muon reconstruction found them.
    """
    apid = np.abs(flat.pid)
    muon = flat.final & (apid == 13)
    calo = (
        flat.final
        & ~np.isin(apid, NEUTRINOS)
        & ~muon
        & (np.abs(flat.eta) < config.max_abs_eta)
    )
    calo |= muon & (np.abs(flat.eta) < TRACKER_ETA)
    calo &= ~flat.chs_removed
    for objs in reco.values():
        calo[objs.rows[objs.isolated]] = False
        calo[objs.members[objs.isolated[objs.member_of]]] = False
    pf_muon = np.zeros(len(apid), dtype=bool)
    pf_muon[reco["Muon"].rows] = True
    return np.flatnonzero(calo), pf_muon


def simulate_flat(
    flat: FlatEvents,
    generator: dict[str, np.ndarray],
    seed: int,
    stream: int,
    event_numbers: np.ndarray,
    luminosity_block: int,
    config: DetectorConfig,
    pileup: PileupInput | None = None,
) -> EventColumns:
    """Run the detector on flat generator particles (``generator``: the Generator_* columns)."""
    n = flat.n_events
    offset = iso_density = None
    if pileup is not None and pileup.settings.enabled:
        flat, pu = overlay(flat, pileup.library, pileup.settings, seed, stream, event_numbers,
                           config.vertex_min_tracks, config.vertex_good_min_tracks)
        mu = pileup.settings.mu
        offset = jet_offset(pileup.library, pu.n_pu, config.jet.radius)
        iso_density = isolation_density(pileup.library, pu.n_pu, config.iso_particle_pt_min)
    else:
        pu, mu = no_overlay(n), 0.0
    rnd = EventRandom(seed, stream, event_numbers)

    truth = gen_particles(flat)
    reco = reconstruct_leptons_photons(flat, config, rnd, truth.index_of_row, iso_density)

    inputs, pf_muon = jet_inputs(flat, reco, config)
    jets = cluster_jets(flat, inputs, config.jet, rnd, pf_muon=pf_muon, offset=offset)

    # Particle-flow MET also counts the charged pileup that CHS took out of the jets.
    chs = flat.chs_removed & flat.final
    for objs in reco.values():
        chs[objs.rows[objs.isolated]] = False
    rows = np.flatnonzero(chs)
    extra = (
        pu.trk_px + segment_sum(flat.px[rows], flat.event[rows], n),
        pu.trk_py + segment_sum(flat.py[rows], flat.event[rows], n),
        pu.trk_sumpt + segment_sum(flat.pt[rows], flat.event[rows], n),
    )
    met = missing_et(n, jets, [reco["Muon"], reco["Electron"], reco["Photon"]], config.met, rnd,
                     extra_unclustered=extra)
    genmet = gen_met(flat)

    scalars: dict[str, np.ndarray] = {
        "run": np.ones(n, dtype=np.uint32),
        "luminosityBlock": np.full(n, luminosity_block, dtype=np.uint32),
        "event": np.asarray(event_numbers, dtype=np.uint64),
        "genWeight": generator["weight"].astype(np.float32),
    }
    scalars.update({f"Generator_{k}": v for k, v in generator.items()})
    scalars.update({f"MET_{k}": v for k, v in met.items()})
    scalars.update({f"GenMET_{k}": v for k, v in genmet.items()})
    scalars.update({
        "Pileup_nPU": pu.n_pu.astype(np.int32),
        "Pileup_nTrueInt": np.full(n, mu, dtype=np.float32),
        "PV_npvs": pu.n_vertices.astype(np.int32),
        "PV_npvsGood": pu.n_good_vertices.astype(np.int32),
        # NanoAODSchema builds a vertex from PV_x/y/z: the beam spot sits at the origin
        # and its ~10 um transverse size is neglected, so the primary vertex has x = y = 0.
        "PV_x": np.zeros(n, dtype=np.float32),
        "PV_y": np.zeros(n, dtype=np.float32),
        "PV_z": pu.pv_z.astype(np.float32),
    })

    collections = {name: (objs.counts(n), objs.columns) for name, objs in reco.items()}
    collections["Jet"] = (np.bincount(jets.event, minlength=n).astype(np.int64), jets.columns)
    collections["GenPart"] = (truth.counts, truth.columns)
    return EventColumns(n, scalars, {k: collections[k] for k in COLLECTIONS})
