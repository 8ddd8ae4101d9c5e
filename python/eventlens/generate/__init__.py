"""The built-in event generator: Pythia 8 + FastJet + a parametric CMS-like detector → NanoAOD.

Modules, one job each:

- :mod:`.registry` — the declarative process registry (``configs/processes.yaml``);
- :mod:`.pythia` — quiet, checked Pythia instances handing out awkward batches;
- :mod:`.particles`, :mod:`.randoms` — flat per-batch columns, per-event RNG;
- :mod:`.truth` — GenPart subset, GenMET, Generator_*;
- :mod:`.reco`, :mod:`.jets`, :mod:`.met` — the detector response
  (parameters in :mod:`.config`), combined by :mod:`.detector`;
- :mod:`.pileup` — the premixed minimum-bias library and its overlay;
- :mod:`.nanoaod` — the uproot writer/reader (TTree, clusters, Runs, Metadata);
- :mod:`.run` — chunks, worker processes, progress, atomic output;
- :mod:`.samples` — all processes of a task + a coffea fileset;
- :mod:`.validate` — control plots.

Typical use::

    from eventlens.generate import GenerationRequest, generate
    generate(GenerationRequest("dy", events=1000, seed=1, output=Path("dy.root")))
"""

from .registry import Process, Registry, load_registry
from .run import GenerationRequest, GenerationResult, generate
from .samples import make_samples

__all__ = [
    "GenerationRequest",
    "GenerationResult",
    "Process",
    "Registry",
    "generate",
    "load_registry",
    "make_samples",
]
