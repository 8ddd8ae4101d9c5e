"""A lazily created, never pickled attribute (coffea's ``nonserializable_attribute``).

Vendored from coffea 2026.9.0, ``coffea/ml_tools/helper.py`` (BSD-3-Clause,
Copyright (c) 2018, Fermilab; https://github.com/scikit-hep/coffea), with type
hints and without coffea's asserts-as-errors.  Why a copy: importing anything
from ``coffea.ml_tools`` runs its ``__init__``, which imports the torch,
TensorFlow, Triton and XGBoost wrappers, and so torch — 2.8–3.4 s and ~470 MB
of RSS in every inference worker that never runs torch (issue 17,
``benchmarks/worker.py``).  The behaviour is coffea's: the attribute ``name``
is ``None`` until first read, then ``self._create_<name>()``; pickling drops it,
so the object travels to Futures/Dask/HTCondor workers as its settings.
"""

from __future__ import annotations

from typing import Any


class nonserializable_attribute:  # noqa: N801 - coffea's name, so the lineage is visible
    """Attributes created on first use and never pickled (see the module docstring).

    Args:
        nonserial_list: the attribute names; for each ``name`` the subclass defines
            ``_create_<name>(self)``.
    """

    def __init__(self, nonserial_list: list[str]) -> None:
        for name in nonserial_list:
            if not name.isidentifier():
                raise ValueError(f"{name!r} cannot be an attribute name")
            if not hasattr(self, "_create_" + name):
                raise TypeError(f"{type(self).__name__} must define _create_{name}()")
        self._nonserial_list = list(nonserial_list)
        for name in nonserial_list:
            setattr(self, "_" + name, None)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found the normal way.
        if name != "_nonserial_list" and name in self.__dict__.get("_nonserial_list", ()):
            if getattr(self, "_" + name) is None:
                setattr(self, "_" + name, getattr(self, "_create_" + name)())
            return getattr(self, "_" + name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in state["_nonserial_list"]:
            state["_" + name] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
