"""The audit hash chain over a service's event log: chaining old rows and verifying the chain.

Every event stores `event_hash`, the SHA-256 of its canonical bytes (hashchain.py), and links
to the event before it in global order by `previous_position` and `previous_hash`. Changing,
deleting or reordering stored events therefore breaks a link or a hash that `verify_chain`
recomputes. Deleting the newest events leaves a shorter chain that is still valid; comparing
its head with an earlier export's manifest (`last_hash`) reveals that.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common import hashchain
from modelward_common.eventstore import AUDIT_COLUMNS_DDL, APPEND_LOCK_KEY, events_table, read_all

logger = logging.getLogger(__name__)

_BACKFILL_BATCH = 2000
_BACKFILL_UPDATE = sa.text(
    "UPDATE events SET previous_position = :previous_position, previous_hash = :previous_hash, "
    "event_hash = :event_hash WHERE position = :position"
)


class MismatchKind(StrEnum):
    """The reason an event failed verification."""

    # The stored hash differs from the hash of the stored fields: a field was changed.
    HASH = "HASH"
    # The stored previous hash differs from the preceding event's stored hash.
    PREVIOUS_HASH = "PREVIOUS_HASH"
    # The event links to a position after the preceding event: events before it were deleted.
    MISSING_POSITION = "MISSING_POSITION"
    # The event links to a position at or after its own, or before the preceding event's:
    # events were moved or inserted.
    REORDERED = "REORDERED"
    # The event has no hash: it was inserted without going through the event store.
    UNCHAINED = "UNCHAINED"


@dataclass(frozen=True)
class ChainMismatch:
    kind: MismatchKind
    position: int
    event_id: str
    stream_id: str
    stream_version: int
    expected: str
    found: str

    def describe(self) -> str:
        where = f"event {self.event_id} at position {self.position} (stream {self.stream_id} v{self.stream_version})"
        return {
            MismatchKind.HASH: f"{where}: stored hash {self.found} but its fields hash to {self.expected}; the event was altered",
            MismatchKind.PREVIOUS_HASH: f"{where}: previous hash {self.found} but the preceding event's hash is {self.expected}",
            MismatchKind.MISSING_POSITION: f"{where}: links to position {self.found} but the preceding event is at {self.expected}; events were deleted",
            MismatchKind.REORDERED: f"{where}: links to position {self.found} but the preceding event is at {self.expected}; events were moved or inserted",
            MismatchKind.UNCHAINED: f"{where}: has no hash; it was written outside the event store",
        }[self.kind]


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    last_position: int
    last_hash: str
    mismatch: ChainMismatch | None

    @property
    def intact(self) -> bool:
        return self.mismatch is None


def check_event(event: Mapping[str, object], previous: tuple[int, str] | None, *, adjacent: bool = True) -> ChainMismatch | None:
    """Check one event's hash, and its link to `previous` (position, hash) when that is given.

    With `adjacent`, `previous` must be the event right before this one in the chain. An export
    filtered to one model passes False, so only an event that names `previous` as its
    predecessor has its previous hash compared.
    """
    position = int(str(event["position"]))
    linked = int(str(event["previous_position"]))

    def mismatch(kind: MismatchKind, expected: object, found: object) -> ChainMismatch:
        return ChainMismatch(
            kind, position, str(event["event_id"]), str(event["stream_id"]), int(str(event["stream_version"])),
            str(expected), str(found),
        )

    if not event["event_hash"]:
        return mismatch(MismatchKind.UNCHAINED, "a hash", "none")
    if linked >= position:
        return mismatch(MismatchKind.REORDERED, f"a position before {position}", linked)
    if previous is not None:
        previous_position, previous_hash = previous
        if adjacent and linked > previous_position:
            return mismatch(MismatchKind.MISSING_POSITION, previous_position, linked)
        if linked < previous_position:
            return mismatch(MismatchKind.REORDERED, previous_position, linked)
        if linked == previous_position and event["previous_hash"] != previous_hash:
            return mismatch(MismatchKind.PREVIOUS_HASH, previous_hash, event["previous_hash"])
    elif adjacent and (linked != 0 or event["previous_hash"] != hashchain.GENESIS_HASH):
        return mismatch(MismatchKind.MISSING_POSITION, 0, linked)
    computed = hashchain.event_hash(event)
    if computed != event["event_hash"]:
        return mismatch(MismatchKind.HASH, computed, event["event_hash"])
    return None


async def verify_chain(connection: AsyncConnection, *, batch_size: int = 2000) -> ChainReport:
    """Recompute the whole chain in position order and return the first mismatch, if any."""
    previous: tuple[int, str] | None = None
    checked = 0
    after = 0
    while True:
        batch = await read_all(connection, after_position=after, limit=batch_size)
        if not batch:
            break
        for event in batch:
            found = check_event(vars(event), previous)
            if found is not None:
                logger.warning("audit chain broken: %s", found.describe())
                return ChainReport(checked, previous[0] if previous else 0, previous[1] if previous else "", found)
            checked += 1
            previous = (event.position, event.event_hash)
        after = batch[-1].position
    last_position, last_hash = previous or (0, hashchain.GENESIS_HASH)
    return ChainReport(checked, last_position, last_hash, None)


def add_hash_chain(connection: sa.Connection) -> None:
    """Migration step: add the chain columns to `events` and chain the rows already there."""
    existing = {column["name"] for column in sa.inspect(connection).get_columns("events")}
    for name, ddl in AUDIT_COLUMNS_DDL.items():
        if name not in existing:
            connection.execute(sa.text(f"ALTER TABLE events ADD COLUMN {name} {ddl}"))
    if connection.dialect.name == "postgresql":
        # Appenders of replicas still running take this lock too, so none inserts mid-chain.
        connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})"))
    previous_position, previous_hash = 0, hashchain.GENESIS_HASH
    chained = 0
    while True:
        rows = connection.execute(
            sa.select(events_table)
            .where(events_table.c.position > previous_position)
            .order_by(events_table.c.position)
            .limit(_BACKFILL_BATCH)
        ).mappings().all()
        if not rows:
            break
        updates = []
        for row in rows:
            event = dict(row)
            event["previous_position"] = previous_position
            event["previous_hash"] = previous_hash
            event["event_hash"] = hashchain.event_hash(event)
            updates.append({key: event[key] for key in ("position", "previous_position", "previous_hash", "event_hash")})
            previous_position, previous_hash = int(event["position"]), event["event_hash"]
        connection.execute(_BACKFILL_UPDATE, updates)
        chained += len(updates)
    logger.info("chained %d existing events", chained)
