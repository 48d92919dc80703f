"""Stored events as JSON: frozen dataclasses <-> dicts (dates, instants, Decimals, UUIDs, enums)."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

import orjson

T = TypeVar("T")


def dumps(value: Any) -> bytes:
    """`value` as JSON text: a dataclass as an object of its fields, an enum as its value, dates and
    instants in ISO 8601, Decimals and UUIDs as strings, tuples and sets as arrays.

    orjson writes dataclasses, enums, dates and UUIDs itself, in C; only Decimals and sets come back
    here. The walk in Python this replaces (every field of every value, a type test each) cost 1.3 ms
    for an information sheet of 120 months against 0.14 ms, and each decision's events pass here.
    A dict's keys must be strings.
    """
    return orjson.dumps(value, default=_not_native)


def _not_native(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (frozenset, set)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not stored as JSON")


def to_json(value: Any) -> Any:
    """`value` as the plain JSON value `dumps` writes (dicts, lists, strings, numbers)."""
    return orjson.loads(dumps(value))


def from_json(cls: type[T], data: Any) -> T:
    """Rebuild a dataclass (or value) of type `cls` from `to_json` output."""
    return typing.cast(T, _decoder(typing.cast(Any, cls))(data))


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """A dataclass's fields with their resolved types: resolving them (`get_type_hints`) costs more
    than decoding the event itself, and every stream load decodes each event again."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _as_is(data: Any) -> Any:
    return data


def _or_none(decode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda data: None if data is None else decode(data)


@functools.cache
def _decoder(tp: Any) -> Callable[[Any], Any]:
    """The function that rebuilds a value of type `tp` (None stays None), made once per type:
    working the type out again for every value of every event cost more than building the values
    (a fifth of the enrolment service's CPU in a simulated year, py-spy)."""
    decode = _decoder_of(tp)
    return decode if decode is _as_is else _or_none(decode)


def _decoder_of(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _decoder(next(a for a in typing.get_args(tp) if a is not type(None)))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            each = _decoder(args[0])
            return lambda data: tuple(each(v) for v in data)
        items = tuple(_decoder(t) for t in args)
        return lambda data: tuple(item(v) for item, v in zip(items, data, strict=True))
    if origin in (list, frozenset, set):
        args = typing.get_args(tp)
        each, collection = _decoder(args[0] if args else Any), origin
        if each is _as_is:
            return collection  # type: ignore[no-any-return]
        return lambda data: collection(each(v) for v in data)
    if origin is dict:
        key, value = (_decoder(a) for a in typing.get_args(tp))
        if key is _as_is and value is _as_is:
            return dict
        return lambda data: {key(k): value(v) for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        return _dataclass_decoder(typing.cast(type, tp))
    if isinstance(tp, type):
        if issubclass(tp, datetime):
            return datetime.fromisoformat
        if issubclass(tp, date):
            return date.fromisoformat
        if issubclass(tp, (Decimal, UUID, Enum)):
            return tp
    return _as_is


def _dataclass_decoder(cls: type) -> Callable[[Any], Any]:
    fields = [(name, _decoder(hint)) for name, hint in _fields(cls)]
    plain = tuple(name for name, decode in fields if decode is _as_is)
    built = tuple((name, decode) for name, decode in fields if decode is not _as_is)

    def decode(data: Any) -> Any:
        values = {name: data[name] for name in plain if name in data}
        for name, build in built:
            if name in data:
                values[name] = build(data[name])
        return cls(**values)

    return decode
