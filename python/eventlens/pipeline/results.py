"""Processor outputs as data only: JSON that can be read without running any code.

coffea's own ``coffea.util.save``/``load`` pickle their payload, so loading a
file runs whatever code it holds.  A results folder is something people copy,
mail and download, and a batch job's output is written by another user:
eventlens never unpickles either.  Everything a processor returns is plain
data anyway — ``hist.Hist`` objects, dicts of counters, sets of tuples — so it
is written as JSON:

* ``hist.Hist``  → the uhi serialisation (``uhi.io.json``, exact: floats are
  written with Python's round-trip ``repr``), tagged by its ``uhi_schema`` key;
* ``set``        → ``{"__set__": [...]}`` (sorted, so equal sets give equal files);
* ``tuple``      → ``{"__tuple__": [...]}``;
* dict keys must be strings (every eventlens output's are); numpy scalars and
  arrays become numbers and lists.

:func:`dumps`/:func:`loads` and the file helpers :func:`write`/:func:`read`
round-trip an accumulator exactly (histogram contents bit for bit), so a merge
of job outputs read from JSON equals the in-memory merge.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eventlens.errors import InputFileError
from eventlens.io import atomic_path

_SET, _TUPLE = "__set__", "__tuple__"


def encode(obj: Any) -> Any:
    """The JSON-able form of a processor output (see the module docstring)."""
    import hist
    import uhi.io.json as uhi_json

    if isinstance(obj, hist.Hist):
        return encode(uhi_json.default(obj))
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"result keys must be strings, got {key!r}")
            out[key] = encode(value)
        return out
    if isinstance(obj, (set, frozenset)):
        items = [encode(v) for v in obj]
        return {_SET: sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(obj, tuple):
        return {_TUPLE: [encode(v) for v in obj]}
    if isinstance(obj, list):
        return [encode(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} as data-only JSON")


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`."""
    import hist
    import uhi.io.json as uhi_json

    if isinstance(data, dict):
        if "uhi_schema" in data:
            return hist.Hist(uhi_json.object_hook(data))
        if set(data) == {_SET}:
            return {_freeze(decode(v)) for v in data[_SET]}
        if set(data) == {_TUPLE}:
            return tuple(decode(v) for v in data[_TUPLE])
        return {k: decode(v) for k, v in data.items()}
    if isinstance(data, list):
        return [decode(v) for v in data]
    return data


def _freeze(value: Any) -> Any:
    """Set members must be hashable: lists (JSON arrays) inside become tuples."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def dumps(obj: Any) -> str:
    return json.dumps(encode(obj), sort_keys=True, separators=(",", ":"))


def loads(text: str) -> Any:
    return decode(json.loads(text))


def write(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` atomically; ``.json.gz`` is gzip-compressed (reproducibly: no mtime)."""
    path = Path(path)
    data = dumps(obj).encode()
    with atomic_path(path) as tmp:
        if path.name.endswith(".gz"):
            with tmp.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
                f.write(data)
        else:
            tmp.write_bytes(data)
    return path


def read(path: str | os.PathLike[str]) -> Any:
    """Read a file written by :func:`write`; one clear line if it is not one."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        return loads(raw.decode())
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InputFileError(
            f"{path}: not an eventlens results file ({type(exc).__name__}: {exc})".replace(
                "\n", " "
            )
        ) from exc
