"""The one pipeline from a fileset to a results folder: plan → execute → finish.

``eventlens select`` and ``eventlens infer`` (and their Python entry points
:func:`run_selection`, :func:`run_inference`) are the same three steps with a
different processor (:mod:`.spec`):

``plan``      :mod:`.fileset` (coffea fileset JSON), :mod:`.plan` (checked inputs, chunks)
``execute``   :mod:`.execute` (coffea Runner on iterative/futures/dask/condor; batch:
              :mod:`eventlens.condor.batch`), each chunk's result stored as data-only JSON
``finish``    :mod:`.finish` (add up in plan order, check the cutflow, write), :mod:`.outdir`
              (write beside ``OUT``, swap in at the end), :mod:`.table`, :mod:`.results`

Importing this package is cheap; the submodules import coffea when used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_inference", "run_selection"]


def run_selection(*args: Any, **kwargs: Any) -> Any:
    """:func:`eventlens.pipeline.select.run_selection`."""
    from .select import run_selection as run

    return run(*args, **kwargs)


def run_inference(*args: Any, **kwargs: Any) -> Any:
    """:func:`eventlens.pipeline.infer.run_inference`."""
    from .infer import run_inference as run

    return run(*args, **kwargs)
