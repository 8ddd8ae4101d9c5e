"""Small NanoAOD-like files for the processor tests, written with uproot mktree/extend.

They carry the branches of the project's generator (Muon_*, Electron_*,
Photon_*, Jet_*, MET_*, genWeight, run/luminosityBlock/event, a Runs tree
with genEventSumw/genEventCount), with values chosen per event so that the
tests know exactly what the selection must do.  Objects default to values
that pass every cut; pass keyword overrides to make them fail or be NaN.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

MUON_MASS = 0.10566

#: Per collection: field -> (dtype, default value passing the task cuts).
FIELDS: dict[str, dict[str, tuple[type, Any]]] = {
    "Muon": {
        "pt": (np.float32, 20.0),
        "eta": (np.float32, 0.0),
        "phi": (np.float32, 0.0),
        "mass": (np.float32, MUON_MASS),
        "charge": (np.int32, 1),
        "pfRelIso03_all": (np.float32, 0.01),
        "pfRelIso04_all": (np.float32, 0.01),
        "tightId": (np.bool_, True),
        "mediumId": (np.bool_, True),
        "looseId": (np.bool_, True),
        "dxy": (np.float32, 0.001),
        "dz": (np.float32, 0.01),
    },
    "Electron": {
        "pt": (np.float32, 30.0),
        "eta": (np.float32, 0.5),
        "phi": (np.float32, 1.0),
        "mass": (np.float32, 0.000511),
        "charge": (np.int32, -1),
        "pfRelIso03_all": (np.float32, 0.01),
        "cutBased": (np.int32, 4),
        "dxy": (np.float32, 0.001),
        "dz": (np.float32, 0.01),
    },
    "Photon": {
        "pt": (np.float32, 60.0),
        "eta": (np.float32, 0.3),
        "phi": (np.float32, 0.0),
        "mass": (np.float32, 0.0),
        "pfRelIso03_all": (np.float32, 0.01),
        "cutBased": (np.int32, 3),
        "mvaID": (np.float32, 0.9),
        "electronVeto": (np.bool_, True),
    },
    "Jet": {
        "pt": (np.float32, 50.0),
        "eta": (np.float32, 1.0),
        "phi": (np.float32, 2.5),
        "mass": (np.float32, 5.0),
        "btagDeepFlavB": (np.float32, 0.05),
        "hadronFlavour": (np.int32, 0),
        "jetId": (np.int32, 6),
    },
}


def obj(**values: Any) -> dict[str, Any]:
    """One object: given values, the rest from :data:`FIELDS` defaults."""
    return values


def muon_pair(
    mass: float,
    pt: float = 10.0,
    eta: float = 0.2,
    phi: float = 0.3,
    charges: tuple[int, int] = (1, -1),
) -> list[dict[str, Any]]:
    """Two equal-pT muons at the same η whose invariant mass is ``mass``.

    At equal pT and η, m² = 4 m_μ² + 2 p² cosh²η (1 − cos Δφ) (massive muons),
    solved for Δφ; the caller must pick pT large enough for the mass.
    """
    p2 = (pt * math.cosh(eta)) ** 2
    e2 = p2 + MUON_MASS**2
    # m² = 2 m_μ² + 2 (E² − p² cosθ12), with cosθ12 = (pT² cos Δφ + pz²) / p²
    cos12 = (e2 - (mass**2 / 2 - MUON_MASS**2)) / p2
    pz2 = (pt * math.sinh(eta)) ** 2
    cos_dphi = (cos12 * p2 - pz2) / pt**2
    dphi = math.acos(max(-1.0, min(1.0, cos_dphi)))
    return [
        obj(pt=pt, eta=eta, phi=phi, charge=charges[0]),
        obj(pt=pt * 0.999999, eta=eta, phi=phi + dphi, charge=charges[1]),
    ]


def photon_pair(
    mass: float, pt: float = 60.0, eta: float = 0.3, phi: float = 0.0
) -> list[dict[str, Any]]:
    """Two massless photons of equal pT and η with invariant mass ``mass``."""
    cos_dphi = 1.0 - mass**2 / (2.0 * pt**2)
    dphi = math.acos(max(-1.0, min(1.0, cos_dphi)))
    return [obj(pt=pt, eta=eta, phi=phi), obj(pt=pt * 0.999999, eta=eta, phi=phi + dphi)]


def event(
    muons: Sequence[dict[str, Any]] = (),
    electrons: Sequence[dict[str, Any]] = (),
    photons: Sequence[dict[str, Any]] = (),
    jets: Sequence[dict[str, Any]] = (),
    met: tuple[float, float] = (25.0, -2.0),
    gen_weight: float = 1.0,
) -> dict[str, Any]:
    return {
        "Muon": list(muons),
        "Electron": list(electrons),
        "Photon": list(photons),
        "Jet": list(jets),
        "met": met,
        "genWeight": gen_weight,
    }


def _collection(name: str, events: Sequence[dict[str, Any]]) -> ak.Array:
    counts = np.array([len(e[name]) for e in events], dtype=np.int64)
    columns = {}
    for field, (dtype, default) in FIELDS[name].items():
        flat = [o.get(field, default) for e in events for o in e[name]]
        columns[field] = ak.unflatten(np.asarray(flat, dtype=dtype), counts)
    return ak.zip(columns)


def write_nanoaod(
    path: str | Path,
    events: Sequence[dict[str, Any]],
    *,
    simulation: bool = True,
    runs_sumw: float | bool | None = True,
    drop: Iterable[str] = (),
    met_name: str = "MET",
    first_event: int = 1,
    batches: int = 2,
    flavour: str | None = None,
) -> Path:
    """Write ``events`` as a NanoAOD-like file (``Events`` in ``batches`` baskets).

    ``runs_sumw``: True writes Σ genWeight of the file into Runs, a number
    writes that number, None writes no Runs tree.  ``drop`` removes whole
    collections (``"Photon"``) or single branches (``"Muon_tightId"``).
    ``flavour`` ``"v9"``, ``"v12"`` or ``"v15"`` gives the file that NanoAOD
    version's branch set where eventlens reads differently (:func:`_flavoured`).
    """
    path = Path(path)
    drop = set(drop)
    n = len(events)
    data: dict[str, Any] = {
        "run": np.full(n, 1, dtype=np.uint32),
        "luminosityBlock": np.arange(n, dtype=np.uint32) // 10 + 1,
        "event": np.arange(first_event, first_event + n, dtype=np.uint64),
    }
    if simulation:
        data["genWeight"] = np.array([e["genWeight"] for e in events], dtype=np.float32)
    for name in FIELDS:
        if name in drop:
            continue
        coll = _collection(name, events)
        data[name] = ak.zip({f: coll[f] for f in coll.fields if f"{name}_{f}" not in drop})
    data[f"{met_name}_pt"] = np.array([e["met"][0] for e in events], dtype=np.float32)
    data[f"{met_name}_phi"] = np.array([e["met"][1] for e in events], dtype=np.float32)
    data[f"{met_name}_sumEt"] = data[f"{met_name}_pt"] * 5
    if flavour is not None:
        data = _flavoured(data, events, flavour, met_name)
    with uproot.recreate(path) as f:
        bounds = np.linspace(0, n, batches + 1).astype(int)
        tree = None
        for lo, hi in itertools.pairwise(bounds):
            chunk = {k: v[lo:hi] for k, v in data.items()}
            if tree is None:
                tree = f.mktree(
                    "Events",
                    {
                        k: ak.type(v) if isinstance(v, ak.Array) else v.dtype
                        for k, v in chunk.items()
                    },
                )
            tree.extend(chunk)
        if simulation and runs_sumw is not None and runs_sumw is not False:
            sumw = (
                float(np.nansum(data["genWeight"].astype(np.float64)))
                if runs_sumw is True
                else float(runs_sumw)
            )
            f.mktree(
                "Runs", {"run": np.uint32, "genEventSumw": np.float64, "genEventCount": np.int64}
            )
            f["Runs"].extend(
                {
                    "run": np.array([1], np.uint32),
                    "genEventSumw": np.array([sumw]),
                    "genEventCount": np.array([n], np.int64),
                }
            )
    return path


#: Jet energy fractions and multiplicities (v15 has them instead of Jet_jetId); the
#: defaults pass the Run 3 tight + lepton-veto jet ID.
JET_ID_FIELDS = {
    "neHEF": (np.float32, 0.1),
    "neEmEF": (np.float32, 0.1),
    "chHEF": (np.float32, 0.5),
    "chEmEF": (np.float32, 0.1),
    "muEF": (np.float32, 0.0),
    "chMultiplicity": (np.uint8, 5),
    "neMultiplicity": (np.uint8, 3),
}
#: PuppiMET is written as this fraction of the PF MET, so a test sees which one was read.
PUPPI_SCALE = 0.5


def _flavoured(
    data: dict[str, Any], events: Sequence[dict[str, Any]], flavour: str, met_name: str
) -> dict[str, Any]:
    """The branch set of NanoAOD ``flavour`` where it differs from the generator's:

    * v9 (Run 2 UL): + PuppiMET;
    * v12 (Run 3): + Jet_btagPNetB, Photon_pfRelIso03_all -> ..._quadratic, + PuppiMET;
    * v15 (Run 3): no Jet_jetId but its energy fractions/multiplicities, + Jet_btagPNetB,
      + Jet_btagUParTAK4B, photon isolation renamed, no Photon_mass, no plain MET
      (PFMET + PuppiMET).
    """
    out = dict(data)
    pt, phi = data[f"{met_name}_pt"], data[f"{met_name}_phi"]
    out["PuppiMET_pt"], out["PuppiMET_phi"] = pt * np.float32(PUPPI_SCALE), phi
    if flavour == "v9":
        return out
    jets, counts = data["Jet"], np.array([len(e["Jet"]) for e in events], dtype=np.int64)
    jet_fields = {f: jets[f] for f in jets.fields}
    jet_fields["btagPNetB"] = jets["btagDeepFlavB"]
    if "Photon" in data:
        ph = data["Photon"]
        fields = {f: ph[f] for f in ph.fields}
        fields["pfRelIso03_all_quadratic"] = fields.pop("pfRelIso03_all")
        if flavour == "v15":
            fields.pop("mass")
        out["Photon"] = ak.zip(fields)
    if flavour == "v15":
        jet_fields.pop("jetId")
        jet_fields["btagUParTAK4B"] = jets["btagDeepFlavB"]
        for f, (dtype, default) in JET_ID_FIELDS.items():
            flat = [o.get(f, default) for e in events for o in e["Jet"]]
            jet_fields[f] = ak.unflatten(np.asarray(flat, dtype=dtype), counts)
        for key in [k for k in out if k.startswith(f"{met_name}_")]:
            out[key.replace(f"{met_name}_", "PFMET_", 1)] = out.pop(key)
    out["Jet"] = ak.zip(jet_fields)
    return out


# ---- per-process toy samples ---------------------------------------------------------
def process_events(process: str, n: int, seed: int) -> list[dict[str, Any]]:
    """Events that look like ``process`` to the selection (not physics-accurate)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w = float(rng.choice([1.0, 1.0, 1.0, -1.0]))
        jets = (
            [
                obj(
                    pt=40.0 + 10 * k,
                    eta=-1.5 + k,
                    phi=-2.5 + k,
                    btagDeepFlavB=0.9 if k < 2 else 0.02,
                )
                for k in range(4)
            ]
            if process == "ttbar"
            else [obj(pt=45.0, eta=-1.0, phi=2.8)]
        )
        if process in ("dy", "jpsi", "psi2s", "upsilon", "dy_lowmass"):
            mass = {"dy": 91.2, "jpsi": 3.097, "psi2s": 3.686, "upsilon": 9.46, "dy_lowmass": 20.0}[
                process
            ]
            mass *= float(rng.normal(1.0, 0.005))
            pt = max(10.0, mass * 0.8)
            out.append(
                event(
                    muons=muon_pair(mass, pt=pt, eta=float(rng.uniform(-1, 1))),
                    jets=jets,
                    gen_weight=w,
                )
            )
        elif process in ("wjets", "ttbar"):
            mu = obj(
                pt=float(rng.uniform(25, 60)),
                eta=float(rng.uniform(-2, 2)),
                phi=0.5 + 0.001 * i,
                charge=int(rng.choice([-1, 1])),
            )
            out.append(
                event(muons=[mu], jets=jets, met=(float(rng.uniform(20, 80)), -2.6), gen_weight=w)
            )
        elif process == "higgs_4mu":
            out.append(
                event(
                    muons=muon_pair(91.0, pt=60.0) + muon_pair(30.0, pt=20.0, eta=-1.0, phi=-2.0),
                    jets=jets,
                    gen_weight=w,
                )
            )
        elif process in ("hgg", "diphoton"):
            mass = (
                125.0 * float(rng.normal(1, 0.01))
                if process == "hgg"
                else float(rng.uniform(100, 180))
            )
            out.append(event(photons=photon_pair(mass, pt=0.55 * mass), jets=jets, gen_weight=w))
        else:
            raise ValueError(process)
    return out


