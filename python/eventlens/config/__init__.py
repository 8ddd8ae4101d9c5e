"""One strict loader for every eventlens configuration: YAML → frozen, typed dataclasses.

Every config (selection, training, adversary, render, table spec, HTCondor; the
generator's next) is a frozen dataclass whose type hints *are* the schema,
built by :func:`build`:

* an unknown key is an error naming its path and the keys allowed there, so a
  typo (``pt_mni``, ``memroy``, ``learning_rate``) can never be silently ignored
  and the default used instead;
* every value is checked against its field's type (numbers, integers, strings,
  booleans, ``Literal`` choices, tuples, mappings, nested dataclasses);
* a missing key without a default is an error; ``null`` means "the default"
  unless the field is optional (``X | None``);
* checks that need more than one value live in the dataclass's
  ``__post_init__`` and raise :class:`ConfigValueError` (the key, the problem); the
  builder adds the file and the block's path.

All errors are one-line :class:`~eventlens.errors.ConfigError` messages of the
form ``FILE: 'key.path' must be a number, got 'high'`` /
``FILE: unknown key 'a.b' (allowed here: ...)`` /
``FILE: missing required key 'a.b'``.

Three field options (:func:`setting`) cover the layouts the YAML files use:
``key="training.epochs"`` puts a flat field at a nested YAML position (or under
another name: ``key="lambda"``), ``closed=True`` makes a ``dict`` field accept
only the keys of its default (missing ones keep it), and ``source=True``
receives the name of the file the config was read from (never hashed, never
dumped).  A class may also define ``config_defaults(data)``, a classmethod
returning defaults that depend on the data (a render style's canvas).

:func:`dump` inverts :func:`build` (the YAML layout of a config, as plain data),
:func:`read_yaml` reads a file with errors naming it, :func:`load` does both,
and :func:`config_dir` (from :mod:`eventlens.resources`) is the one place that
knows where ``configs/`` is.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from ..errors import ConfigError
from ..resources import config_dir

T = TypeVar("T")

#: What an error names when a config did not come from a file (``from_dict`` in code).
DEFAULT_SOURCE = "config"

# YAML 1.1 (PyYAML) reads 1e-3 (no dot) as a string; YAML 1.2 and every reader
# of these files mean a number.
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigValueError(ConfigError):
    """A value a config dataclass rejects in its own checks (raised from ``__post_init__``).

    ``key`` is the path of the offending key *relative to the dataclass*
    (``"height"``, ``"training.epochs"``) and ``problem`` the rest of the sentence
    (``"= 2, must be an integer in [4, 4096]"``).  :func:`build` turns it into
    ``FILE: 'render.height' = 2, must be ...``; raised from a config made in code
    it reads ``'height' = 2, must be ...``.
    """

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"'{key}' {problem}")
        self.key = key
        self.problem = problem


def setting(
    default: Any = dataclasses.MISSING,
    *,
    key: str | None = None,
    closed: bool = False,
    source: bool = False,
    default_factory: Any = dataclasses.MISSING,
    **field_options: Any,
) -> Any:
    """A dataclass field with a YAML layout option (see the module docstring).

    ``key``: dotted YAML path of the field (default: its name); ``closed``: a
    ``dict`` field that accepts only the keys of its default; ``source``: the
    field receives the file name and is not part of the YAML layout.
    """
    metadata: dict[str, Any] = {}
    if key is not None:
        metadata["key"] = key
    if closed:
        metadata["closed"] = True
    if source:
        metadata["source"] = True
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata=metadata, **field_options
    )


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in (
        typing.get_args(hint)
    )


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _placed_fields(cls: Any) -> Iterator[tuple[dataclasses.Field, list[str], str]]:
    """Each field of the YAML layout with its blocks and key (``training.epochs``)."""
    for f in dataclasses.fields(cls):
        if not f.metadata.get("source") and f.init:
            *blocks, leaf = f.metadata.get("key", f.name).split(".")
            yield f, blocks, leaf


def _block(tree: dict[str, Any], blocks: list[str]) -> dict[str, Any]:
    for block in blocks:
        tree = tree.setdefault(block, {})
    return tree


@functools.cache
def _layout(cls: type) -> dict[str, Any]:
    """The YAML layout of ``cls``: nested dicts of key → Field (leaf) or dict (block)."""
    tree: dict[str, Any] = {}
    for f, blocks, leaf in _placed_fields(cls):
        _block(tree, blocks)[leaf] = f
    return tree


def build(cls: type[T], data: Any, where: str = "", source: str = DEFAULT_SOURCE) -> T:
    """Build dataclass ``cls`` from parsed YAML ``data``, strictly (see the module docstring).

    ``where`` is the dotted path of ``data`` inside its file (for messages),
    ``source`` the file (or :data:`DEFAULT_SOURCE`).
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        what = f"'{where}'" if where else "the top level"
        raise ConfigError(f"{source}: {what} must be a mapping, got {type(data).__name__}")
    hook = getattr(cls, "config_defaults", None)
    if hook is not None:
        data = {**hook(data), **data}
    kwargs: dict[str, Any] = {}
    _walk(cls, _layout(cls), data, where, source, kwargs)
    for f in dataclasses.fields(cls):
        if f.metadata.get("source"):
            kwargs[f.name] = source
    try:
        return cls(**kwargs)
    except ConfigValueError as exc:
        raise ConfigError(f"{source}: '{_join(where, exc.key)}' {exc.problem}") from None


