"""eventlens: classify LHC collision events drawn as images, inside a coffea analysis.

The data path, left to right::

    NanoAOD --(eventlens.processors, coffea)--> object tables (Parquet)
            --(eventlens.render, C++/ROOT)--> images --(eventlens.models, PyTorch)--> ONNX
            --(eventlens.inference, onnxruntime in coffea)--> hist.Hist per predicted class

Heavy dependencies (ROOT, torch, coffea) are imported by the submodules that
need them, so ``import eventlens`` stays cheap: :func:`load_model` (the public
API for your own coffea processor, :mod:`eventlens.classifier`) is imported on
first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .classifier import EventClassifier, load_model

try:
    __version__ = version("eventlens")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["EventClassifier", "__version__", "load_model"]

#: Public names served lazily: name -> module that defines it.
_LAZY = {"load_model": "eventlens.classifier", "EventClassifier": "eventlens.classifier"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'eventlens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
