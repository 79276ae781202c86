"""A fetched batch of messages applies in one transaction without weakening per-event guarantees.

Also covers the event store's append of several streams at once, which governance's batches use.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from modelward_common import eventstore, hashchain
from modelward_common.cloudevents import headers_for, parse_event
from modelward_common.consumer import CONSUMER_TABLES, ConsumerConfig, EventConsumer, list_dead_letters
from modelward_common.db import create_engine
from modelward_common.eventstore import ConcurrencyConflict, EventContext, NewEvent, StoredEvent, read_stream
from modelward_common.timeutil import utc_now
from modelward_governance.bootstrap import prepare_database
from modelward_governance.domain.policy_yaml import default_policy_text
from modelward_governance.service_layer.governance import Governance
from modelward_protos.events.v1 import governance_events_pb2 as governance_events
from modelward_protos.events.v1 import registry_events_pb2 as registry_events

applied_table = sa.Table(
    "applied", sa.MetaData(),
    sa.Column("stream_id", sa.String(64), primary_key=True),
    sa.Column("stream_version", sa.BigInteger, primary_key=True),
)


@dataclass
class _Metadata:
    num_delivered: int
    sequence: object
    # The JetStream stream the message came from, as the consumers here are configured.
    stream: str = "S"


@dataclass
class _Sequence:
    stream: int


@dataclass
class FakeMessage:
    """The part of a JetStream message the consumer uses, recording how it was settled."""

    data: bytes
    headers: dict[str, str]
    metadata: _Metadata
    settled: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")


def _message(stream_id: str, version: int, payload: object, *, deliveries: int = 1, sequence: int = 1) -> FakeMessage:
    stored = StoredEvent(
        position=sequence, event_id=str(uuid.uuid4()), stream_id=stream_id, stream_version=version,
        type=type(payload).__name__, payload=payload.SerializeToString(), subject="models/test",  # type: ignore[attr-defined]
        actor="user:ana@example.com", reason="", correlation_id="", causation_id="", traceparent="",
        recorded_at=utc_now(),
    )
    headers = headers_for(stored, source="urn:modelward:registry", service="registry")
    return FakeMessage(stored.payload, headers, _Metadata(deliveries, _Sequence(sequence)))


def _redelivered(message: FakeMessage) -> FakeMessage:
    return FakeMessage(message.data, dict(message.headers), _Metadata(message.metadata.num_delivered + 1, message.metadata.sequence))


def _archived(stream_id: str, version: int, **options: int) -> FakeMessage:
    return _message(stream_id, version, registry_events.ModelArchived(model_uid=stream_id), **options)


async def _engine(url: str):
    engine = create_engine(url)
    async with engine.begin() as connection:
        for table in CONSUMER_TABLES:
            await connection.run_sync(table.create)
        await connection.run_sync(applied_table.create)
    return engine


def _consumer(engine, *, failing_streams: frozenset[str] = frozenset()) -> EventConsumer:
    async def handler(connection, event) -> None:
        if event.stream_id in failing_streams:
            raise RuntimeError(f"test handler rejects stream {event.stream_id}")
        await connection.execute(applied_table.insert().values(stream_id=event.stream_id, stream_version=event.stream_version))

    config = ConsumerConfig(nats_url="", stream_name="S", durable_name="d", filter_subject="s.>", name="test", max_deliveries=3)
    return EventConsumer(engine, config, handler)


def governance_consumer(engine, governance: Governance) -> EventConsumer:  # type: ignore[no-untyped-def]
    """Return a consumer that applies registry events with `governance`, batches included."""
    config = ConsumerConfig(nats_url="", stream_name="S", durable_name="d", filter_subject="s.>", name="governance")
    return EventConsumer(
        engine, config, governance.handle_registry_event,
        before_apply=governance.prepare_batch, after_apply=governance.finish_batch,
    )


async def _applied(engine) -> list[tuple[str, int]]:
    async with engine.connect() as connection:
        result = await connection.execute(sa.select(applied_table).order_by(applied_table.c.stream_id, applied_table.c.stream_version))
    return [tuple(row) for row in result]


async def test_batch_commits_others_when_one_fails(database_url) -> None:
    engine = await _engine(database_url)
    consumer = _consumer(engine, failing_streams=frozenset({"b"}))
    messages = [_archived("a", 1), _archived("b", 1), _archived("c", 1)]

    await consumer.process_batch(messages)

    assert await _applied(engine) == [("a", 1), ("c", 1)]
    assert messages[0].settled == ["ack"]
    assert messages[1].settled == ["nak"]
    assert messages[2].settled == ["ack"]
    assert consumer.applied_count == 2
    await engine.dispose()


async def test_batch_parks_event_at_last_delivery(database_url) -> None:
    engine = await _engine(database_url)
    consumer = _consumer(engine, failing_streams=frozenset({"b"}))
    messages = [_archived("a", 1), _archived("b", 1, deliveries=3), _archived("c", 1)]

    await consumer.process_batch(messages)

    assert await _applied(engine) == [("a", 1), ("c", 1)]
    assert [message.settled for message in messages] == [["ack"], ["ack"], ["ack"]]
    async with engine.connect() as connection:
        parked = await list_dead_letters(connection, "test")
    assert [row["stream_id"] for row in parked] == ["b"]
    await engine.dispose()


async def test_batch_with_duplicates_applies_once(database_url) -> None:
    engine = await _engine(database_url)
    consumer = _consumer(engine)
    first, second = _archived("a", 1), _archived("b", 1)
    await consumer.process_batch([first])

    batch = [_redelivered(first), second, _redelivered(second)]
    await consumer.process_batch(batch)

    assert await _applied(engine) == [("a", 1), ("b", 1)]
    assert [message.settled for message in batch] == [["ack"], ["ack"], ["ack"]]
    assert consumer.duplicate_count == 2
    assert consumer.applied_count == 2
    await engine.dispose()


async def test_batch_naks_early_event(database_url) -> None:
    engine = await _engine(database_url)
    consumer = _consumer(engine)
    one, two, three = _archived("a", 1), _archived("a", 2), _archived("a", 3)

    await consumer.process_batch([one, three, two, _archived("b", 1)])
    assert three.settled == ["nak"]
    assert await _applied(engine) == [("a", 1), ("a", 2), ("b", 1)]

    again = _redelivered(three)
    await consumer.process_batch([again, _archived("b", 2)])
    assert again.settled == ["ack"]
    assert await _applied(engine) == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2)]
    await engine.dispose()


async def test_batch_statements_on_postgresql(fresh_pg_url) -> None:
    """A batch reads the inbox with the progress claim and writes both in one statement each."""
    engine = await _engine(fresh_pg_url())
    consumer = _consumer(engine)
    await consumer.process_batch([_archived("a", 1)])
    statements: list[str] = []
    sa.event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    batch = [_archived("a", 2), _archived("b", 1), _archived("c", 1), _archived("a", 3)]
    await consumer.process_batch(batch)

    handler_inserts = [statement for statement in statements if "INSERT INTO applied" in statement]
    assert len(handler_inserts) == 4
    assert len(statements) == len(handler_inserts) + 2
    assert await _applied(engine) == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1)]
    async with engine.connect() as connection:
        progress = dict((await connection.execute(sa.text("SELECT stream_id, last_version FROM consumer_progress"))).all())
        processed = (await connection.execute(sa.text(
            "SELECT count(*), count(DISTINCT processed_at) FROM consumer_inbox WHERE stream_id <> 'a' OR stream_version > 1"
        ))).one()
    assert progress == {"a": 3, "b": 1, "c": 1}
    assert tuple(processed) == (4, 1)
    await engine.dispose()


async def test_new_stream_on_two_replicas(database_url, caplog) -> None:
    """Two replicas start one new stream at once: the second waits for the first, then goes on."""
    engine = await _engine(database_url)
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_handler(connection, event) -> None:
        if event.stream_id == "a" and event.stream_version == 1:
            entered.set()
            await release.wait()
        await connection.execute(applied_table.insert().values(stream_id=event.stream_id, stream_version=event.stream_version))

    config = ConsumerConfig(nats_url="", stream_name="S", durable_name="d", filter_subject="s.>", name="test", max_deliveries=3)
    first, second = EventConsumer(engine, config, slow_handler), EventConsumer(engine, config, slow_handler)
    first_event, second_event = _archived("a", 1), _archived("a", 2)
    caplog.set_level(logging.INFO, logger="modelward_common.consumer")

    applying = asyncio.create_task(first.apply(parse_event(first_event.headers, first_event.data)))
    await entered.wait()
    # The second replica's single event and batch both need stream a's progress row, which the
    # first replica's open transaction is creating.
    single = asyncio.create_task(second.process_batch([second_event]))
    batch = [_redelivered(first_event), _archived("b", 1)]
    batched = asyncio.create_task(second.process_batch(batch))
    await asyncio.sleep(0.3)
    assert not single.done(), "the second replica waits for the first one's commit"
    release.set()
    assert await applying
    await single
    await batched

    assert second_event.settled == ["ack"]
    assert [message.settled for message in batch] == [["ack"], ["ack"]]
    assert await _applied(engine) == [("a", 1), ("a", 2), ("b", 1)]
    assert second.duplicate_count == 1
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert not warnings
    await engine.dispose()


async def _finding_revisions(engine, model_uid: str) -> set[int]:
    """Return the policy revisions that the model's policy findings were opened under."""
    async with engine.connect() as connection:
        stored = await read_stream(connection, model_uid)
    opened = [governance_events.FindingOpened.FromString(event.payload) for event in stored if event.type == "FindingOpened"]
    # Findings of other checks than the policy's (an orphan finding here) carry revision 0.
    return {finding.policy_revision for finding in opened if finding.policy_revision}


