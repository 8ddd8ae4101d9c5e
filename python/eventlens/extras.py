"""Optional dependencies: which extra brings which module, and the error when one is missing.

The core (selection, in-loop inference, plots) needs none of these; each feature
that does imports its module when used.  A user who runs ``eventlens train``
without the ``train`` extra gets one line saying what to install, not a traceback
from deep inside.  ``pyproject.toml``'s ``[project.optional-dependencies]`` is the
other half of this table (``tests/test_packaging.py`` checks they agree).
"""

from __future__ import annotations

from .errors import EventLensError

#: Top-level import name -> (distribution, extra that brings it).
OPTIONAL: dict[str, tuple[str, str]] = {
    "torch": ("torch", "train"),
    "torchvision": ("torchvision", "train"),
    "onnx": ("onnx", "train"),
    "onnxscript": ("onnxscript", "train"),
    "captum": ("captum", "train"),
    "pythia8mc": ("pythia8mc", "generate"),
    "fastjet": ("fastjet", "generate"),
    "htcondor2": ("htcondor", "condor"),
    "htcondor": ("htcondor", "condor"),
    "dask_jobqueue": ("dask-jobqueue", "condor"),
    "pyhf": ("pyhf", "stats"),
    "cabinetry": ("cabinetry", "stats"),
    "iminuit": ("iminuit", "stats"),
    "dask_awkward": ("dask-awkward", "dask-awkward"),
    "dask_histogram": ("dask-histogram", "dask-awkward"),
    "fsspec_xrootd": ("fsspec-xrootd", "xrootd"),
    "XRootD": ("xrootd", "xrootd"),
}
#: ONNX Runtime comes in two builds installing the same module (see pyproject.toml).
ONNXRUNTIME = "onnxruntime"


class MissingDependencyError(EventLensError):
    """An optional dependency of the feature in use is not installed."""


def missing_dependency(exc: ModuleNotFoundError) -> MissingDependencyError | None:
    """The one-line error for a missing optional module, or None if ``exc`` is not one."""
    top = (exc.name or "").split(".")[0]
    if top == ONNXRUNTIME:
        return MissingDependencyError(
            "onnxruntime is not installed: pip install 'eventlens[cpu]' (or 'eventlens[gpu]' "
            "for CUDA; both give the module onnxruntime, install only one), or use your "
            "environment's onnxruntime"
        )
    if top not in OPTIONAL:
        return None
    dist, extra = OPTIONAL[top]
    return MissingDependencyError(
        f"this needs {dist} (module {top}), which is not installed: it comes with "
        f"eventlens' {extra!r} extra, pip install 'eventlens[{extra}]'"
    )
