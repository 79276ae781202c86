"""The outbox relay: publishes committed events to JetStream in global order, at least once.

One relay per service database publishes at a time. Replicas compete for a lease row in
`relay_state`; the holder renews it while it runs and every cursor update is fenced by it, so a
relay that lost its lease (paused, partitioned) cannot move the cursor. A relay publishes a batch
only within half the lease time since it last renewed the lease, by its own clock. Two relays may
still overlap around a lease change. JetStream drops a repeat within its duplicate window, because
every message carries `Nats-Msg-Id` = the event id, and rejects a later one, because the first
message of each batch expects the stream's last sequence (see _publish). Consumers deduplicate by
event id too.

The recorded position may lag the stream: a relay that stopped between JetStream's
acknowledgement and the database update leaves events that are stored but not recorded. A
relay taking the lease therefore resumes after the stream's last event when that is further on
than the recorded position, so such events are not stored a second time even after the stream's
duplicate window has forgotten their ids.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import nats
import nats.errors
import sqlalchemy as sa
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import api as js_api
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common.auth.nats_options import NatsSecurity
from modelward_common.cloudevents import MSG_ID_HEADER, headers_for, subject_for
from modelward_common.db import read_connection, statement_connection, text_column
from modelward_common.eventstore import StoredEvent, events_table, metadata, read_all
from modelward_common.timeutil import UtcDateTime, utc_now

logger = logging.getLogger(__name__)

relay_state_table = sa.Table(
    "relay_state",
    metadata,
    sa.Column("name", text_column(64), primary_key=True),
    # Highest event position acknowledged by JetStream.
    sa.Column("published_position", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("published_at", UtcDateTime(), nullable=True),
    sa.Column("holder", text_column(200), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
)


@dataclass(frozen=True)
class RelayConfig:
    nats_url: str
    stream_name: str
    # Subjects are `<subject_prefix>.<service>.v1.<EventType>`.
    subject_prefix: str
    service: str
    # CloudEvents `source` attribute.
    source: str
    batch_size: int = 256
    # Seconds between polls when no local commit wakes the relay (commits by another replica).
    poll_interval: float = 0.2
    # Seconds a lease lasts without renewal; another replica takes over after it expires.
    lease_ttl: float = 10.0
    publish_timeout: float = 5.0
    # Seconds JetStream remembers message ids for deduplication.
    duplicate_window: float = 600.0
    max_backoff: float = 5.0
    nats_security: NatsSecurity = field(default_factory=NatsSecurity)


# Seconds to wait for the stream's last event when taking the lease.
_STREAM_READ_TIMEOUT = 2.0

# Handed events kept at most; beyond that the relay reads the outbox instead.
_MAX_HANDED_EVENTS = 4096

# A condition that turns synchronous_commit off for the rest of the statement's transaction, so
# PostgreSQL commits the position update without waiting for the WAL flush (the setting is read
# at commit, before a local setting ends). A crash of PostgreSQL may then lose the last recorded
# positions. That costs nothing: a relay taking the lease resumes after the stream's last event.
_ASYNCHRONOUS_COMMIT = sa.select(sa.func.set_config("synchronous_commit", "off", True)).scalar_subquery() == "off"


@functools.cache
def _record_position(dialect: str) -> sa.Update:
    """Build the UPDATE that records a relay's published position, once per dialect because it runs per batch."""
    conditions = [
        relay_state_table.c.name == sa.bindparam("stream_key"),
        relay_state_table.c.holder == sa.bindparam("holder_key"),
        relay_state_table.c.published_position < sa.bindparam("upto"),
    ]
    if dialect == "postgresql":
        conditions.append(_ASYNCHRONOUS_COMMIT)
    return (
        relay_state_table.update()
        .where(*conditions)
        .values(published_position=sa.bindparam("upto"), published_at=sa.bindparam("now"))
    )


def default_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def stream_subjects(config: RelayConfig) -> str:
    """Return the subjects of the service's events: `<subject_prefix>.<service>.v1.>`."""
    return f"{config.subject_prefix}.{config.service}.v1.>"


async def ensure_stream(client: NatsClient, config: RelayConfig) -> None:
    """Create the service's JetStream stream with file storage if it does not exist yet."""
    js = client.jetstream()
    subjects = [stream_subjects(config)]
    try:
        await js.stream_info(config.stream_name)
        return
    except NotFoundError:
        pass
    await js.add_stream(
        name=config.stream_name,
        subjects=subjects,
        storage=js_api.StorageType.FILE,
        retention=js_api.RetentionPolicy.LIMITS,
        duplicate_window=config.duplicate_window,
    )
    logger.info("created JetStream stream %s for %s", config.stream_name, subjects)