def _ownerless_model(model_id: str) -> FakeMessage:
    uid = str(uuid.uuid4())
    created = registry_events.ModelCreated(
        model_uid=uid, model_id=model_id, owner="", team="fraud", risk_tier=3, task_type="binary_classification",
    )
    return _message(uid, 1, created)


async def test_policy_replaced_by_other_replica_is_used(database_url) -> None:
    engine = create_engine(database_url)
    await prepare_database(engine)
    first, second = Governance(engine), Governance(engine)
    await first.start()
    await second.start()
    consumer = governance_consumer(engine, first)
    before = [_ownerless_model("before-1"), _ownerless_model("before-2")]
    await consumer.process_batch(before)

    await second.replace_policy(default_policy_text(), author="user:ana@example.com", reason="new revision")
    after = [_ownerless_model("after-1"), _ownerless_model("after-2")]
    await consumer.process_batch(after)

    for message in before:
        assert await _finding_revisions(engine, message.headers["ce-streamid"]) == {1}
    for message in after:
        assert await _finding_revisions(engine, message.headers["ce-streamid"]) == {2}
    await engine.dispose()


async def test_append_many_matches_single_appends(database_url) -> None:
    engine = create_engine(database_url)
    await prepare_database(engine)
    context = EventContext(actor="user:ana@example.com")

    def batch(stream_id: str, count: int) -> list[NewEvent]:
        return [NewEvent(type="Tested", payload=f"{stream_id}-{index}".encode(), subject=stream_id) for index in range(count)]

    async with engine.begin() as connection:
        await eventstore.append(connection, "a", 0, batch("a", 1), context)
        stored = await eventstore.append_many(connection, [
            eventstore.PendingAppend("b", 0, batch("b", 2), context),
            eventstore.PendingAppend("a", 1, batch("a", 1), context),
        ])
    assert [(event.stream_id, event.stream_version) for event in stored] == [("b", 1), ("b", 2), ("a", 2)]

    async with engine.connect() as connection:
        everything = await eventstore.read_all(connection)
        versions = await eventstore.stream_versions(connection, ["a", "b", "c"])
    assert versions == {"a": 2, "b": 2, "c": 0}
    for before, after in zip(everything, everything[1:]):
        assert after.previous_position == before.position
        assert after.previous_hash == before.event_hash
    for event in everything:
        fields = {column.name: getattr(event, column.name) for column in eventstore.events_table.columns}
        assert event.event_hash == hashchain.event_hash(fields)
    await engine.dispose()


