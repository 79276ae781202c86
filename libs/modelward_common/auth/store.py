"""Role bindings and API token digests: tables, the events that change them, and a cache.

Both services keep the same two tables under their own migration track (`<service>_access_`).
The registry changes them in the transaction that records the access event; governance applies
the same events from the registry's stream. `AccessDirectory` serves authorisation from memory
and reloads after a change, so a call reads no table unless something changed. It also caches
the inactive principals, read with a query each service supplies from its own table. Principals
are kept and looked up in their canonical form, so rows written before `user:` names were
lowercased still match.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common.auth.roles import Binding, Role
from modelward_common.db import text_column
from modelward_common.migrations import Migration, migrate
from modelward_common.principals import canonical_principal
from modelward_common.timeutil import UtcDateTime
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.events.v1 import access_events_pb2 as access_events

logger = logging.getLogger(__name__)

access_metadata = sa.MetaData()

role_bindings_table = sa.Table(
    "role_bindings",
    access_metadata,
    sa.Column("binding_id", text_column(36), primary_key=True),
    sa.Column("principal", text_column(320), nullable=False, index=True),
    sa.Column("role", text_column(16), nullable=False),
    sa.Column("team", text_column(64), nullable=False),
    sa.Column("model_uid", text_column(36), nullable=False),
    sa.Column("create_time", UtcDateTime(), nullable=False),
    sa.Column("created_by", text_column(320), nullable=False),
)

api_tokens_table = sa.Table(
    "api_tokens",
    access_metadata,
    sa.Column("token_id", text_column(32), primary_key=True),
    sa.Column("token_uid", text_column(36), nullable=False, unique=True),
    sa.Column("principal", text_column(320), nullable=False, index=True),
    sa.Column("display_name", text_column(200), nullable=False),
    # Hex SHA-256 of the whole token; the token itself is never stored.
    sa.Column("secret_sha256", text_column(64), nullable=False),
    sa.Column("create_time", UtcDateTime(), nullable=False),
    sa.Column("expire_time", UtcDateTime(), nullable=True),
    sa.Column("revoke_time", UtcDateTime(), nullable=True),
    sa.Column("created_by", text_column(320), nullable=False),
)


def _create_access_tables(connection: sa.Connection) -> None:
    access_metadata.create_all(connection)


ACCESS_MIGRATIONS = (Migration(1, "role bindings and API token digests", _create_access_tables),)


async def prepare_access_tables(engine: AsyncEngine, service: str) -> None:
    await migrate(engine, ACCESS_MIGRATIONS, prefix=f"{service}_access_")


ROLE_FROM_PROTO = {
    access_pb.ROLE_VIEWER: Role.VIEWER,
    access_pb.ROLE_CONTRIBUTOR: Role.CONTRIBUTOR,
    access_pb.ROLE_REVIEWER: Role.REVIEWER,
    access_pb.ROLE_ADMIN: Role.ADMIN,
    access_pb.ROLE_SERVING: Role.SERVING,
}
ROLE_TO_PROTO = {role: number for number, role in ROLE_FROM_PROTO.items()}

# CloudEvents type of every access event to its payload class.
ACCESS_EVENT_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.name: cls
    for cls in (
        access_events.RoleBindingCreated,
        access_events.RoleBindingDeleted,
        access_events.ApiTokenCreated,
        access_events.ApiTokenRevoked,
    )
}


async def apply_access_event(connection: AsyncConnection, payload: Message, at: dt.datetime, actor: str) -> None:
    """Apply one access event to the access tables, inside the caller's transaction."""
    if isinstance(payload, access_events.RoleBindingCreated):
        await connection.execute(
            role_bindings_table.insert().values(
                binding_id=payload.binding_id, principal=payload.principal, role=ROLE_FROM_PROTO[payload.role].value,
                team=payload.team, model_uid=payload.model_uid, create_time=at, created_by=actor,
            )
        )
    elif isinstance(payload, access_events.RoleBindingDeleted):
        await connection.execute(role_bindings_table.delete().where(role_bindings_table.c.binding_id == payload.binding_id))
    elif isinstance(payload, access_events.ApiTokenCreated):
        expires = dt.datetime.fromtimestamp(payload.expire_unix, dt.UTC) if payload.expire_unix else None
        await connection.execute(
            api_tokens_table.insert().values(
                token_id=payload.token_id, token_uid=payload.token_uid, principal=payload.principal,
                display_name=payload.display_name, secret_sha256=payload.secret_sha256, create_time=at,
                expire_time=expires, revoke_time=None, created_by=actor,
            )
        )
    elif isinstance(payload, access_events.ApiTokenRevoked):
        await connection.execute(
            api_tokens_table.update().where(api_tokens_table.c.token_id == payload.token_id).values(revoke_time=at)
        )
    else:
        raise TypeError(f"{type(payload).__name__} is not an access event")


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    principal: str
    secret_sha256: str
    expire_time: dt.datetime | None
    revoke_time: dt.datetime | None


