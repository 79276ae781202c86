"""An append-only event store with per-stream optimistic concurrency and a global order.

Each service keeps its events in its own database, in the `events` table created here. The
table is also the transactional outbox: events commit in the same transaction as the
projection changes they cause, and a relay (relay.py) publishes them after commit in
`position` order.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common import hashchain
from modelward_common.db import blob_column, is_among, is_unique_violation, skip_column_statistics, text_column
from modelward_common.errors import Aborted
from modelward_common.timeutil import UtcDateTime, utc_now

logger = logging.getLogger(__name__)

# PostgreSQL advisory lock key taken by every appending transaction (see append()).
APPEND_LOCK_KEY = 0x6D77_6576  # "mwev"

metadata = sa.MetaData()

def _event_columns() -> list[sa.Column[object]]:
    """The columns every event has had since the first migration, in a fresh list per call."""
    return [
        # Global order. A BIGINT sequence on PostgreSQL, SQLite's INTEGER PRIMARY KEY rowid there.
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(as_uuid=False), nullable=False, unique=True),
        sa.Column("stream_id", text_column(64), nullable=False),
        sa.Column("stream_version", sa.BigInteger, nullable=False),
        sa.Column("type", text_column(128), nullable=False),
        sa.Column("payload", blob_column(), nullable=False),
        # Resource the event is about at the time it happened, such as models/churn/versions/3.
        sa.Column("subject", text_column(400), nullable=False),
        sa.Column("actor", text_column(320), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("correlation_id", text_column(128), nullable=False),
        sa.Column("causation_id", text_column(128), nullable=False),
        sa.Column("traceparent", text_column(128), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
    ]


def _stream_version_key() -> sa.UniqueConstraint:
    # The stream version is the optimistic-concurrency check: two writers that read the same
    # version both try to insert version + 1, and the second insert violates this key.
    return sa.UniqueConstraint("stream_id", "stream_version", name="events_stream_version_key")


# The hash chain (audit.py): each event links to the event before it in global order. The
# defaults only serve rows that existed before the chain, until the migration chains them.
AUDIT_COLUMNS_DDL = {
    "previous_position": "BIGINT NOT NULL DEFAULT 0",
    "previous_hash": "VARCHAR(64) NOT NULL DEFAULT ''",
    "event_hash": "VARCHAR(64) NOT NULL DEFAULT ''",
}

events_table = sa.Table(
    "events",
    metadata,
    *_event_columns(),
    sa.Column("previous_position", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("previous_hash", sa.String(64), nullable=False, server_default=""),
    sa.Column("event_hash", sa.String(64), nullable=False, server_default=""),
    _stream_version_key(),
)


# Columns of `events` that no query filters, sorts, groups or joins on. Queries read them back,
# and look event_id up only through its unique index, which gives the planner its uniqueness
# without statistics. ANALYZE sorts a sample of each column it keeps statistics for:
# skipping these halved its time on a table of 200,000 events (about 320 to 160 ms).
READ_BACK_COLUMNS = (
    "event_id", "subject", "actor", "reason", "correlation_id", "causation_id", "traceparent",
    "previous_hash", "event_hash",
)


def skip_read_back_column_statistics(connection: sa.Connection) -> None:
    """Stop ANALYZE from gathering statistics on the `events` columns in READ_BACK_COLUMNS."""
    skip_column_statistics(connection, {"events": READ_BACK_COLUMNS})


def create_events_table_without_chain(connection: sa.Connection) -> None:
    """Create the `events` table as the first migration of each service did, before the chain."""
    sa.Table("events", sa.MetaData(), *_event_columns(), _stream_version_key()).create(connection)


_INSERT = events_table.insert()
_CHAIN_HEAD = (
    sa.select(events_table.c.position, events_table.c.event_hash).order_by(events_table.c.position.desc()).limit(1)
)

# PostgreSQL: one call takes the append lock, reads the chain head and allocates the new
# positions. A PL/pgSQL function because each query of a VOLATILE function takes a new snapshot
# in READ COMMITTED, so the head read after the lock includes the last holder's commit. A single
# SELECT would read with the snapshot taken before it waited for the lock. Positions are part of
# the hashed bytes, so they come from the column's sequence before the insert. Rolled-back
# appends leave gaps, which the chain tolerates because each event names its predecessor.
APPEND_HEAD_FUNCTION = "modelward_append_head"
_CREATE_APPEND_HEAD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {APPEND_HEAD_FUNCTION}(
    event_count integer, OUT head_position bigint, OUT head_hash varchar, OUT positions bigint[]
) LANGUAGE plpgsql VOLATILE AS $function$
BEGIN
    PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
    SELECT e.position, e.event_hash INTO head_position, head_hash
        FROM events AS e ORDER BY e.position DESC LIMIT 1;
    positions := ARRAY(
        SELECT nextval(pg_get_serial_sequence('events', 'position')) FROM generate_series(1, event_count)
    );
END
$function$
"""
_APPEND_HEAD = sa.text(f"SELECT head_position, head_hash, positions FROM {APPEND_HEAD_FUNCTION}(:count)")


