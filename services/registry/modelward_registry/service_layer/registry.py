"""The registry's use cases: each command runs in one transaction that loads the aggregate,
decides, updates the projections and appends the events; then the relay is woken.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common import eventstore
from modelward_common.db import is_among, is_unique_violation, read_connection, transaction
from modelward_common.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, ModelwardError, NotFound
from modelward_common.eventstore import ConcurrencyConflict, EventContext, NewEvent
from modelward_common.timeutil import utc_now
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.adapters import repository as repo
from modelward_registry.adapters.alias_cache import AliasCache, AliasCacheSettings
from modelward_registry.adapters.schema import models_table, request_ids_table
from modelward_registry.domain import decisions
from modelward_registry.domain.model import ModelAggregate, apply, empty_aggregate
from modelward_registry.domain.names import model_name, version_name
from modelward_registry.domain.validation import check_request_id, check_text, MAX_REASON
from modelward_registry.service_layer.write_groups import WriteGroups

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RegistrySettings:
    # Stages a transition into waits for governance's approval (PromotionRequested).
    governed_stages: frozenset[int] = frozenset()
    # Times one command is retried when another writer changed the model first.
    max_conflict_retries: int = 8
    # CreateModelVersion requests committed together at most (see write_groups.py).
    max_group_size: int = 64


@dataclass(frozen=True)
class Idempotency:
    """A create request's idempotency key with the hash of the request it first came with."""

    method: str
    request_id: str
    request_hash: str


@dataclass(frozen=True)
class _NewVersion:
    """A CreateModelVersion request whose fields passed the checks that need no model."""

    model_id: str
    version: res.ModelVersion
    context: EventContext
    idempotency: Idempotency | None


@functools.cache
def _used_request_ids(dialect: str) -> sa.Select[Any]:
    return sa.select(request_ids_table).where(
        request_ids_table.c.method == sa.bindparam("method"),
        is_among(dialect, request_ids_table.c.request_id, "request_ids"),
    )


def _idempotency_key(request: _NewVersion) -> str | None:
    return request.idempotency.request_id if request.idempotency else None