def _only_keys(allowed: Mapping[str, Any], data: Any, where: str, source: str) -> Mapping:
    """``data`` if it is a mapping whose keys are all in ``allowed``; ConfigError otherwise."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: '{where}' must be a mapping, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key '{_join(where, unknown[0])}' "
            f"(allowed here: {', '.join(allowed)})"
        )
    return data


def _walk(
    cls: type, tree: dict[str, Any], data: Any, where: str, source: str, out: dict[str, Any]
) -> None:
    data = _only_keys(tree, {} if data is None else data, where, source)
    hints = _hints(cls)
    for name, node in tree.items():
        path = _join(where, name)
        if isinstance(node, dict):
            _walk(cls, node, data.get(name), path, source, out)
            continue
        value = data.get(name)
        hint = hints[node.name]
        if name in data and (value is not None or _optional(hint) or not _has_default(node)):
            out[node.name] = _field_value(node, hint, value, path, source)
        elif not _has_default(node):
            raise ConfigError(f"{source}: missing required key '{path}'")


def _field_value(f: dataclasses.Field, hint: Any, value: Any, path: str, source: str) -> Any:
    if not f.metadata.get("closed"):
        return coerce(hint, value, path, source)
    default = _default(f)
    value = _only_keys(default, value, path, source)
    (_, inner) = typing.get_args(hint)
    return {**default, **{k: coerce(inner, v, f"{path}.{k}", source) for k, v in value.items()}}


def coerce(hint: Any, value: Any, path: str, source: str = DEFAULT_SOURCE) -> Any:
    """``value`` checked against (and converted to) type ``hint``; ConfigError otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported config type {hint!r} at {path}")  # a bug
        return coerce(inner[0], value, path, source)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path, source)
    if hint is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: '{path}' must be one of {list(args)}, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{path}' must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{path}' must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{path}' must be true or false, got {value!r}")
        return value
    if hint is str:
        # An unquoted YAML scalar such as 2048 or 1.5 meant as text.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{source}: '{path}' must be a string, got {value!r}")
        return value
    if origin is tuple:
        pairs = len(args) == 2 and args[1] is Ellipsis and typing.get_origin(args[0]) is tuple
        if pairs and isinstance(value, Mapping):  # {muon: 2} for ((muon, 2),): order kept
            key_hint, value_hint = typing.get_args(args[0])
            return tuple(
                (coerce(key_hint, k, path, source), coerce(value_hint, v, f"{path}.{k}", source))
                for k, v in value.items()
            )
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: '{path}' must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(args[0], v, f"{path}[{i}]", source) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{source}: '{path}' must have {len(args)} entries, got {value!r}")
        return tuple(
            coerce(a, v, f"{path}[{i}]", source)
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: '{path}' must be a mapping, got {value!r}")
        return {str(k): coerce(args[1], v, f"{path}.{k}", source) for k, v in value.items()}
    raise TypeError(f"unsupported config type {hint!r} at {path}")  # a bug, not a user error


def dump(config: Any) -> dict[str, Any]:
    """The YAML layout of a config dataclass as plain data (tuples as lists); inverts :func:`build`.

    A nested value with its own ``to_dict`` (a render config adds its derived
    radius scale) is dumped by it.
    """
    out: dict[str, Any] = {}
    for f, blocks, leaf in _placed_fields(config):
        _block(out, blocks)[leaf] = _plain(getattr(config, f.name))
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        return to_dict() if to_dict is not None else dump(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def read_yaml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """Parse a YAML mapping; every failure is a one-line ConfigError naming the file.

    ``what`` names the kind of file in messages ("no such selection config").
    An empty file is an empty mapping.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({' '.join(str(exc).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a {what} must be a YAML mapping, got {type(data).__name__}")
    return dict(data)


def load(cls: type[T], path: str | Path, what: str = "config") -> T:
    """Read ``path`` and build ``cls`` from it (errors name the file and the key path)."""
    return build(cls, read_yaml(path, what), "", str(path))


__all__ = [
    "DEFAULT_SOURCE",
    "ConfigValueError",
    "build",
    "coerce",
    "config_dir",
    "dump",
    "load",
    "read_yaml",
    "setting",
]