async def test_append_waiting_for_lock_links_to_new_head(fresh_pg_url) -> None:
    """An append that waited for the append lock must read the head its predecessor committed.

    A single statement would read with the snapshot taken before it waited, link to the old head
    and fork the chain. The first transaction holds the lock while the second one waits for it.
    """
    engine = create_engine(fresh_pg_url())
    await prepare_database(engine)
    context = EventContext(actor="user:ana@example.com")
    holding = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as connection:
            await eventstore.append(connection, "a", 0, [NewEvent(type="Tested", payload=b"1", subject="a")], context)
            holding.set()
            await release.wait()

    async def second() -> None:
        await holding.wait()
        async with engine.begin() as connection:
            await eventstore.append(connection, "b", 0, [NewEvent(type="Tested", payload=b"2", subject="b")], context)

    try:
        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await holding.wait()
        await asyncio.sleep(0.3)
        release.set()
        await asyncio.gather(*tasks)
        async with engine.connect() as connection:
            events = await eventstore.read_all(connection)
    finally:
        await engine.dispose()
    assert [event.stream_id for event in events] == ["a", "b"]
    assert events[1].previous_position == events[0].position
    assert events[1].previous_hash == events[0].event_hash


async def test_append_many_conflict_writes_nothing(database_url) -> None:
    engine = create_engine(database_url)
    await prepare_database(engine)
    context = EventContext(actor="user:ana@example.com")
    async with engine.begin() as connection:
        await eventstore.append(connection, "a", 0, [NewEvent(type="Tested", payload=b"1", subject="a")], context)

    with pytest.raises(ConcurrencyConflict):
        async with engine.begin() as connection:
            await eventstore.append_many(connection, [
                eventstore.PendingAppend("b", 0, [NewEvent(type="Tested", payload=b"2", subject="b")], context),
                eventstore.PendingAppend("a", 0, [NewEvent(type="Tested", payload=b"3", subject="a")], context),
            ])

    async with engine.connect() as connection:
        assert await eventstore.stream_versions(connection, ["a", "b"]) == {"a": 1, "b": 0}
    await engine.dispose()