def add_append_head_function(connection: sa.Connection) -> None:
    """Create the PostgreSQL function that appends call first (SQLite has no functions and needs none)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_CREATE_APPEND_HEAD_FUNCTION)


# Databases made with metadata.create_all (tests, tools) get the function with the table.
sa.event.listen(events_table, "after_create", sa.DDL(_CREATE_APPEND_HEAD_FUNCTION).execute_if(dialect="postgresql"))


class ConcurrencyConflict(Aborted):
    """Another writer appended to the stream first; reload the stream and decide again."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(
            f"stream {stream_id} changed after version {expected_version}; read it again and retry",
            reason="CONCURRENT_MODIFICATION",
        )
        self.stream_id = stream_id
        self.expected_version = expected_version


@dataclass(frozen=True)
class EventContext:
    """Who caused a change and why, recorded on every event of one command."""

    actor: str
    reason: str = ""
    correlation_id: str = ""
    causation_id: str = ""
    traceparent: str = ""


@dataclass(frozen=True)
class NewEvent:
    type: str
    payload: bytes
    subject: str
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class StoredEvent:
    position: int
    event_id: str
    stream_id: str
    stream_version: int
    type: str
    payload: bytes
    subject: str
    actor: str
    reason: str
    correlation_id: str
    causation_id: str
    traceparent: str
    recorded_at: dt.datetime
    # Link to the event before this one in global order (0 and GENESIS_HASH for the first).
    previous_position: int = 0
    previous_hash: str = ""
    # SHA-256 of the event's canonical bytes (hashchain.py); empty before the chain migration.
    event_hash: str = ""


_STORED_EVENT_FIELDS = tuple(field.name for field in fields(StoredEvent))


@dataclass(frozen=True)
class PendingAppend:
    """Events to append to one stream after `expected_version`, as `append` takes them."""

    stream_id: str
    expected_version: int
    new_events: Sequence[NewEvent]
    context: EventContext
    recorded_at: dt.datetime | None = None


async def append(
    connection: AsyncConnection,
    stream_id: str,
    expected_version: int,
    new_events: Sequence[NewEvent],
    context: EventContext,
    *,
    recorded_at: dt.datetime | None = None,
) -> list[StoredEvent]:
    """Append events after `expected_version` of the stream, inside the caller's transaction.

    Raises ConcurrencyConflict when another writer appended first. The caller's transaction
    is then unusable on PostgreSQL and must be rolled back.
    """
    return await append_many(connection, [PendingAppend(stream_id, expected_version, new_events, context, recorded_at)])


async def append_many(connection: AsyncConnection, appends: Sequence[PendingAppend]) -> list[StoredEvent]:
    """Append to several streams in one insert, in the order given, as `append` one by one would.

    Raises ConcurrencyConflict (naming the first stream) when another writer appended to any of
    the streams first.
    """
    appends = [item for item in appends if item.new_events]
    if not appends:
        return []
    count = sum(len(item.new_events) for item in appends)
    if connection.dialect.name == "postgresql":
        # Positions come from a sequence, allocated at insert time, but transactions commit
        # in any order. A relay that reads "position > last published" could then pass over a
        # lower position that commits later and never publish it. Holding the append lock from
        # the insert to the commit makes positions become visible in the order they were
        # allocated. The same lock keeps the hash chain linear: the appender reads the newest
        # event's hash and inserts its own events before any other appender can.
        # Callers append last in their transaction so the lock is held briefly.
        # SQLite needs no lock because it runs one writing transaction at a time.
        head = (await connection.execute(_APPEND_HEAD, {"count": count})).one()
        previous_position, previous_hash = (int(head[0]), str(head[1])) if head[0] is not None else (0, hashchain.GENESIS_HASH)
        allocated = sorted(int(value) for value in head[2])
    else:
        previous_position, previous_hash = await _chain_head(connection)
        # SQLite's single writer makes the next positions simply follow the head.
        allocated = list(range(previous_position + 1, previous_position + count + 1))
    positions = iter(allocated)
    rows = []
    for item in appends:
        at = item.recorded_at or utc_now()
        context = item.context
        for offset, event in enumerate(item.new_events):
            position = next(positions)
            row: dict[str, Any] = {
                "position": position,
                "event_id": event.event_id,
                "stream_id": item.stream_id,
                "stream_version": item.expected_version + offset + 1,
                "type": event.type,
                "payload": event.payload,
                "subject": event.subject,
                "actor": context.actor,
                "reason": context.reason,
                "correlation_id": context.correlation_id,
                "causation_id": context.causation_id,
                "traceparent": context.traceparent,
                "recorded_at": at,
                "previous_position": previous_position,
                "previous_hash": previous_hash,
            }
            row["event_hash"] = hashchain.event_hash(row)
            rows.append(row)
            previous_position, previous_hash = position, row["event_hash"]
    try:
        await connection.execute(_INSERT, rows)
    except exc.IntegrityError as error:
        if is_unique_violation(error):
            raise ConcurrencyConflict(appends[0].stream_id, appends[0].expected_version) from error
        raise
    return [StoredEvent(**row) for row in rows]


