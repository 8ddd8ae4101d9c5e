"""Shared fixtures.  Sections per area; append yours, don't rewrite others'."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NANOAOD_DIR = REPO.parent / "shared" / "data" / "nanoaod"


# ---- real CMS NanoAOD samples ------------------------------------------------
#: Real samples the repository ships itself (tests/data/nanoaod/README.md says what).
SHIPPED_NANOAOD_DIR = REPO / "tests" / "data" / "nanoaod"


@pytest.fixture(scope="session")
def nanoaod_dir(tmp_path_factory) -> Path:
    """The real CMS NanoAOD samples (coffea's test files), or skip saying why.

    One folder of symlinks: the shared samples and, for names the shared folder lacks
    (the Run 3 v15 file), the ones under ``tests/data/nanoaod``."""
    if not (NANOAOD_DIR / "nano_dy.root").exists():
        pytest.skip(f"real NanoAOD samples not found in {NANOAOD_DIR}")
    folder = tmp_path_factory.mktemp("nanoaod")
    for source in (NANOAOD_DIR, SHIPPED_NANOAOD_DIR):
        for path in sorted(source.glob("*.root")):
            if not (folder / path.name).exists():
                (folder / path.name).symlink_to(path.resolve())
    return folder


# ---- synthetic object lists (renderer unit tests) -----------------------------
def random_objects(n_events: int, seed: int, max_objects: int = 12) -> ak.Array:
    """Random events in the canonical object layout, including awkward values:
    η beyond the canvas, φ beyond ±π, tiny and huge pT, every type code."""
    from eventlens.objects import make_objects

    rng = np.random.default_rng(seed)
    counts = rng.integers(0, max_objects, n_events)
    total = int(counts.sum())

    def jag(values: np.ndarray) -> ak.Array:
        return ak.unflatten(values, counts)

    pt = np.exp(rng.uniform(-1.0, 8.0, total)).astype(np.float32)
    return make_objects(
        jag(rng.integers(0, 5, total).astype(np.int32)),
        jag(pt),
        jag(rng.uniform(-3.6, 3.6, total).astype(np.float32)),
        jag(rng.uniform(-7.0, 7.0, total).astype(np.float32)),
        charge=jag(rng.choice([-1, 1], total).astype(np.int32)),
        btag=jag(rng.uniform(0.0, 1.0, total).astype(np.float32)),
    )


# ---- generated-like NanoAOD samples (processor tests) ---------------------------
@pytest.fixture(scope="session")
def toy_samples(tmp_path_factory) -> dict[str, Path]:
    """One small NanoAOD-like file per generator process (see tests/nanoaod_toy.py)."""
    from nanoaod_toy import TOY_XSEC_PB, write_process

    folder = tmp_path_factory.mktemp("toy_nanoaod")
    return {p: write_process(folder, p, 40, seed=i + 1) for i, p in enumerate(TOY_XSEC_PB)}


# ---- NanoAOD generated with the real generator (eventlens.generate) ------------
@pytest.fixture(scope="session")
def generated_sample(tmp_path_factory):
    """``generated_sample(process, events, mpi=False, seed=1) -> Path``, made once per session.

    Real Pythia 8 + FastJet + the parametric detector.  MPI is off by default:
    it is ~90 % of Pythia's CPU time and does not move resonance peaks or tag
    rates; tests of the default configuration pass ``mpi=True``.
    """
    from eventlens.generate import GenerationRequest, generate

    folder = tmp_path_factory.mktemp("generated")
    made: dict[tuple[str, int, bool, int], Path] = {}

    def get(process: str, events: int, mpi: bool = False, seed: int = 1) -> Path:
        key = (process, events, mpi, seed)
        if key not in made:
            path = folder / f"{process}_{events}_{'mpi' if mpi else 'nompi'}_{seed}.root"
            generate(GenerationRequest(process, events, seed, path, mpi=mpi, progress=False))
            made[key] = path
        return made[key]

    return get


# ---- HTCondor: a real personal pool on 127.0.0.1 (see tests/condor_support.py) ----
from condor_support import condor_pool, condor_tmp, public_nanoaod  # noqa: E402, F401