class _Acknowledgements:
    """JetStream's replies to one client's publishes, each matched to its message by reply subject.

    One subscription on `<inbox>.*` serves every publish of the client. Each message gets the
    reply subject `<inbox>.<n>` and a future that the reply completes: with the Stored
    acknowledgement, or with an exception when JetStream rejected the message or no stream
    listens on the subject.
    """

    def __init__(self, inbox: str) -> None:
        self._inbox = inbox
        self._pending: dict[str, asyncio.Future[Stored]] = {}
        self._tokens: dict[asyncio.Future[Stored], str] = {}
        self._next = 0

    @classmethod
    async def subscribe(cls, client: NatsClient) -> _Acknowledgements:
        acks = cls(client.new_inbox())
        await client.subscribe(f"{acks._inbox}.*", cb=acks._on_reply)
        return acks

    def expect(self) -> tuple[str, asyncio.Future[Stored]]:
        """Return a reply subject for one message and the future its acknowledgement completes."""
        self._next += 1
        token = str(self._next)
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        self._tokens[future] = token
        return f"{self._inbox}.{token}", future

    def forget(self, futures: Iterable[asyncio.Future[Stored]]) -> None:
        """Stop waiting for these acknowledgements; a reply that comes later is dropped."""
        for future in futures:
            self._pending.pop(self._tokens.pop(future, ""), None)
            future.cancel()

    async def _on_reply(self, message: Msg) -> None:
        future = self._pending.pop(message.subject.rpartition(".")[2], None)
        if future is None or future.done():
            return
        self._tokens.pop(future, None)
        if message.headers and message.headers.get(js_api.Header.STATUS) == "503":
            future.set_exception(PublishRejected(
                "no JetStream stream listens on this subject; check the stream's subjects", code=NO_STREAM
            ))
            return
        try:
            reply = json.loads(message.data)
        except ValueError:
            future.set_exception(PublishRejected(f"invalid acknowledgement {message.data[:200]!r}"))
            return
        error = reply.get("error") if isinstance(reply, dict) else "not a JSON object"
        if error:
            detail = error.get("description", error) if isinstance(error, dict) else error
            code = error.get("err_code", 0) if isinstance(error, dict) else 0
            future.set_exception(PublishRejected(f"JetStream rejected the event: {detail}", code=code))
        else:
            future.set_result(Stored(sequence=int(reply.get("seq", 0)), duplicate=bool(reply.get("duplicate"))))


@dataclass(frozen=True)
class Stored:
    """JetStream's acknowledgement of one message: its stream sequence, and whether it was a repeat."""

    sequence: int
    # A repeat within the duplicate window; sequence is then the first copy's.
    duplicate: bool


# PublishRejected.code when no stream listens on the subject (NATS's "no responders" status).
NO_STREAM = 503


