"""JSON encoding of the domain's frozen dataclasses, for JSON columns.

Types come from the dataclass annotations, so decoding restores enums, datetimes, tuples,
nested dataclasses and integer-keyed mappings exactly. Values typed `object` (evidence) must be
JSON-safe already or become their string form.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


# Values of exactly these types encode as themselves; subclasses (enums) take the slow path.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def encode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    names = _field_names(kind)
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, (frozenset, set)):
        # Sorted, so equal sets encode to equal JSON.
        return sorted((encode(item) for item in value), key=repr)
    if isinstance(value, (tuple, list)):
        return [encode(item) for item in value]
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@functools.cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """Return the field names of a dataclass type, or None for any other type."""
    if dataclasses.is_dataclass(kind):
        return tuple(field.name for field in dataclasses.fields(kind))
    return None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(kind: Any, data: Any) -> Any:
    """Rebuild a value of type `kind` (a class or a typing form) from encode()'s output."""
    return _decoder(kind)(data)


_Decoder = Callable[[Any], Any]


@functools.cache
def _decoder(kind: Any) -> _Decoder:
    """Return the function that decodes values of type `kind`, built once per type.

    Working out what a type needs (its fields, hints, item and key types) for every value cost
    more than the decoding itself. ListPortfolio spent about 70% of its time there, for a page of
    1,000 models with 20,000 findings.
    """
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return _decoder(options[0])
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass_decoder(kind)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _none_or(kind)
    if kind is dt.datetime:
        return _none_or(dt.datetime.fromisoformat)
    if origin in (tuple, list, frozenset, set) or kind in (tuple, list):
        arguments = typing.get_args(kind)
        item = _decoder(arguments[0] if arguments else Any)
        collect = {list: list, frozenset: frozenset, set: set}.get(origin, tuple)
        return _none_or(lambda data: collect([item(value) for value in data]))
    if origin is not None and issubclass(origin, Mapping):
        key_kind, value_kind = typing.get_args(kind) or (str, Any)
        value = _decoder(value_kind)
        if key_kind is int or (isinstance(key_kind, type) and issubclass(key_kind, enum.Enum)):
            return _none_or(lambda data: {key_kind(key): value(item) for key, item in data.items()})
        return _none_or(lambda data: {key: value(item) for key, item in data.items()})
    return _same


def _same(data: Any) -> Any:
    return data


def _none_or(decode_value: _Decoder) -> _Decoder:
    """Return `decode_value` for values other than None, which stays None."""

    def decode_or_none(data: Any) -> Any:
        return None if data is None else decode_value(data)

    return decode_or_none


def _dataclass_decoder(kind: type) -> _Decoder:
    # The fields' decoders are looked up at the first call, so a dataclass may contain itself.
    fields: list[tuple[str, _Decoder]] = []

    def decode_dataclass(data: Any) -> Any:
        if data is None:
            return None
        if not fields:
            hints = _hints(kind)
            fields.extend((field.name, _decoder(hints[field.name])) for field in dataclasses.fields(kind) if field.init)
        return kind(**{name: decode_field(data[name]) for name, decode_field in fields if name in data})

    return decode_dataclass


def load(cls: type[T], data: Any) -> T:
    result: T = decode(cls, data)
    return result
