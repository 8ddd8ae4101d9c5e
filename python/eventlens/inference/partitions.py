"""Numpy work on dask-awkward arrays, one partition at a time.

coffea's dask mode (``NanoEventsFactory(..., mode="dask")``, ``apply_to_fileset``)
hands a processor dask-awkward arrays: nothing is read until ``compute()``.
Rendering images and running onnxruntime are numpy work, so they must happen
inside the graph, on each partition's concrete arrays
(:func:`dask_awkward.map_partitions`), never while the graph is built.

dask-awkward builds and optimises the graph by running every function on
*typetracers* (arrays with a type and no data) to learn which columns are read.
:class:`OnData` answers that pass without doing the work: it marks every column
of its input as needed (so the column projection reads exactly them) and
returns an empty array of the output's type.  The function itself only ever
sees real data.  coffea.ml_tools instead runs the function on length-one arrays
in the driver; that would build a renderer and an onnxruntime session there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import awkward as ak


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a dask-awkward array (without importing dask-awkward)."""
    return type(x).__module__.startswith("dask_awkward")


class OnData:
    """``fn`` on a partition's data; on a typetracer, the columns touched and ``like``'s type.

    Args:
        fn: picklable ``ak.Array -> ak.Array`` (it travels to the Dask workers).
        like: an (empty) array of the type ``fn`` returns.
    """

    def __init__(self, fn: Callable[[ak.Array], ak.Array], like: ak.Array) -> None:
        self.fn = fn
        self.like = like

    def __call__(self, part: ak.Array) -> ak.Array:
        if ak.backend(part) == "typetracer":
            ak.typetracer.touch_data(part)
            return ak.Array(self.like.layout.to_typetracer(forget_length=True))
        return self.fn(part)


def map_partitions(
    fn: Callable[[ak.Array], ak.Array], array: Any, like: ak.Array, label: str
) -> Any:
    """``fn`` over every partition of the dask-awkward ``array`` (lazy; see the module
    docstring).  ``like``: an empty array of ``fn``'s output type."""
    import dask_awkward as dak

    wrapped = OnData(fn, like)
    return dak.map_partitions(wrapped, array, label=label, meta=wrapped(array._meta))