def write_process(directory: Path, process: str, n: int, seed: int, **kw: Any) -> Path:
    return write_nanoaod(
        directory / f"{process}.root",
        process_events(process, n, seed),
        first_event=1000 * seed + 1,
        **kw,
    )


#: Cross-sections given to the toy datasets (pb; roughly the generator's σ).
TOY_XSEC_PB = {
    "dy": 1753.0,
    "dy_lowmass": 5000.0,
    "jpsi": 4.1e5,
    "psi2s": 1.0e5,
    "upsilon": 8.4e4,
    "wjets": 3504.0,
    "ttbar": 31.6,
    "higgs_4mu": 7.2e-4,
    "hgg": 0.057,
    "diphoton": 50.0,
}
#: The processes of each task, as `eventlens make-samples` builds them.
TASK_PROCESSES = {
    "dimuon": ("dy", "dy_lowmass", "jpsi", "psi2s", "upsilon"),
    "dtw": ("dy", "wjets", "ttbar"),
    "dhjw": ("dy", "higgs_4mu", "jpsi", "wjets"),
    "hgg": ("hgg", "diphoton"),
}


def fileset(samples: dict[str, Path], processes: Iterable[str], **extra: Any) -> dict[str, Any]:
    """A coffea fileset in the generator's format (dataset = process name)."""
    return {
        p: {
            "files": {str(samples[p]): "Events"},
            "metadata": {"process": p, "label": f"legend {p}", "xsec": TOY_XSEC_PB[p], **extra},
        }
        for p in processes
    }


def corrupt_basket(src: Path, dst: Path, branch: str, basket: int) -> Path:
    """Copy ``src`` to ``dst`` with basket ``basket`` of ``branch`` overwritten by garbage.

    The file still opens (header, keys and TTree metadata are intact), so only
    reading that basket's entries fails -- a corrupt file caught mid-run.
    """
    data = bytearray(Path(src).read_bytes())
    with uproot.open(src) as f:
        seek = int(f["Events"][branch].member("fBasketSeek")[basket])
    data[seek : seek + 48] = b"\xa5" * 48
    Path(dst).write_bytes(bytes(data))
    return Path(dst)
