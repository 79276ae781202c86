"""stored_event reads an event from a row of the whole table or from columns in any order."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from modelward_common.eventstore import StoredEvent, events_table, stored_event

EVENT = StoredEvent(
    position=7, event_id="2f1c4f6e-3b7a-4f0e-9d7b-1a2b3c4d5e6f", stream_id="uid-1", stream_version=3,
    type="ModelCreated", payload=b"\x0a\x01x", subject="models/churn", actor="user:ana@example.com",
    reason="first", correlation_id="req-1", causation_id="", traceparent="",
    recorded_at=dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC), previous_position=6, previous_hash="a" * 64,
    event_hash="b" * 64,
)


def _read(statement: sa.Select[tuple[object, ...]]) -> StoredEvent:
    engine = sa.create_engine("sqlite://")
    events_table.create(engine)
    with engine.begin() as connection:
        connection.execute(events_table.insert(), [EVENT.__dict__])
        row = connection.execute(statement).one()
    return stored_event(row)


def test_stored_event_whole_row() -> None:
    assert _read(sa.select(events_table)) == EVENT


def test_stored_event_reordered_columns() -> None:
    reordered = sa.select(*reversed(events_table.columns))
    assert _read(reordered) == EVENT
