"""CloudEvents 1.0 binary-mode headers for events on NATS, and their parsing on the consumer.

The message data is the protobuf payload; every attribute travels in a `ce-` header. Header
values are percent-encoded outside printable ASCII, as the CloudEvents HTTP binding does.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass

from modelward_common.eventstore import StoredEvent
from modelward_common.timeutil import rfc3339

SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/protobuf"
MSG_ID_HEADER = "Nats-Msg-Id"
# Characters left as they are in header values: printable ASCII without '%' and '"'.
_SAFE = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) not in '%"')


def subject_for(prefix: str, service: str, event_type: str) -> str:
    """Return the NATS subject of an event, `<prefix>.<service>.v1.<EventType>`."""
    return f"{prefix}.{service}.v1.{event_type}"


def event_type_name(service: str, event_type: str) -> str:
    return f"modelward.{service}.v1.{event_type}"


def _encode(value: str) -> str:
    return urllib.parse.quote(value, safe=_SAFE)


def headers_for(event: StoredEvent, *, source: str, service: str) -> dict[str, str]:
    headers = {
        MSG_ID_HEADER: event.event_id,
        "ce-specversion": SPEC_VERSION,
        "ce-id": event.event_id,
        "ce-source": source,
        "ce-type": event_type_name(service, event.type),
        "ce-subject": _encode(event.subject),
        "ce-time": rfc3339(event.recorded_at),
        "ce-datacontenttype": DATA_CONTENT_TYPE,
        "ce-streamid": event.stream_id,
        "ce-streamversion": str(event.stream_version),
        "ce-position": str(event.position),
        "ce-actor": _encode(event.actor),
    }
    if event.correlation_id:
        headers["ce-correlationid"] = _encode(event.correlation_id)
    if event.causation_id:
        headers["ce-causationid"] = _encode(event.causation_id)
    if event.traceparent:
        headers["traceparent"] = event.traceparent
    return headers


@dataclass(frozen=True)
class ReceivedEvent:
    """An event as a consumer reads it from NATS: attributes from headers, payload bytes."""

    event_id: str
    type: str  # short name, such as ModelVersionCreated
    source: str
    subject: str
    time: dt.datetime
    stream_id: str
    stream_version: int
    position: int
    actor: str
    correlation_id: str
    causation_id: str
    traceparent: str
    payload: bytes


class MalformedEvent(ValueError):
    pass


def parse_event(headers: dict[str, str] | None, data: bytes) -> ReceivedEvent:
    """Read a CloudEvent from NATS headers and data; raises MalformedEvent when one is missing."""
    headers = headers or {}
    try:
        full_type = headers["ce-type"]
        return ReceivedEvent(
            event_id=headers["ce-id"],
            type=full_type.rsplit(".", 1)[-1],
            source=headers.get("ce-source", ""),
            subject=urllib.parse.unquote(headers.get("ce-subject", "")),
            time=dt.datetime.fromisoformat(headers["ce-time"].replace("Z", "+00:00")),
            stream_id=headers["ce-streamid"],
            stream_version=int(headers["ce-streamversion"]),
            position=int(headers.get("ce-position", "0")),
            actor=urllib.parse.unquote(headers.get("ce-actor", "")),
            correlation_id=urllib.parse.unquote(headers.get("ce-correlationid", "")),
            causation_id=urllib.parse.unquote(headers.get("ce-causationid", "")),
            traceparent=headers.get("traceparent", ""),
            payload=data,
        )
    except (KeyError, ValueError) as error:
        raise MalformedEvent(f"message is not a modelward CloudEvent: {error}") from error
