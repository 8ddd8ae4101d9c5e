"""Results shared between the passes over one chunk: the nominal and the shifted selections.

A shape systematic (:mod:`.systematics`) re-runs the whole selection on
shifted inputs, but most of a shifted chunk is the nominal one, unchanged: a
JES shift replaces the jet collection and MET and leaves the electron and
muon arrays *the very same objects* (``dataclasses.replace`` with the other
entries copied by reference).  Every object-level step on those collections
(ID and isolation, drawn objects, bad-value checks, the lepton pair) would
compute what the nominal pass already computed; on small chunks this awkward
work, not the network, dominated the cost of the variations.

:func:`reusable` memoises such a step by the *identity* of its array
arguments (and the value of its plain ones) while :func:`within_chunk` is
active.  Identity is sound here because awkward arrays are immutable and the
cache keeps every argument alive, so an id cannot be reused by another array
while its entry exists; the cache lives for one chunk only.  Outside
:func:`within_chunk` a reusable step is a plain call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

_CACHE: ContextVar[dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] | None] = ContextVar(
    "eventlens_chunk_cache", default=None
)
_PLAIN = (str, int, float, bool, type(None))


@contextmanager
def within_chunk() -> Iterator[None]:
    """Share the results of :func:`reusable` steps until the block ends (one chunk)."""
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


def _key(arg: Any) -> Any:
    if isinstance(arg, _PLAIN):
        return (type(arg), arg)
    if isinstance(arg, (list, tuple)) and all(isinstance(a, _PLAIN) for a in arg):
        return (tuple, tuple(arg))  # field-name lists are rebuilt on every call
    return id(arg)


def reusable(fn: F) -> F:
    """Memoise ``fn`` (positional arguments only) within the active chunk (module doc)."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        cache = _CACHE.get()
        if cache is None:
            return fn(*args)
        key = (name, *map(_key, args))
        hit = cache.get(key)
        if hit is not None:
            return hit[1]
        out = fn(*args)
        if isinstance(out, np.ndarray):
            out.flags.writeable = False  # shared from now on: an in-place edit must fail loudly
        cache[key] = (args, out)  # the arguments stay alive: their ids stay theirs
        return out

    return wrapper  # type: ignore[return-value]
