"""Pseudo-data: a cross-section-weighted, unweighted mixture of generated processes.

For an integrated luminosity L each process p contributes N_p ~ Poisson(σ_p·L)
events, drawn without replacement from its generated file, so the mixture
looks like collision data: unit weights, no generator truth (``genWeight``,
``GenPart``, ``GenMET``, ``Generator_*`` are dropped), and the processors
treat it as data.  Each process keeps its events' numbers under its own run
number, so (run, event) stays unique.  With ``luminosity_pb=None`` the largest
L the generated files can serve is used (times ``headroom``).

``scale`` injects a signal strength: ``{"ttbar": 1.5}`` draws
N_ttbar ~ Poisson(1.5·σ_ttbar·L), so a fit of μ(tt̄) to this pseudo-data should find
1.5 (``eventlens demo --inject-mu``; the closure test).  The factors are recorded in
the fileset entry's metadata (``injected``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from .errors import ConfigError
from .io import atomic_path

log = logging.getLogger(__name__)

_TRUTH = ("genWeight", "Generator_", "GenMET_", "GenPart", "nGenPart", "LHE")


@dataclass(frozen=True)
class PseudoData:
    path: Path
    luminosity_pb: float
    events: dict[str, int]
    injected: dict[str, float] = field(default_factory=dict)

    def fileset_entry(self, name: str = "pseudodata") -> dict[str, Any]:
        meta: dict[str, Any] = {
            "process": "pseudodata",
            "luminosity_pb": self.luminosity_pb,
            "composition": self.events,
        }
        if self.injected:
            meta["injected"] = self.injected
        return {name: {"files": {str(self.path): "Events"}, "metadata": meta}}


def make_pseudodata(
    fileset: str | Path | dict[str, Any],
    output: str | Path,
    *,
    luminosity_pb: float | None = None,
    seed: int = 1,
    headroom: float = 0.8,
    scale: dict[str, float] | None = None,
) -> PseudoData:
    """Write a pseudo-data NanoAOD file mixing the fileset's datasets by cross-section
    (each times its ``scale`` factor, by dataset name; module docstring)."""
    import uproot

    fs = json.loads(Path(fileset).read_text()) if not isinstance(fileset, dict) else fileset
    scale = dict(scale or {})
    unknown = sorted(set(scale) - set(fs))
    if unknown:
        raise ConfigError(f"pseudo-data: scale names {unknown}, not datasets of the fileset")
    for name, factor in scale.items():
        if not factor >= 0:
            raise ConfigError(f"pseudo-data: scale of {name} = {factor}, must be >= 0")
    available: dict[str, tuple[str, int, float]] = {}
    for name, ds in fs.items():
        meta = ds.get("metadata", {})
        if "xsec" not in meta:
            raise ConfigError(f"pseudo-data: dataset {name!r} has no xsec in its metadata")
        (path,) = list(ds["files"])  # one file per process, as make-samples writes
        with uproot.open(path) as f:
            available[name] = (path, f["Events"].num_entries, float(meta["xsec"]))
    if luminosity_pb is None:
        luminosity_pb = headroom * min(
            n / (xsec * scale.get(name, 1.0))
            for name, (_, n, xsec) in available.items()
            if xsec * scale.get(name, 1.0) > 0
        )
    rng = np.random.default_rng(seed)
    counts = {}
    for name, (_, n, xsec) in available.items():
        want = int(rng.poisson(xsec * scale.get(name, 1.0) * luminosity_pb))
        if want > n:
            raise ConfigError(
                f"pseudo-data: {name} needs {want} events for {luminosity_pb:.4g} pb^-1, "
                f"its file has {n}; lower the luminosity or generate more"
            )
        counts[name] = want
    output = Path(output)
    with atomic_path(output) as tmp, uproot.recreate(tmp) as out:
        tree = None
        for run, (name, (path, n, _)) in enumerate(available.items(), start=1):
            picked = np.sort(rng.choice(n, size=counts[name], replace=False))
            block = _read_entries(path, picked, run)
            if not block:
                continue
            if tree is None:
                tree = out.mktree(
                    "Events",
                    {
                        k: v.type.content if isinstance(v, ak.Array) else v.dtype
                        for k, v in block.items()
                    },
                )
            tree.extend(block)
    log.info("pseudo-data: %.4g pb^-1 -> %s: %s", luminosity_pb, output, counts)
    return PseudoData(output, luminosity_pb, counts, scale)


def _read_entries(path: str, entries: np.ndarray, run: int) -> dict[str, Any]:
    """The chosen entries of a NanoAOD file, truth removed, collections regrouped."""
    import uproot

    if len(entries) == 0:
        return {}
    with uproot.open(path) as f:
        tree = f["Events"]
        keys = [k for k in tree.keys() if not k.startswith(_TRUTH)]  # noqa: SIM118 - TTree
        arrays = tree.arrays(keys, entry_start=int(entries[0]), entry_stop=int(entries[-1]) + 1)
    arrays = arrays[entries - entries[0]]
    collections = sorted({k[1:] for k in keys if k.startswith("n") and f"{k[1:]}_pt" in keys})
    block: dict[str, Any] = {}
    for k in keys:
        if k.startswith("n") and k[1:] in collections:
            continue
        if "_" in k and k.split("_", 1)[0] in collections:
            continue
        block[k] = ak.to_numpy(arrays[k])
    block["run"] = np.full(len(entries), run, dtype=np.uint32)
    for c in collections:
        fields = [k for k in keys if k.startswith(f"{c}_")]
        block[c] = ak.zip({k[len(c) + 1 :]: arrays[k] for k in fields})
    return block