class PublishRejected(Exception):
    """An event that JetStream did not store."""

    def __init__(self, message: str, *, code: int = 0) -> None:
        super().__init__(message)
        # JetStream's err_code, such as 10071 for a wrong last sequence; 0 when there is none.
        self.code = code


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, config: RelayConfig, *, holder_id: str | None = None) -> None:
        self.engine = engine
        self.config = config
        self.holder_id = holder_id or default_holder_id()
        self.is_leader = False
        self.published_count = 0
        # Steps that failed (NATS down, an event rejected) and were retried after a backoff.
        self.failed_steps = 0
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._client: NatsClient | None = None
        # Collects the acknowledgements of the current client's publishes on one subscription.
        self._acks: _Acknowledgements | None = None
        self._stream_ready = False
        self.last_error = ""
        # While leader: the published position, and when the lease must be renewed (monotonic).
        self._cursor: int | None = None
        self._renew_at = 0.0
        # Monotonic time after which this relay publishes nothing until it renews the lease.
        self._publish_until = 0.0
        # Events this process committed, handed over by committed(), in position order.
        self._handed: list[StoredEvent] = []
        # The stream's last sequence as this relay left it: the first message of each batch
        # expects it, so a relay that resumes after a long stall cannot append stale events.
        self._stream_sequence = 0

    def wake(self) -> None:
        """Tell the relay that new events were committed, so it publishes without waiting.

        A relay without the lease ignores it: it tries for the lease at its poll interval, not
        once per commit, which would cost a database round trip for each.
        """
        if self.is_leader:
            self._wakeup.set()

    def committed(self, events: Sequence[StoredEvent]) -> None:
        """Take events this process has just committed, and publish them without reading them back.

        Handed events only spare the relay a read: it publishes them when they follow its cursor
        without a gap, and otherwise reads the outbox as after wake(). Events of other processes
        and positions left unused by rolled-back appends cause such gaps. Call it only after the
        commit.
        """
        if not self.is_leader:
            return
        if len(self._handed) + len(events) > _MAX_HANDED_EVENTS:
            # The relay is behind. It reads the outbox, which contains these events too.
            self._handed.clear()
        else:
            self._handed.extend(events)
        self._wakeup.set()

    def _take_handed(self) -> list[StoredEvent] | None:
        """Return the handed events that follow the cursor without a gap (a batch at most), or None."""
        assert self._cursor is not None
        handed = self._handed
        if not handed:
            return None
        if any(later.position < earlier.position for earlier, later in zip(handed, handed[1:])):
            handed.sort(key=lambda event: event.position)
        start = 0
        while start < len(handed) and handed[start].position <= self._cursor:
            start += 1
        end = start
        next_position = self._cursor + 1
        while end < len(handed) and end - start < self.config.batch_size and handed[end].position == next_position:
            end += 1
            next_position += 1
        batch = handed[start:end]
        del handed[:end]
        return batch or None

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        logger.info("relay %s starting for stream %s", self.holder_id, self.config.stream_name)
        backoff = 0.1
        try:
            while not self._stopping.is_set():
                try:
                    published = await self._step()
                    backoff = 0.1
                    # A full batch may have left events behind. After a shorter one, the relay reads
                    # again when a commit wakes it, or after the poll interval.
                    if published >= self.config.batch_size:
                        continue
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - any failure waits and retries from the cursor
                    self.failed_steps += 1
                    self.last_error = f"{type(error).__name__}: {error}"
                    logger.warning(
                        "relay %s failed, retrying in %.1f s from the last published position: %s",
                        self.holder_id, backoff, self.last_error,
                    )
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, self.config.max_backoff)
                    continue
                await self._sleep(self.config.poll_interval)
        finally:
            await self._release()
            logger.info("relay %s stopped after publishing %d events", self.holder_id, self.published_count)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        except TimeoutError:
            pass
        self._wakeup.clear()

    async def _connect(self) -> NatsClient:
        if self._client is None or self._client.is_closed:
            self._client = await nats.connect(
                self.config.nats_url,
                name=f"modelward-{self.config.service}-relay",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                allow_reconnect=True,
                **self.config.nats_security.connect_options(),
            )
            self._stream_ready = False
            self._acks = None
        if self._acks is None:
            self._acks = await _Acknowledgements.subscribe(self._client)
        if not self._stream_ready:
            await ensure_stream(self._client, self.config)
            self._stream_ready = True
        return self._client

    async def _step(self) -> int:
        """Publish one batch if this relay holds the lease; return how many were published."""
        if not await self._hold_lease():
            return 0
        client = await self._connect()
        if self._cursor is None:
            await self._resume(client)
            # Reading the stream's end can take seconds (a missing permission waits for a
            # timeout), so the lease is renewed when it is due before the batch.
            if self._cursor is None or not await self._hold_lease():
                return 0
        batch = self._take_handed()
        if batch is None:
            async with read_connection(self.engine, "reading the outbox") as connection:
                batch = await read_all(connection, after_position=self._cursor, limit=self.config.batch_size)
        if not batch:
            return 0
        if time.monotonic() >= self._publish_until:
            # Paused or slowed since the lease was renewed: another relay may hold it by now.
            logger.warning(
                "relay %s dropped the batch after position %d because it stalled past its lease margin (half the "
                "lease time); it renews the lease before publishing again",
                self.holder_id, self._cursor,
            )
            self.is_leader = False
            self._cursor = None
            return 0
        await self._publish(client, batch)
        return len(batch)

    async def _resume(self, client: NatsClient) -> None:
        """Set the cursor after taking the lease: the recorded position, or the stream's last event.

        The stream's last event is further on when a relay stopped between JetStream's
        acknowledgement and recording the position. Its id is looked up in this database. An id
        that is not found there (a stream shared with another database, or a database restored
        from an older backup) leaves the recorded position in force.
        """
        last_id = await self._last_stored_event_id(client)
        info = await client.jetstream().stream_info(self.config.stream_name)
        self._stream_sequence = info.state.last_seq or 0
        async with read_connection(self.engine, "reading the published position") as connection:
            recorded = await published_position_of(connection, self.config.stream_name)
            stored = await position_of_event(connection, last_id) if last_id else None
        if last_id and stored is None:
            logger.warning(
                "relay %s: the last event on stream %s (id %s) was not found in this database, so it resumes "
                "after the recorded position %d",
                self.holder_id, self.config.stream_name, last_id, recorded,
            )
        if stored is not None and stored > recorded:
            logger.warning(
                "relay %s: stream %s already contains events up to position %d, past the recorded position %d, "
                "so it resumes after %d",
                self.holder_id, self.config.stream_name, stored, recorded, stored,
            )
            await self._advance_cursor(stored)
            return
        self._cursor = recorded

    async def _last_stored_event_id(self, client: NatsClient) -> str:
        """Return the message id of the stream's last event, or "" for an empty stream.

        Also "" when the NATS user may not read stream messages (a registry upgraded before its
        NATS permissions): the relay then resumes after the recorded position, as it did before
        it read the stream, and warns.
        """
        try:
            message = await client.jetstream(timeout=_STREAM_READ_TIMEOUT).get_last_msg(
                self.config.stream_name, stream_subjects(self.config)
            )
        except NotFoundError:
            return ""
        except (TimeoutError, nats.errors.TimeoutError) as error:
            logger.warning(
                "relay %s could not read the last event of stream %s (%s: %s), so it resumes after the recorded "
                "position; grant its NATS user $JS.API.STREAM.MSG.GET.%s",
                self.holder_id, self.config.stream_name, type(error).__name__, error, self.config.stream_name,
            )
            return ""
        return (message.headers or {}).get(MSG_ID_HEADER, "")

    async def _hold_lease(self) -> bool:
        """Renew the lease once a third of its time has passed; between renewals trust it."""
        if self.is_leader and time.monotonic() < self._renew_at:
            return True
        renewed_at = time.monotonic()
        self.is_leader = await self._acquire_lease()
        if self.is_leader:
            self._renew_at = renewed_at + self.config.lease_ttl / 3
            # Half the lease is left for clock differences between the hosts of the replicas.
            self._publish_until = renewed_at + self.config.lease_ttl / 2
        else:
            self._cursor = None
            self._handed.clear()
        return self.is_leader

    async def _publish(self, client: NatsClient, batch: list[StoredEvent]) -> int:
        """Publish a batch without waiting for each acknowledgement, then record the acked prefix.

        Messages leave on one connection in position order, and each after the first names its
        predecessor in `Nats-Expected-Last-Msg-Id`, so JetStream rejects every message after one
        it rejected: no event overtakes an earlier one. The first names the stream's last
        sequence as this relay left it in `Nats-Expected-Last-Sequence` (a sequence, because
        nats-server restores the last message id after a restart only inside the duplicate
        window). A relay that stalled while another took over therefore cannot append its stale
        batch. A repeat within the duplicate window is dropped before that check. When the first
        message is rejected the relay reads the stream's end again before the next batch.
        The cursor moves past the unbroken run of acknowledged events from the start of the
        batch. The next step resends the rest. When a send fails (NATS gone, an event over the
        server's max_payload), the events sent before it are still awaited and recorded, then
        the error is raised.
        """
        assert self._acks is not None
        acks = self._acks
        waiting: list[tuple[StoredEvent, asyncio.Future[Stored]]] = []
        published_upto = 0
        unsent: Exception | None = None
        try:
            previous = ""
            for event in batch:
                subject = subject_for(self.config.subject_prefix, self.config.service, event.type)
                headers = headers_for(event, source=self.config.source, service=self.config.service)
                if previous:
                    headers[js_api.Header.EXPECTED_LAST_MSG_ID] = previous
                elif self._stream_sequence:
                    headers[js_api.Header.EXPECTED_LAST_SEQUENCE] = str(self._stream_sequence)
                previous = event.event_id
                reply, acknowledged = acks.expect()
                try:
                    await client.publish(subject, event.payload, reply=reply, headers=headers)
                except Exception as error:  # noqa: BLE001 - raised below, once the sent ones are acked
                    acks.forget([acknowledged])
                    unsent = error
                    break
                waiting.append((event, acknowledged))
            async with asyncio.timeout(self.config.publish_timeout):
                for event, acknowledged in waiting:
                    try:
                        stored = await acknowledged
                    except PublishRejected as rejected:
                        if event is batch[0]:
                            # The stream's end is not where this relay left it (another relay
                            # published, or the stream lost or gained messages): read it again.
                            self._cursor = None
                        if rejected.code == NO_STREAM:
                            # The stream was deleted: create it again before the next batch.
                            self._stream_ready = False
                        raise
                    if not stored.duplicate:
                        self._stream_sequence = stored.sequence
                    published_upto = event.position
                    self.published_count += 1
                    if logger.isEnabledFor(logging.DEBUG):
                        logger.debug(
                            "published event %s (%s, stream %s v%d, position %d)",
                            event.event_id, event.type, event.stream_id, event.stream_version, event.position,
                        )
        finally:
            acks.forget(acknowledged for _, acknowledged in waiting)
            if published_upto:
                await self._advance_cursor(published_upto)
        if unsent is not None:
            raise unsent
        return published_upto

    async def _advance_cursor(self, position: int) -> None:
        async with statement_connection(self.engine, "recording the published position") as connection:
            result = await connection.execute(
                _record_position(connection.dialect.name),
                {"stream_key": self.config.stream_name, "holder_key": self.holder_id, "upto": position, "now": utc_now()},
            )
        if result.rowcount == 0:
            # Another relay took the lease and may have moved the cursor: start over from the
            # database's cursor after winning the lease again.
            logger.warning("relay %s lost its lease before recording position %d", self.holder_id, position)
            self.is_leader = False
            self._cursor = None
            return
        self._cursor = position

    async def _acquire_lease(self) -> bool:
        now = utc_now()
        expires = now + dt.timedelta(seconds=self.config.lease_ttl)
        table = relay_state_table
        async with self.engine.begin() as connection:
            exists = await connection.scalar(
                sa.select(sa.func.count()).select_from(table).where(table.c.name == self.config.stream_name)
            )
            if not exists:
                try:
                    async with connection.begin_nested():
                        await connection.execute(
                            table.insert().values(name=self.config.stream_name, published_position=0)
                        )
                except sa.exc.IntegrityError:
                    logger.debug("relay state row for %s created concurrently", self.config.stream_name)
            result = await connection.execute(
                table.update()
                .where(
                    table.c.name == self.config.stream_name,
                    sa.or_(
                        table.c.holder == self.holder_id,
                        table.c.holder.is_(None),
                        table.c.lease_expires_at < now,
                    ),
                )
                .values(holder=self.holder_id, lease_expires_at=expires)
            )
        acquired = result.rowcount == 1
        if acquired and not self.is_leader:
            logger.info("relay %s holds the lease for stream %s", self.holder_id, self.config.stream_name)
        if not acquired and self.is_leader:
            logger.warning("relay %s lost the lease for stream %s", self.holder_id, self.config.stream_name)
        return acquired

    async def _release(self) -> None:
        try:
            if self.is_leader:
                async with self.engine.begin() as connection:
                    await connection.execute(
                        relay_state_table.update()
                        .where(
                            relay_state_table.c.name == self.config.stream_name,
                            relay_state_table.c.holder == self.holder_id,
                        )
                        .values(holder=None, lease_expires_at=None)
                    )
                self.is_leader = False
        except Exception as error:  # noqa: BLE001 - the lease expires on its own
            logger.warning("relay %s could not release its lease: %s", self.holder_id, error)
        if self._client is not None and not self._client.is_closed:
            try:
                await self._client.close()
            except Exception as error:  # noqa: BLE001 - closing a broken connection
                logger.debug("relay %s closing NATS failed: %s", self.holder_id, error)
        self._client = None
        self._acks = None


async def position_of_event(connection: AsyncConnection, event_id: str) -> int | None:
    """Return the position of the event with this id, or None when it is not in the database."""
    try:
        event_uuid = str(uuid.UUID(event_id))
    except ValueError:
        return None
    value = await connection.scalar(sa.select(events_table.c.position).where(events_table.c.event_id == event_uuid))
    return None if value is None else int(value)


async def published_position_of(connection: AsyncConnection, stream_name: str) -> int:
    value = await connection.scalar(
        sa.select(relay_state_table.c.published_position).where(relay_state_table.c.name == stream_name)
    )
    return int(value or 0)
