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
from collections.abc import Mapping
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
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return decode(options[0], data)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        values = {
            field.name: decode(hints[field.name], data[field.name])
            for field in dataclasses.fields(kind)
            if field.name in data and field.init
        }
        return kind(**values)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(data)
    if origin in (tuple, list, frozenset, set) or kind in (tuple, list):
        arguments = typing.get_args(kind)
        item_kind = arguments[0] if arguments else Any
        items = [decode(item_kind, item) for item in data]
        if origin is list:
            return items
        if origin is frozenset:
            return frozenset(items)
        if origin is set:
            return set(items)
        return tuple(items)
    if origin is not None and issubclass(origin, Mapping):
        key_kind, value_kind = typing.get_args(kind) or (str, Any)
        return {decode_key(key_kind, key): decode(value_kind, item) for key, item in data.items()}
    return data


def decode_key(kind: Any, key: str) -> Any:
    if kind is int:
        return int(key)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(key)
    return key


def load(cls: type[T], data: Any) -> T:
    result: T = decode(cls, data)
    return result
