"""Plain data (YAML, env strings, JSON bodies) to frozen, typed dataclasses, and back.

Errors name the key path, the bad value and what is allowed; unknown keys are errors. Used by
the config loader and by everything validated "like config" (admin threshold changes).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Callable, Literal, Mapping

from arbv2.core.errors import ConfigError


def to_plain(obj: Any) -> Any:
    """Return dataclasses/tuples/dicts as JSON-able plain data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def _allowed(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_allowed(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    if origin in (tuple, list):
        return f"a list of {_allowed(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of name to {_allowed(typing.get_args(tp)[1])}"
    return getattr(tp, "__name__", str(tp))


def _bad(path: str, value: Any, tp: Any) -> ConfigError:
    return ConfigError(f"{path}: invalid value {value!r}; allowed: {_allowed(tp)}")


def _coerce(path: str, value: Any, tp: Any, validate: Callable[[Any, str], None] | None) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_plain(tp, value, path, validate)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise _bad(path, value, tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(path, value, arg, validate)
            except ConfigError:
                continue
        raise _bad(path, value, tp)
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise _bad(path, value, tp)
        (item_tp, *_) = typing.get_args(tp)
        items = [_coerce(f"{path}[{i}]", v, item_tp, validate) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _bad(path, value, tp)
        _, val_tp = typing.get_args(tp)
        return {str(k): _coerce(f"{path}.{k}", v, val_tp, validate) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise _bad(path, value, tp)
    if tp is int:
        if isinstance(value, bool):
            raise _bad(path, value, tp)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise _bad(path, value, tp) from None
        raise _bad(path, value, tp)
    if tp is float:
        if isinstance(value, bool):
            raise _bad(path, value, tp)
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise _bad(path, value, tp) from None
        if out != out or out in (float("inf"), float("-inf")):
            raise _bad(path, value, tp)
        return out
    if tp is str:
        if isinstance(value, str):
            return value
        raise _bad(path, value, tp)
    raise _bad(path, value, tp)


def from_plain(cls: type, data: Any, path: str = "", validate: Callable[[Any, str], None] | None = None) -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and bad values by path.

    `validate(obj, path)` runs on every dataclass built (nested ones included), for rules that
    types alone cannot express.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or '<root>'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "secrets"}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(f"{where}{unknown[0]}: unknown key; allowed keys: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(f"{path}.{k}" if path else k, v, hints[k], validate) for k, v in data.items()}
    obj = cls(**kwargs)
    if validate is not None:
        validate(obj, path)
    return obj