def request_fingerprint(request: Message) -> str:
    """Hash a request without its request_id, so a retried request can be told from a new one."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("request_id")  # type: ignore[arg-type]
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


def subject_of(aggregate: ModelAggregate, event: Message) -> str:
    number = getattr(event, "version", 0)
    if not number and event.DESCRIPTOR.name == "ModelVersionCreated":
        number = event.model_version.version  # type: ignore[attr-defined]
    if number:
        return version_name(aggregate.model_id, number)
    return model_name(aggregate.model_id)


class Registry:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: RegistrySettings | None = None,
        *,
        on_commit: Callable[[Sequence[eventstore.StoredEvent]], None] = lambda events: None,
        alias_cache: AliasCache | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or RegistrySettings()
        # Called after each commit with the events it recorded (the relay publishes them).
        self.on_commit = on_commit
        self.alias_cache = alias_cache if alias_cache is not None else AliasCache(AliasCacheSettings(max_entries=0))
        # Streams each open transaction changed (by id of its connection), dropped from the
        # alias cache once that transaction commits.
        self._changed_streams: dict[int, set[str]] = {}
        # Events each transaction run by _execute recorded, by id of its connection, for on_commit.
        self._recorded: dict[int, list[eventstore.StoredEvent]] = {}
        self._running: set[int | None] = set()
        self._version_groups: WriteGroups[_NewVersion, res.ModelVersion] = WriteGroups(
            self._create_versions, max_size=self.settings.max_group_size, key=_idempotency_key
        )

    # --- command plumbing -------------------------------------------------------------------

    async def _execute(self, operation: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` in a transaction, retrying when a concurrent writer won the race."""
        for attempt in range(1, self.settings.max_conflict_retries + 1):
            key = None
            try:
                async with transaction(self.engine, operation) as connection:
                    key = id(connection)
                    self._running.add(key)
                    self._recorded[key] = []
                    result = await work(connection)
            except ConcurrencyConflict as conflict:
                logger.info("%s: %s (attempt %d)", operation, conflict.message, attempt)
                continue
            except exc.IntegrityError as error:
                if not is_unique_violation(error):
                    raise
                logger.info("%s: unique key taken concurrently, retrying (attempt %d)", operation, attempt)
                continue
            finally:
                self._running.discard(key)
                changed = self._changed_streams.pop(key, None)
                recorded = self._recorded.pop(key, [])
            if changed:
                self.alias_cache.drop(changed)
            self.on_commit(recorded)
            return result
        raise Aborted(
            f"{operation} kept conflicting with concurrent changes to the same model; retry the request",
            reason="TOO_MUCH_CONTENTION",
        )

    async def record(
        self, connection: AsyncConnection, aggregate: ModelAggregate, events: Sequence[Message], context: EventContext
    ) -> None:
        if events:
            await self._write(connection, [aggregate], [self._stage(aggregate, events, context, utc_now())])

    def _stage(
        self, aggregate: ModelAggregate, events: Sequence[Message], context: EventContext, now: dt.datetime
    ) -> eventstore.PendingAppend:
        """Apply events to the aggregate and return them as an append after its current version."""
        expected = aggregate.stream_version
        new_events = []
        for event in events:
            apply(aggregate, event, now)
            new_events.append(
                NewEvent(type=event.DESCRIPTOR.name, payload=event.SerializeToString(), subject=subject_of(aggregate, event))
            )
        return eventstore.PendingAppend(aggregate.uid, expected, new_events, context, now)

    async def _write(
        self, connection: AsyncConnection, aggregates: Sequence[ModelAggregate], appends: Sequence[eventstore.PendingAppend]
    ) -> None:
        """Write the staged aggregates' projections, then append their events (appends go last,
        so the append lock is held briefly)."""
        await repo.save_aggregates(connection, aggregates)
        self._changed_streams.setdefault(id(connection), set()).update(aggregate.uid for aggregate in aggregates)
        stored = await eventstore.append_many(connection, appends)
        # Only _execute sees whether its transaction committed, so only its events are handed to
        # the relay. Events of other transactions (the decision consumer's) are read from the outbox.
        if id(connection) in self._recorded:
            self._recorded[id(connection)].extend(stored)
        for event in stored:
            logger.info(
                "recorded %s on %s (event %s, stream %s v%d, request %s, actor %s)",
                event.type, event.subject, event.event_id, event.stream_id, event.stream_version,
                event.correlation_id or "-", event.actor,
            )

    def after_external_commit(self) -> None:
        """Drop the cached aliases of streams that a transaction not run by `_execute` changed.

        The promotion-decision consumer records events through `record` in its own transactions
        and calls this after each commit.
        """
        for key in [key for key in self._changed_streams if key not in self._running]:
            self.alias_cache.drop(self._changed_streams.pop(key))
        self.on_commit([])

    async def _load(
        self, connection: AsyncConnection, model_id: str, versions: Sequence[int] = (), *, field: str = "name"
    ) -> ModelAggregate:
        aggregate = await repo.load_aggregate(connection, model_id=model_id, versions=versions)
        if aggregate is None:
            raise await self._model_not_found(connection, model_id, field)
        return aggregate

    async def _model_not_found(self, connection: AsyncConnection, model_id: str, field: str) -> NotFound:
        similar = await connection.scalar(
            sa.select(models_table.c.model_id).where(models_table.c.name_key == repo.name_key(model_id))
        )
        hint = f"; names are case-sensitive in lookups, did you mean {model_name(similar)}?" if similar else ""
        return NotFound(f"model {model_name(model_id)} not found{hint}", field=field)

    async def _change(
        self,
        operation: str,
        model_id: str,
        decide: Callable[[ModelAggregate], list[Message]],
        context: EventContext,
        *,
        versions: Sequence[int] = (),
        field: str = "name",
    ) -> ModelAggregate:
        check_text(context.reason, "reason", MAX_REASON)

        async def work(connection: AsyncConnection) -> ModelAggregate:
            aggregate = await self._load(connection, model_id, versions, field=field)
            await self.record(connection, aggregate, decide(aggregate), context)
            return aggregate

        return await self._execute(operation, work)

    async def _claim_request(self, connection: AsyncConnection, key: Idempotency, model_uid: str) -> tuple[str, int] | None:
        """Return the first result of a retried request, or claim the key for this one."""
        row = (
            await connection.execute(
                sa.select(request_ids_table).where(
                    request_ids_table.c.method == key.method, request_ids_table.c.request_id == key.request_id
                )
            )
        ).mappings().first()
        if row is not None:
            return self._earlier_result(row, key)
        await connection.execute(
            request_ids_table.insert().values(
                method=key.method, request_id=key.request_id, request_hash=key.request_hash,
                model_uid=model_uid, version=0, create_time=utc_now(),
            )
        )
        return None

    @staticmethod
    def _earlier_result(row: Mapping[str, Any], key: Idempotency) -> tuple[str, int]:
        """Return the (model uid, version) a request_id first produced, unless it came with other content."""
        if row["request_hash"] != key.request_hash:
            raise InvalidArgument(
                "request_id", key.request_id,
                "use a new request_id for a different request; this one was first used with other content",
                problem="was already used",
            )
        return row["model_uid"], row["version"]

    # --- models -----------------------------------------------------------------------------

    async def create_model(
        self, model_id: str, model: res.Model, context: EventContext, idempotency: Idempotency | None = None
    ) -> res.Model:
        check_text(context.reason, "reason", MAX_REASON)
        if idempotency:
            check_request_id(idempotency.request_id)
        uid = str(uuid.uuid4())
        events = decisions.decide_create_model(uid, model_id, model)

        async def work(connection: AsyncConnection) -> res.Model:
            if idempotency:
                earlier = await self._claim_request(connection, idempotency, uid)
                if earlier is not None:
                    return await self._model_by_uid(connection, earlier[0])
            taken = await repo.uid_for_name(connection, model_id)
            if taken is not None:
                existing = await connection.scalar(sa.select(models_table.c.model_id).where(models_table.c.uid == taken))
                raise AlreadyExists(
                    f"model {model_name(existing)} already exists and names are unique regardless of case; "
                    "choose another model_id",
                    field="model_id",
                )
            aggregate = empty_aggregate(uid)
            await self.record(connection, aggregate, events, context)
            return await self._model_by_uid(connection, uid)

        return await self._execute("CreateModel", work)

    async def _model_by_uid(self, connection: AsyncConnection, uid: str) -> res.Model:
        row = (await connection.execute(sa.select(models_table).where(models_table.c.uid == uid))).mappings().one()
        return repo.model_message(row)

    async def _model_result(self, aggregate: ModelAggregate) -> res.Model:
        async with read_connection(self.engine, "reading a model") as connection:
            return await self._model_by_uid(connection, aggregate.uid)

    async def get_model(self, model_id: str) -> res.Model:
        async with read_connection(self.engine, "GetModel") as connection:
            row = await repo.get_model_row(connection, model_id)
            if row is None:
                raise await self._model_not_found(connection, model_id, "name")
            return repo.model_message(row)

    async def update_model(self, model_id: str, model: res.Model, paths: Sequence[str], context: EventContext) -> res.Model:
        decisions.check_update_mask(paths, decisions.MODEL_UPDATE_PATHS)
        aggregate = await self._change(
            "UpdateModel", model_id, lambda agg: decisions.decide_update_model(agg, model, paths), context,
            field="model.name",
        )
        return await self._model_result(aggregate)

    async def rename_model(self, model_id: str, new_model_id: str, etag: str, context: EventContext) -> res.Model:
        decisions.rules.check_model_id(new_model_id, "new_model_id")

        async def work(connection: AsyncConnection) -> ModelAggregate:
            aggregate = await self._load(connection, model_id)
            owner_of_name = await repo.uid_for_name(connection, new_model_id)
            taken = owner_of_name is not None and owner_of_name != aggregate.uid
            events = decisions.decide_rename(aggregate, new_model_id, etag, taken)
            await self.record(connection, aggregate, events, context)
            return aggregate

        check_text(context.reason, "reason", MAX_REASON)
        aggregate = await self._execute("RenameModel", work)
        return await self._model_result(aggregate)

    async def archive_model(self, model_id: str, etag: str, context: EventContext) -> res.Model:
        aggregate = await self._change("ArchiveModel", model_id, lambda agg: decisions.decide_archive(agg, etag), context)
        return await self._model_result(aggregate)

    async def delete_model(self, model_id: str, etag: str, context: EventContext) -> res.Model:
        aggregate = await self._change("DeleteModel", model_id, lambda agg: decisions.decide_delete(agg, etag), context)
        return await self._model_result(aggregate)

    async def set_model_tags(self, model_id: str, tags: dict[str, str], context: EventContext) -> res.Model:
        aggregate = await self._change(
            "SetModelTags", model_id, lambda agg: decisions.decide_set_model_tags(agg, tags), context
        )
        return await self._model_result(aggregate)

    async def delete_model_tags(self, model_id: str, keys: Sequence[str], context: EventContext) -> res.Model:
        aggregate = await self._change(
            "DeleteModelTags", model_id, lambda agg: decisions.decide_delete_model_tags(agg, keys), context
        )
        return await self._model_result(aggregate)

    # --- versions ---------------------------------------------------------------------------

    async def create_version(
        self, model_id: str, version: res.ModelVersion, context: EventContext, idempotency: Idempotency | None = None
    ) -> res.ModelVersion:
        check_text(context.reason, "reason", MAX_REASON)
        if idempotency:
            check_request_id(idempotency.request_id)
        decisions.check_new_version(version)
        return await self._version_groups.submit(_NewVersion(model_id, version, context, idempotency))

    async def _create_versions(self, requests: Sequence[_NewVersion]) -> list[res.ModelVersion | BaseException]:
        """Create the versions of a group of requests in one transaction, each with its own outcome."""
        return await self._execute("CreateModelVersion", lambda connection: self._create_versions_in(connection, requests))

    async def _create_versions_in(
        self, connection: AsyncConnection, requests: Sequence[_NewVersion]
    ) -> list[res.ModelVersion | BaseException]:
        outcomes: list[res.ModelVersion | BaseException | None] = [None] * len(requests)
        earlier = await self._earlier_requests(connection, [request.idempotency for request in requests if request.idempotency])
        repeated: dict[int, tuple[str, int]] = {}
        for index, request in enumerate(requests):
            if request.idempotency and request.idempotency.request_id in earlier:
                try:
                    repeated[index] = self._earlier_result(earlier[request.idempotency.request_id], request.idempotency)
                except InvalidArgument as error:
                    outcomes[index] = error

        fresh = [index for index in range(len(requests)) if outcomes[index] is None and index not in repeated]
        aggregates = await repo.load_aggregates(connection, {requests[index].model_id for index in fresh})
        now = utc_now()
        staged: dict[str, ModelAggregate] = {}
        appends = []
        created: dict[int, tuple[ModelAggregate, int]] = {}
        for index in fresh:
            request = requests[index]
            aggregate = aggregates.get(request.model_id)
            if aggregate is None:
                outcomes[index] = await self._model_not_found(connection, request.model_id, "parent")
                continue
            try:
                events = decisions.decide_create_version(aggregate, request.version, request.context.actor, fields_checked=True)
            except ModelwardError as error:
                outcomes[index] = error
                continue
            appends.append(self._stage(aggregate, events, request.context, now))
            staged[aggregate.uid] = aggregate
            created[index] = (aggregate, aggregate.model.latest_version)

        claims = [
            {
                "method": request.idempotency.method, "request_id": request.idempotency.request_id,
                "request_hash": request.idempotency.request_hash, "model_uid": created[index][0].uid,
                "version": created[index][1], "create_time": now,
            }
            for index, request in enumerate(requests)
            if request.idempotency and index in created
        ]
        if claims:
            # A concurrent transaction that claimed one of these keys first makes this insert
            # fail on the key; _execute then runs the group again and finds that claim. The claims
            # go before the append, which holds the append lock until commit.
            await connection.execute(request_ids_table.insert(), claims)
        if appends:
            await self._write(connection, list(staged.values()), appends)

        for index, (aggregate, number) in created.items():
            outcomes[index] = repo.version_message(aggregate.model_id, aggregate.versions[number].SerializeToString())
        for index, (uid, number) in repeated.items():
            outcomes[index] = await self._version_by_uid(connection, uid, number)
        assert all(outcome is not None for outcome in outcomes), "every request of the group has an outcome"
        return outcomes  # type: ignore[return-value]

    async def _earlier_requests(self, connection: AsyncConnection, keys: Sequence[Idempotency]) -> dict[str, Mapping[str, Any]]:
        """Return the request_ids rows of the keys already used, by request_id (one method per call)."""
        if not keys:
            return {}
        result = await connection.execute(
            _used_request_ids(connection.dialect.name),
            {"method": keys[0].method, "request_ids": [key.request_id for key in keys]},
        )
        return {row["request_id"]: row for row in result.mappings()}

    async def _version_by_uid(self, connection: AsyncConnection, uid: str, number: int) -> res.ModelVersion:
        model_id = await connection.scalar(sa.select(models_table.c.model_id).where(models_table.c.uid == uid))
        body = await repo.get_version_body(connection, model_id, number)
        assert body is not None and body[1] is not None
        return repo.version_message(model_id, body[1])

    async def get_version(self, model_id: str, number: int, field: str = "name") -> res.ModelVersion:
        async with read_connection(self.engine, "GetModelVersion") as connection:
            found = await repo.get_version_body(connection, model_id, number)
            if found is None:
                raise await self._model_not_found(connection, model_id, field)
            if found[1] is None:
                raise NotFound(f"version {version_name(model_id, number)} not found", field=field)
            return repo.version_message(model_id, found[1])

    async def _version_change(
        self, operation: str, model_id: str, number: int, decide: Callable[[ModelAggregate], list[Message]], context: EventContext
    ) -> res.ModelVersion:
        aggregate = await self._change(operation, model_id, decide, context, versions=[number])
        return repo.version_message(aggregate.model_id, aggregate.version(number).SerializeToString())

    async def update_version(
        self, model_id: str, number: int, version: res.ModelVersion, paths: Sequence[str], context: EventContext
    ) -> res.ModelVersion:
        decisions.check_update_mask(paths, decisions.VERSION_UPDATE_PATHS, decisions.IMMUTABLE_VERSION_PATHS)
        decisions.check_version_fields(version, "model_version.", paths)
        return await self._version_change(
            "UpdateModelVersion", model_id, number,
            lambda agg: decisions.decide_update_version(agg, number, version, paths), context,
        )

    async def set_version_tags(self, model_id: str, number: int, tags: dict[str, str], context: EventContext) -> res.ModelVersion:
        return await self._version_change(
            "SetModelVersionTags", model_id, number,
            lambda agg: decisions.decide_set_version_tags(agg, number, tags), context,
        )

    async def delete_version_tags(self, model_id: str, number: int, keys: Sequence[str], context: EventContext) -> res.ModelVersion:
        return await self._version_change(
            "DeleteModelVersionTags", model_id, number,
            lambda agg: decisions.decide_delete_version_tags(agg, number, keys), context,
        )

    # --- aliases and stages -----------------------------------------------------------------

    async def set_alias(self, model_id: str, number: int, alias: str, context: EventContext) -> res.ModelVersion:
        decisions.rules.check_alias(alias)

        async def work(connection: AsyncConnection) -> ModelAggregate:
            aggregate = await self._load(connection, model_id, [number])
            previous = aggregate.aliases.get(alias, 0)
            if previous and previous != number:
                await repo.load_versions(connection, aggregate, [previous])
            await self.record(connection, aggregate, decisions.decide_set_alias(aggregate, number, alias), context)
            return aggregate

        check_text(context.reason, "reason", MAX_REASON)
        aggregate = await self._execute("SetAlias", work)
        return repo.version_message(aggregate.model_id, aggregate.version(number).SerializeToString())

    async def delete_alias(self, model_id: str, alias: str, context: EventContext) -> int:
        decisions.rules.check_alias(alias)

        async def work(connection: AsyncConnection) -> int:
            aggregate = await self._load(connection, model_id, field="model")
            target = aggregate.aliases.get(alias, 0)
            if target:
                await repo.load_versions(connection, aggregate, [target])
            await self.record(connection, aggregate, decisions.decide_delete_alias(aggregate, alias), context)
            return target

        check_text(context.reason, "reason", MAX_REASON)
        return await self._execute("DeleteAlias", work)

    async def resolve_alias(self, model_id: str, alias: str) -> res.ModelVersion:
        decisions.rules.check_alias(alias)
        cached = self.alias_cache.get(model_id, alias)
        if cached is not None:
            return cached
        generation = self.alias_cache.generation
        async with read_connection(self.engine, "ResolveAlias") as connection:
            found = await repo.resolve_alias(connection, model_id, alias)
            if found is None:
                raise await self._model_not_found(connection, model_id, "model")
        state, uid, body = found
        if state == res.MODEL_STATE_DELETED:
            raise FailedPrecondition(
                f"model {model_name(model_id)} is DELETED, so its aliases no longer resolve", reason="MODEL_DELETED"
            )
        if body is None:
            raise NotFound(f"alias {alias!r} not found on {model_name(model_id)}", field="alias")
        version = repo.version_message(model_id, body)
        self.alias_cache.put(model_id, alias, uid, version, generation)
        return version

    async def transition_stage(
        self, model_id: str, number: int, stage: int, *, archive_existing: bool, etag: str, context: EventContext
    ) -> res.ModelVersion:
        async def work(connection: AsyncConnection) -> ModelAggregate:
            aggregate = await self._load(connection, model_id, [number])
            if aggregate.production_version and aggregate.production_version != number:
                await repo.load_versions(connection, aggregate, [aggregate.production_version])
            events = decisions.decide_transition(
                aggregate, number, stage, archive_existing=archive_existing, etag=etag,
                requested_by=context.actor, governed_stages=self.settings.governed_stages,
            )
            await self.record(connection, aggregate, events, context)
            return aggregate

        check_text(context.reason, "reason", MAX_REASON)
        aggregate = await self._execute("TransitionStage", work)
        return repo.version_message(aggregate.model_id, aggregate.version(number).SerializeToString())

    # --- history ----------------------------------------------------------------------------

    async def stream_of(self, model_id: str) -> str:
        async with read_connection(self.engine, "GetModelHistory") as connection:
            uid = await connection.scalar(sa.select(models_table.c.uid).where(models_table.c.model_id == model_id))
            if uid is None:
                raise await self._model_not_found(connection, model_id, "name")
            return str(uid)

    async def history(self, stream_id: str, after_version: int, limit: int) -> list[eventstore.StoredEvent]:
        async with read_connection(self.engine, "GetModelHistory") as connection:
            return await eventstore.read_stream(connection, stream_id, after_version=after_version, limit=limit)