@functools.cache
def _stream_versions(dialect: str) -> sa.Select[Any]:
    return (
        sa.select(events_table.c.stream_id, sa.func.max(events_table.c.stream_version))
        .where(is_among(dialect, events_table.c.stream_id, "stream_ids"))
        .group_by(events_table.c.stream_id)
    )


async def stream_versions(connection: AsyncConnection, stream_ids: Sequence[str]) -> dict[str, int]:
    """Return the current version of each stream, 0 for streams without events."""
    versions = dict.fromkeys(stream_ids, 0)
    result = await connection.execute(_stream_versions(connection.dialect.name), {"stream_ids": sorted(versions)})
    versions.update({stream_id: int(version) for stream_id, version in result})
    return versions


async def _chain_head(connection: AsyncConnection) -> tuple[int, str]:
    """Return the position and hash of the newest event, which the next event links to.

    Read under the append lock (or SQLite's single writer), so no other appender can insert
    between this read and the caller's insert, and the chain stays linear.
    """
    head = (await connection.execute(_CHAIN_HEAD)).first()
    if head is None:
        return 0, hashchain.GENESIS_HASH
    return int(head.position), str(head.event_hash)


def stored_event(row: sa.Row[tuple[object, ...]]) -> StoredEvent:
    """Return the event of a row that has every column of `events`."""
    if row._fields == _STORED_EVENT_FIELDS:
        # A row of the whole table has its columns in the order of StoredEvent's fields. The
        # relays read up to thousands of these a second.
        return StoredEvent(*row)
    mapping = row._mapping
    return StoredEvent(**{name: mapping[name] for name in _STORED_EVENT_FIELDS})


async def read_stream(
    connection: AsyncConnection,
    stream_id: str,
    *,
    after_version: int = 0,
    limit: int | None = None,
) -> list[StoredEvent]:
    query = (
        sa.select(events_table)
        .where(events_table.c.stream_id == stream_id, events_table.c.stream_version > after_version)
        .order_by(events_table.c.stream_version)
    )
    if limit is not None:
        query = query.limit(limit)
    result = await connection.execute(query)
    return [stored_event(row) for row in result]


_READ_ALL = (
    sa.select(events_table)
    .where(events_table.c.position > sa.bindparam("after"))
    .order_by(events_table.c.position)
    .limit(sa.bindparam("limit"))
)


async def read_all(
    connection: AsyncConnection, *, after_position: int = 0, limit: int = 1000
) -> list[StoredEvent]:
    """Return up to `limit` events in global order after `after_position`."""
    result = await connection.execute(_READ_ALL, {"after": after_position, "limit": limit})
    return [stored_event(row) for row in result]


async def iterate_all(connection: AsyncConnection, *, batch_size: int = 5000) -> AsyncIterator[StoredEvent]:
    """Yield every event in global order, reading in batches."""
    after = 0
    while True:
        batch = await read_all(connection, after_position=after, limit=batch_size)
        if not batch:
            return
        for event in batch:
            yield event
        after = batch[-1].position


async def max_position(connection: AsyncConnection) -> int:
    value = await connection.scalar(sa.select(sa.func.max(events_table.c.position)))
    return int(value or 0)