@dataclass
class _Snapshot:
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    inactive: frozenset[str] = frozenset()


class AccessDirectory:
    """Bindings, tokens and inactive principals in memory, reloaded after a change and at least
    every `max_age` s.

    `invalidate()` is called after a local commit that changed access; `max_age` bounds how
    long a change made through another replica takes to apply here. `inactive_principals`
    selects one column, the principals that are deactivated; without it none is.
    """

    def __init__(
        self, engine: AsyncEngine, *, max_age: float = 5.0, inactive_principals: sa.Select[tuple[str]] | None = None
    ) -> None:
        self.engine = engine
        self.max_age = max_age
        self.inactive_principals = inactive_principals
        self._snapshot = _Snapshot()
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()
        self.reload_count = 0

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def _current(self) -> _Snapshot:
        if time.monotonic() - self._loaded_at < self.max_age:
            return self._snapshot
        async with self._lock:
            if time.monotonic() - self._loaded_at >= self.max_age:
                started = time.monotonic()
                self._snapshot = await self._load()
                self._loaded_at = started
                self.reload_count += 1
        return self._snapshot

    async def _load(self) -> _Snapshot:
        snapshot = _Snapshot()
        async with self.engine.connect() as connection:
            for row in (await connection.execute(sa.select(role_bindings_table))).mappings():
                principal = canonical_principal(row["principal"])
                binding = Binding(row["binding_id"], principal, Role(row["role"]), row["team"], row["model_uid"])
                snapshot.bindings.setdefault(binding.principal, []).append(binding)
            for row in (await connection.execute(sa.select(api_tokens_table))).mappings():
                snapshot.tokens[row["token_id"]] = TokenRecord(
                    row["token_id"], row["principal"], row["secret_sha256"], row["expire_time"], row["revoke_time"]
                )
            if self.inactive_principals is not None:
                inactive = (await connection.scalars(self.inactive_principals)).all()
                snapshot.inactive = frozenset(canonical_principal(principal) for principal in inactive)
        return snapshot

    async def bindings_for(self, principals: Iterable[str]) -> list[Binding]:
        snapshot = await self._current()
        found: list[Binding] = []
        for principal in principals:
            found.extend(snapshot.bindings.get(canonical_principal(principal), ()))
        return found

    async def token(self, token_id: str) -> TokenRecord | None:
        return (await self._current()).tokens.get(token_id)

    async def is_inactive(self, principal: str) -> bool:
        return canonical_principal(principal) in (await self._current()).inactive


# PostgreSQL advisory lock key that serialises changes which could remove the last admin.
ADMINS_LOCK_KEY = 0x6D77_7072  # "mwpr"


async def lock_admins(connection: AsyncConnection) -> None:
    """Serialise changes that could leave no admin (deactivations, deleted bindings) until the
    transaction ends.

    SQLite needs no lock: its transactions begin with BEGIN IMMEDIATE and so write one at a time.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({ADMINS_LOCK_KEY})"))


async def global_admins(connection: AsyncConnection, *, except_binding: str = "") -> set[str]:
    """Return the principals with a global admin role binding, leaving out one binding if named."""
    table = role_bindings_table
    query = sa.select(table.c.principal).where(table.c.role == Role.ADMIN.value, table.c.team == "", table.c.model_uid == "")
    if except_binding:
        query = query.where(table.c.binding_id != except_binding)
    return set((await connection.scalars(query)).all())
