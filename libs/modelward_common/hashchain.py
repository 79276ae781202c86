"""Canonical bytes and SHA-256 hashes of events, the links of the audit hash chain.

The canonical bytes of an event are the concatenation, in the order of CHAINED_FIELDS, of each
field's bytes preceded by their length as a 4-byte big-endian unsigned integer. A length prefix
makes the encoding unambiguous: no two different events share canonical bytes. Field bytes:

- text fields: UTF-8; the event id as lowercase hyphenated UUID text
- integers (stream version, position, previous position): decimal ASCII digits
- the payload: the protobuf bytes as stored
- recorded_at: RFC 3339 in UTC with exactly 6 fractional digits and a `Z`
- previous_hash: 64 lowercase hex digits, GENESIS_HASH for the first event

The event's hash is the lowercase hex SHA-256 of its canonical bytes. docs/architecture.md
("Audit trail") states the same rules for verifiers written in other languages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping

from modelward_common.timeutil import rfc3339

# Marks the encoding version; a future change of fields or order gets a new tag.
FORMAT_TAG = b"modelward-event-v1"
GENESIS_HASH = "0" * 64
CHAINED_FIELDS = (
    "event_id",
    "stream_id",
    "stream_version",
    "position",
    "previous_position",
    "type",
    "payload",
    "subject",
    "actor",
    "reason",
    "correlation_id",
    "causation_id",
    "traceparent",
    "recorded_at",
    "previous_hash",
)


def _field_bytes(name: str, value: object) -> bytes:
    if name == "event_id":
        return str(uuid.UUID(str(value))).encode("ascii")
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{name} must not be a bool")
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, dt.datetime):
        return rfc3339(value).encode("ascii")
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"{name} has unsupported type {type(value).__name__}")


def canonical_bytes(event: Mapping[str, object]) -> bytes:
    """Encode the chained fields of `event` (keyed by column name) as described above."""
    parts = [len(FORMAT_TAG).to_bytes(4, "big"), FORMAT_TAG]
    for name in CHAINED_FIELDS:
        data = _field_bytes(name, event[name])
        parts.append(len(data).to_bytes(4, "big"))
        parts.append(data)
    return b"".join(parts)


def event_hash(event: Mapping[str, object]) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()