async def test_batch_reads_equal_single_reads(database_url) -> None:
    """A batch reads the policy revision, inactive principals, open findings, flagged pairs and
    stream versions in one statement; each part must equal its own query."""
    from modelward_governance.adapters import store
    from modelward_governance.domain.redundancy import MatchKind, RedundancyMatch

    engine = create_engine(database_url)
    await prepare_database(engine)
    governance = Governance(engine)
    await governance.start()
    consumer = governance_consumer(engine, governance)
    messages = [_ownerless_model(f"reads-{index}") for index in range(3)]
    await consumer.process_batch(messages)
    uids = [message.headers["ce-streamid"] for message in messages]
    async with engine.begin() as connection:
        await store.set_principal(connection, "user:Gone@Example.com", False, "left", "user:admin@example.com")
        await store.flag_pairs(connection, [RedundancyMatch(MatchKind.ARTIFACT_DIGEST, uids[0], 1, uids[1], 1, 1.0, 1.0)])

    requested = [*uids, "model-without-anything"]
    async with engine.connect() as connection:
        reads = await store.batch_reads(connection, requested)
        assert reads.policy_revision == await store.current_policy_revision(connection) == 1
        assert reads.principals == await store.principal_directory(connection)
        assert reads.principals.inactive == frozenset({"user:gone@example.com"})
        assert reads.findings == await store.open_findings_of(connection, requested)
        assert all(reads.findings[uid] for uid in uids)
        assert reads.flagged == {uid: await store.flagged_pairs(connection, uid) for uid in requested}
        assert len(reads.flagged[uids[0]]) == len(reads.flagged[uids[1]]) == 1
        assert reads.stream_versions == await eventstore.stream_versions(connection, requested)
        assert all(reads.stream_versions[uid] > 0 for uid in uids)
        assert reads.stream_versions["model-without-anything"] == 0
    await engine.dispose()


class _NakFails(FakeMessage):
    async def nak(self, delay: float | None = None) -> None:
        raise ConnectionError("connection to NATS lost")


async def test_cancelled_batch_logs_failed_hand_back(database_url, caplog) -> None:
    """A batch stopped at shutdown hands its messages back; one that cannot go back is logged, and
    the others still go back."""
    engine = await _engine(database_url)
    started = asyncio.Event()

    async def handler(connection, event) -> None:
        started.set()
        await asyncio.Event().wait()

    config = ConsumerConfig(nats_url="", stream_name="S", durable_name="d", filter_subject="s.>", name="test")
    consumer = EventConsumer(engine, config, handler)
    failing = _archived("a", 1)
    stuck = _NakFails(failing.data, failing.headers, failing.metadata)
    other = _archived("b", 1)
    task = asyncio.create_task(consumer.process_batch([stuck, other]))
    await started.wait()

    with caplog.at_level(logging.WARNING, logger="modelward_common.consumer"):
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert other.settled == ["nak"]
    assert "could not hand back a message of the stopped batch (ConnectionError: connection to NATS lost)" in caplog.text
    await engine.dispose()


async def test_single_apply_waits_for_batch(database_url) -> None:
    """An event applied on its own while a batch runs (as apply_missing does) waits for the batch.

    The batch keeps its unsaved rows and events in governance's batch state until its commit, so
    an apply that started its own batch state in the middle would drop them.
    """
    engine = create_engine(database_url)
    await prepare_database(engine)
    governance = Governance(engine)
    await governance.start()
    consumer = governance_consumer(engine, governance)
    batch = [_ownerless_model("batch-1"), _ownerless_model("batch-2")]
    alone = _ownerless_model("alone")
    in_batch, release = asyncio.Event(), asyncio.Event()

    async def pausing_handler(connection, event) -> None:  # type: ignore[no-untyped-def]
        await governance.handle_registry_event(connection, event)
        if event.stream_id == batch[0].headers["ce-streamid"]:
            in_batch.set()
            await release.wait()

    consumer.handler = pausing_handler
    batch_run = asyncio.create_task(consumer.process_batch(batch))
    await in_batch.wait()
    single_run = asyncio.create_task(consumer.apply(parse_event(alone.headers, alone.data)))
    await asyncio.sleep(0.2)
    release.set()
    await batch_run
    assert await single_run is True

    for message in [*batch, alone]:
        async with engine.connect() as connection:
            recorded = {event.type for event in await read_stream(connection, message.headers["ce-streamid"])}
        assert "FindingOpened" in recorded, message.headers["ce-streamid"]
    await engine.dispose()
