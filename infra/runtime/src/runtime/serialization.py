"""Stored events as JSON: frozen dataclasses <-> dicts (dates, instants, Decimals, UUIDs, enums)."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

T = TypeVar("T")


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    if isinstance(value, (list, tuple, frozenset, set)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def from_json(cls: type[T], data: Any) -> T:
    """Rebuild a dataclass (or value) of type `cls` from `to_json` output."""
    return typing.cast(T, _value(cls, data))


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """A dataclass's fields with their resolved types: resolving them (`get_type_hints`) costs more
    than decoding the event itself, and every stream load decodes each event again."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _value(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _value(inner[0], data)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v) for v in data)
        return tuple(_value(t, v) for t, v in zip(args, data, strict=True))
    if origin in (list, frozenset, set):
        args = typing.get_args(tp)
        return origin(_value(args[0] if args else Any, v) for v in data)
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        return {_value(key_type, k): _value(value_type, v) for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        build = typing.cast(Any, tp)
        return build(**{name: _value(hint, data[name]) for name, hint in _fields(build) if name in data})
    if isinstance(tp, type):
        if issubclass(tp, datetime):
            return datetime.fromisoformat(data)
        if issubclass(tp, date):
            return date.fromisoformat(data)
        if issubclass(tp, (Decimal, UUID, Enum)):
            return tp(data)
    return data
