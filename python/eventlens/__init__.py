"""eventlens: classify LHC collision events drawn as images, inside a coffea analysis.

The data path, left to right::

    NanoAOD --(eventlens.processors, coffea)--> object tables (Parquet)
            --(eventlens.render, C++/ROOT)--> images --(eventlens.models, PyTorch)--> ONNX
            --(eventlens.inference, onnxruntime in coffea)--> hist.Hist per predicted class

Heavy dependencies (ROOT, torch, coffea) are imported by the submodules that
need them, so ``import eventlens`` stays cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eventlens")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
