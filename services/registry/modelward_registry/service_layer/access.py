"""Role bindings and API tokens: the registry records each change as an event.

Each binding and each token is its own event stream (created is version 1, deleted or revoked
version 2), so the relay publishes them like model events and governance applies them in order.
The access tables change in the same transaction as the append.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common import eventstore
from modelward_common.auth.api_tokens import generate_api_token
from modelward_common.auth.roles import Role
from modelward_common.auth.store import (
    ACCESS_EVENT_TYPES,
    ROLE_FROM_PROTO,
    ROLE_TO_PROTO,
    api_tokens_table,
    apply_access_event,
    global_admins,
    lock_admins,
    role_bindings_table,
)
from modelward_common.db import read_connection, transaction
from modelward_common.errors import FailedPrecondition, InvalidArgument, NotFound
from modelward_common.eventstore import EventContext, NewEvent, events_table, stored_event
from modelward_common.paging import fetch_page, parse_order_by
from modelward_common.principals import PRINCIPAL_RULE, canonical_principal, is_group, is_valid_principal
from modelward_common.timeutil import request_time, to_timestamp, utc_now
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.events.v1 import access_events_pb2 as access_events
from modelward_registry.adapters.schema import models_table
from modelward_registry.domain.names import parse_model_name
from modelward_registry.domain.validation import MAX_REASON, check_team, check_text
from modelward_registry.service_layer.principals import INACTIVE_PRINCIPALS

logger = logging.getLogger(__name__)

MAX_DISPLAY_NAME = 200
DEFAULT_EVENTS_PAGE = 100
MAX_EVENTS_PAGE = 1000
_BINDING_PREFIX = "roleBindings/"
_TOKEN_PREFIX = "apiTokens/"


def check_principal(value: str, field: str) -> str:
    """Return the canonical form of a valid principal; raise InvalidArgument naming `field` otherwise."""
    principal = canonical_principal(value)
    if not is_valid_principal(principal):
        raise InvalidArgument(field, value, f"use {PRINCIPAL_RULE}")
    return principal


def parse_binding_name(name: str) -> str:
    binding_id = name.removeprefix(_BINDING_PREFIX)
    try:
        if not name.startswith(_BINDING_PREFIX) or str(uuid.UUID(binding_id)) != binding_id:
            raise ValueError
    except ValueError:
        raise InvalidArgument("name", name, "use the form 'roleBindings/{id}' with the id from ListRoleBindings") from None
    return binding_id


def parse_token_name(name: str) -> str:
    token_id = name.removeprefix(_TOKEN_PREFIX)
    if not name.startswith(_TOKEN_PREFIX) or len(token_id) != 32 or any(c not in "0123456789abcdef" for c in token_id):
        raise InvalidArgument("name", name, "use the form 'apiTokens/{id}' with the 32-digit id from ListApiTokens")
    return token_id


class AccessAdmin:
    """Use cases of the AccessService."""

    def __init__(
        self, engine: AsyncEngine, page_token_key: bytes, *, on_commit: Callable[[], None], bootstrap_admin: bool = True
    ) -> None:
        self.engine = engine
        self.page_token_key = page_token_key
        self.on_commit = on_commit
        # Whether a bootstrap admin token can always call; without one, the last global admin
        # binding of an active principal may not be deleted.
        self.bootstrap_admin = bootstrap_admin

    async def _record(
        self, operation: str, stream_id: str, expected_version: int, payload: Message, subject: str, context: EventContext,
        *, check: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> None:
        check_text(context.reason, "reason", MAX_REASON)
        now = utc_now()
        async with transaction(self.engine, operation) as connection:
            if check is not None:
                await check(connection)
            await apply_access_event(connection, payload, now, context.actor)
            event = NewEvent(type=payload.DESCRIPTOR.name, payload=payload.SerializeToString(), subject=subject)
            stored = await eventstore.append(connection, stream_id, expected_version, [event], context, recorded_at=now)
        self.on_commit()
        logger.info(
            "recorded %s on %s (event %s, request %s, actor %s)",
            stored[0].type, subject, stored[0].event_id, context.correlation_id or "-", context.actor,
        )

    # --- role bindings ----------------------------------------------------------------------

    async def create_role_binding(self, binding: access_pb.RoleBinding, context: EventContext) -> access_pb.RoleBinding:
        principal = check_principal(binding.principal, "role_binding.principal")
        if binding.scope.model_uid:
            # Ignoring it would create a global binding for an admin who meant one model.
            raise InvalidArgument(
                "role_binding.scope.model_uid", binding.scope.model_uid,
                "set scope.model to models/{model} instead; the registry fills model_uid itself",
                problem="is output only",
            )
        if binding.role not in ROLE_FROM_PROTO:
            raise InvalidArgument(
                "role_binding.role", access_pb.Role.Name(binding.role) if binding.role in access_pb.Role.values() else binding.role,
                "use ROLE_VIEWER, ROLE_CONTRIBUTOR, ROLE_REVIEWER, ROLE_ADMIN or ROLE_SERVING",
            )
        if binding.scope.team and binding.scope.model:
            raise InvalidArgument("role_binding.scope", f"team={binding.scope.team}, model={binding.scope.model}",
                                  "set scope.team or scope.model, not both")
        team = check_team(binding.scope.team, "role_binding.scope.team")
        model_uid = ""
        if binding.scope.model:
            model_uid = await self._model_uid(parse_model_name(binding.scope.model, "role_binding.scope.model"))
        binding_id = str(uuid.uuid4())
        event = access_events.RoleBindingCreated(
            binding_id=binding_id, principal=principal, role=binding.role, team=team, model_uid=model_uid
        )
        await self._record("CreateRoleBinding", binding_id, 0, event, _BINDING_PREFIX + binding_id, context)
        return await self.get_role_binding(binding_id)

    async def _model_uid(self, model_id: str) -> str:
        async with read_connection(self.engine, "CreateRoleBinding") as connection:
            uid = await connection.scalar(sa.select(models_table.c.uid).where(models_table.c.model_id == model_id))
        if uid is None:
            raise NotFound(f"model models/{model_id} not found; bind to an existing model", field="role_binding.scope.model")
        return str(uid)

    async def get_role_binding(self, binding_id: str) -> access_pb.RoleBinding:
        async with read_connection(self.engine, "reading a role binding") as connection:
            row = (await connection.execute(
                sa.select(role_bindings_table).where(role_bindings_table.c.binding_id == binding_id)
            )).mappings().first()
            if row is None:
                raise NotFound(f"role binding roleBindings/{binding_id} not found", field="name")
            names = await _model_names(connection, {row["model_uid"]})
        return binding_to_proto(row, names)

    async def delete_role_binding(self, name: str, context: EventContext) -> access_pb.RoleBinding:
        binding_id = parse_binding_name(name)
        existing = await self.get_role_binding(binding_id)
        event = access_events.RoleBindingDeleted(binding_id=binding_id)
        check = None
        if self._may_remove_last_admin(existing):
            async def check(connection: AsyncConnection) -> None:
                await self._check_admin_remains(connection, existing, binding_id)

        await self._record("DeleteRoleBinding", binding_id, 1, event, name, context, check=check)
        return existing

    def _may_remove_last_admin(self, binding: access_pb.RoleBinding) -> bool:
        is_global_admin = binding.role == access_pb.ROLE_ADMIN and not binding.scope.team and not binding.scope.model
        return is_global_admin and not self.bootstrap_admin

    async def _check_admin_remains(self, connection: AsyncConnection, binding: access_pb.RoleBinding, binding_id: str) -> None:
        await lock_admins(connection)
        inactive = set((await connection.scalars(INACTIVE_PRINCIPALS)).all())
        if await global_admins(connection, except_binding=binding_id) - inactive:
            return
        raise FailedPrecondition(
            f"roleBindings/{binding_id} is the last global admin binding of an active principal ({binding.principal}), "
            "and this registry has no bootstrap admin token (--admin-token-file), so deleting it would leave nobody "
            "able to manage access: bind the admin role to another principal first",
            field="name",
            reason="LAST_ADMIN",
        )

    async def list_role_bindings(self, request: access_pb.ListRoleBindingsRequest) -> access_pb.ListRoleBindingsResponse:
        table = role_bindings_table
        statement = sa.select(table)
        if request.principal:
            statement = statement.where(table.c.principal == check_principal(request.principal, "principal"))
        order = parse_order_by("", {"create_time": table.c.create_time}, tiebreaker=table.c.binding_id, default="create_time")
        async with read_connection(self.engine, "ListRoleBindings") as connection:
            page = await fetch_page(
                connection, statement, order, page_size=request.page_size, page_token=request.page_token,
                key=self.page_token_key, fingerprint_parts=["role-bindings", request.principal],
            )
            names = await _model_names(connection, {row._mapping["model_uid"] for row in page.rows})
        return access_pb.ListRoleBindingsResponse(
            role_bindings=[binding_to_proto(row._mapping, names) for row in page.rows], next_page_token=page.next_page_token
        )

    # --- API tokens -------------------------------------------------------------------------

    async def create_api_token(self, token: access_pb.ApiToken, context: EventContext) -> access_pb.CreateApiTokenResponse:
        principal = check_principal(token.principal, "api_token.principal")
        if is_group(principal):
            raise InvalidArgument(
                "api_token.principal", token.principal,
                "create the token for a user: or service: principal (or a team:), and bind roles to the group instead",
                problem="is a group, which cannot be deactivated",
            )
        check_text(token.display_name, "api_token.display_name", MAX_DISPLAY_NAME)
        expire_unix = 0
        if token.HasField("expire_time"):
            expires = request_time(token.expire_time, "api_token.expire_time")
            if expires <= utc_now():
                raise InvalidArgument("api_token.expire_time", expires.isoformat(), "choose a time in the future, or leave it unset")
            expire_unix = int(token.expire_time.seconds)
        created = generate_api_token()
        token_uid = str(uuid.UUID(created.token_id))
        event = access_events.ApiTokenCreated(
            token_uid=token_uid, token_id=created.token_id, principal=principal, display_name=token.display_name,
            secret_sha256=created.secret_sha256, expire_unix=expire_unix,
        )
        await self._record("CreateApiToken", token_uid, 0, event, _TOKEN_PREFIX + created.token_id, context)
        return access_pb.CreateApiTokenResponse(api_token=await self.get_api_token(created.token_id), secret=created.secret)

    async def get_api_token(self, token_id: str) -> access_pb.ApiToken:
        async with read_connection(self.engine, "reading an API token") as connection:
            row = (await connection.execute(
                sa.select(api_tokens_table).where(api_tokens_table.c.token_id == token_id)
            )).mappings().first()
        if row is None:
            raise NotFound(f"API token apiTokens/{token_id} not found", field="name")
        return token_to_proto(row)

    async def revoke_api_token(self, name: str, context: EventContext) -> access_pb.ApiToken:
        token_id = parse_token_name(name)
        existing = await self.get_api_token(token_id)
        if existing.HasField("revoke_time"):
            raise FailedPrecondition(f"API token {name} is already revoked", field="name", reason="TOKEN_ALREADY_REVOKED")
        token_uid = str(uuid.UUID(token_id))
        event = access_events.ApiTokenRevoked(token_uid=token_uid, token_id=token_id)
        await self._record("RevokeApiToken", token_uid, 1, event, name, context)
        return await self.get_api_token(token_id)

    async def list_api_tokens(self, request: access_pb.ListApiTokensRequest) -> access_pb.ListApiTokensResponse:
        table = api_tokens_table
        statement = sa.select(table)
        if request.principal:
            statement = statement.where(table.c.principal == check_principal(request.principal, "principal"))
        if not request.show_revoked:
            statement = statement.where(table.c.revoke_time.is_(None))
        order = parse_order_by("", {"create_time": table.c.create_time}, tiebreaker=table.c.token_id, default="create_time")
        async with read_connection(self.engine, "ListApiTokens") as connection:
            page = await fetch_page(
                connection, statement, order, page_size=request.page_size, page_token=request.page_token,
                key=self.page_token_key,
                fingerprint_parts=["api-tokens", request.principal, str(request.show_revoked)],
            )
        return access_pb.ListApiTokensResponse(
            api_tokens=[token_to_proto(row._mapping) for row in page.rows], next_page_token=page.next_page_token
        )

    # --- access events ----------------------------------------------------------------------

    async def list_access_events(self, request: access_pb.ListAccessEventsRequest) -> access_pb.ListAccessEventsResponse:
        """Return access events in log order after a position, optionally of one binding or token."""
        if request.after_position < 0:
            raise InvalidArgument("after_position", request.after_position, "use 0 or the global_position of an event")
        if request.after_stream_version < 0:
            raise InvalidArgument("after_stream_version", request.after_stream_version, "use 0 or a positive number")
        if request.after_stream_version and not request.stream_id:
            raise InvalidArgument(
                "after_stream_version", request.after_stream_version, "set stream_id as well, or leave it 0",
                problem="is set without stream_id",
            )
        if request.stream_id:
            _check_stream_id(request.stream_id)
        if request.page_size < 0:
            raise InvalidArgument("page_size", request.page_size, "use 0 for the default or a positive number")
        page_size = min(request.page_size or DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE)

        events = events_table.c
        # NOTE: without a stream_id this filters the whole log by type. The events table has no
        # index on type, so a read from position 0 scans every event once.
        query = (
            sa.select(events_table)
            .where(events.type.in_(sorted(ACCESS_EVENT_TYPES)), events.position > request.after_position)
            .order_by(events.position)
            .limit(page_size)
        )
        if request.stream_id:
            query = query.where(events.stream_id == request.stream_id, events.stream_version > request.after_stream_version)
        async with read_connection(self.engine, "ListAccessEvents") as connection:
            rows = (await connection.execute(query)).all()

        response = access_pb.ListAccessEventsResponse()
        for row in rows:
            event = stored_event(row)
            response.events.append(
                access_pb.AccessEvent(
                    event_id=event.event_id, type=event.type, stream_id=event.stream_id,
                    stream_version=event.stream_version, global_position=event.position,
                    time=to_timestamp(event.recorded_at), actor=event.actor, reason=event.reason,
                    correlation_id=event.correlation_id, causation_id=event.causation_id, subject=event.subject,
                    payload=event.payload,
                )
            )
        return response


def _check_stream_id(stream_id: str) -> None:
    try:
        if str(uuid.UUID(stream_id)) == stream_id:
            return
    except ValueError:
        pass
    raise InvalidArgument(
        "stream_id", stream_id, "use a binding id or a token uid in lowercase UUID form, as in the events' ce-streamid"
    )


async def _model_names(connection: AsyncConnection, uids: set[str]) -> dict[str, str]:
    uids.discard("")
    if not uids:
        return {}
    rows = await connection.execute(sa.select(models_table.c.uid, models_table.c.model_id).where(models_table.c.uid.in_(uids)))
    return {uid: model_id for uid, model_id in rows}


def binding_to_proto(row: Any, model_names: dict[str, str]) -> access_pb.RoleBinding:
    scope = access_pb.Scope(team=row["team"], model_uid=row["model_uid"])
    if row["model_uid"] in model_names:
        scope.model = f"models/{model_names[row['model_uid']]}"
    return access_pb.RoleBinding(
        name=_BINDING_PREFIX + row["binding_id"], principal=row["principal"], role=ROLE_TO_PROTO[Role(row["role"])],
        scope=scope, create_time=to_timestamp(row["create_time"]), created_by=row["created_by"],
    )


def token_to_proto(row: Any) -> access_pb.ApiToken:
    token = access_pb.ApiToken(
        name=_TOKEN_PREFIX + row["token_id"], principal=row["principal"], display_name=row["display_name"],
        create_time=to_timestamp(row["create_time"]), created_by=row["created_by"],
    )
    if row["expire_time"] is not None:
        token.expire_time.CopyFrom(to_timestamp(row["expire_time"]))
    if row["revoke_time"] is not None:
        token.revoke_time.CopyFrom(to_timestamp(row["revoke_time"]))
    return token
