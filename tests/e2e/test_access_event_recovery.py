"""Governance recovers role binding and API token events lost from JetStream.

Each test records access changes while governance is down, deletes some of their messages from
the registry's JetStream stream, then starts governance and waits until its copy of the access
tables equals the registry's.
"""

from __future__ import annotations

import dataclasses

import grpc
import pytest
import sqlalchemy as sa

from modelward_common.auth.store import api_tokens_table, role_bindings_table
from modelward_common.consumer import dead_letters_table
from modelward_common.db import create_engine
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from tests.e2e.test_governance_flow import eventually
from tests.support.auth import as_principal, bearer, grant
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry


@dataclasses.dataclass
class Access:
    """The registry's and governance's access tables, read straight from their databases."""

    bindings: set[tuple[str, str, str, str, str]]
    tokens: set[tuple[str, str, str, bool]]


async def _access_rows(database_url: str) -> Access:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            bindings = role_bindings_table.c
            tokens = api_tokens_table.c
            binding_rows = await connection.execute(
                sa.select(bindings.binding_id, bindings.principal, bindings.role, bindings.team, bindings.model_uid)
            )
            token_rows = await connection.execute(
                sa.select(tokens.token_id, tokens.principal, tokens.secret_sha256, tokens.revoke_time.is_not(None))
            )
            return Access({tuple(row) for row in binding_rows}, {tuple(row) for row in token_rows})  # type: ignore[misc]
    finally:
        await engine.dispose()


async def _dead_letters(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list((await connection.scalars(sa.select(dead_letters_table.c.error))).all())
    finally:
        await engine.dispose()


async def _delete_messages(nats_client, stream: str, lost: set[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    """Wait until the relay published every (event type, stream id) in `lost`, then delete those messages."""
    js = nats_client.jetstream()
    found: dict[tuple[str, str], int] = {}

    async def published() -> bool:
        info = await js.stream_info(stream)
        for sequence in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            message = await js.get_msg(stream, sequence)
            headers = message.headers or {}
            # ce-type is the full name, such as `modelward.registry.v1.RoleBindingCreated`.
            key = (headers.get("ce-type", "").rsplit(".", 1)[-1], headers.get("ce-streamid", ""))
            if key in lost:
                found[key] = sequence
        return set(found) == lost

    assert await eventually(published), f"the relay did not publish {lost - set(found)}"
    for sequence in found.values():
        assert await js.delete_msg(stream, sequence)


async def _revoked_token(registry, principal: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    created = await registry.access.CreateApiToken(
        access_pb.CreateApiTokenRequest(api_token=access_pb.ApiToken(principal=principal, display_name="ci"), reason="test")
    )
    await registry.access.RevokeApiToken(access_pb.RevokeApiTokenRequest(name=created.api_token.name, reason="leaked"))
    return created.secret, created.api_token.name.removeprefix("apiTokens/")


def _token_uid(token_id: str) -> str:
    return f"{token_id[:8]}-{token_id[8:12]}-{token_id[12:16]}-{token_id[16:20]}-{token_id[20:]}"


async def test_gap_in_binding_stream_filled_from_registry(fresh_pg_url, nats_server, nats_client, nats_prefix) -> None:
    registry_cfg = registry_config(fresh_pg_url(), nats_server.url, nats_prefix)
    async with running_registry(registry_cfg) as registry:
        binding = await grant(registry.access, "user:gone@example.com", "viewer", team="fraud")
        binding_id = binding.name.removeprefix("roleBindings/")
        await registry.access.DeleteRoleBinding(access_pb.DeleteRoleBindingRequest(name=binding.name, reason="left"))
        _, token_id = await _revoked_token(registry, "service:old-job")
        await _delete_messages(
            nats_client, f"{nats_prefix}_REGISTRY",
            {("RoleBindingCreated", binding_id), ("ApiTokenCreated", _token_uid(token_id))},
        )

        # No periodic read of the access log: only the later event of each stream reveals the gap.
        config = governance_config(fresh_pg_url(), nats_server.url, nats_prefix, registry.target, access_sync_interval=0)
        async with running_governance(config) as governance:
            expected = await _access_rows(registry_cfg.database_url)

            async def same() -> bool:
                return await _access_rows(config.database_url) == expected

            assert await eventually(same)
            assert governance.app.consumer is not None
            assert governance.app.consumer.healed_count == 2
            assert await _dead_letters(config.database_url) == []
            assert len(expected.tokens) == 1
            assert expected.bindings == set()


async def test_lost_last_events_applied_by_access_sync(fresh_pg_url, nats_server, nats_client, nats_prefix) -> None:
    registry_cfg = registry_config(fresh_pg_url(), nats_server.url, nats_prefix)
    async with running_registry(registry_cfg) as registry:
        binding = await grant(registry.access, "user:new@example.com", "viewer")
        secret, token_id = await _revoked_token(registry, "service:leaky-job")
        await grant(registry.access, "service:leaky-job", "viewer")
        await _delete_messages(
            nats_client, f"{nats_prefix}_REGISTRY",
            {("RoleBindingCreated", binding.name.removeprefix("roleBindings/")), ("ApiTokenRevoked", _token_uid(token_id))},
        )

        config = governance_config(fresh_pg_url(), nats_server.url, nats_prefix, registry.target, access_sync_interval=0.2)
        async with running_governance(config) as governance:
            expected = await _access_rows(registry_cfg.database_url)

            async def same() -> bool:
                return await _access_rows(config.database_url) == expected

            assert await eventually(same)
            assert governance.app.consumer is not None
            assert governance.app.consumer.refilled_count >= 2
            assert await _dead_letters(config.database_url) == []

            governance.app.access.invalidate()
            listed = await governance.stub.ListPortfolio(gov.ListPortfolioRequest(), metadata=as_principal("user:new@example.com"))
            assert listed.total_size == 0
            with pytest.raises(grpc.aio.AioRpcError) as revoked:
                await governance.stub.ListPortfolio(gov.ListPortfolioRequest(), metadata=bearer(secret))
            assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "revoked" in revoked.value.details()


async def test_list_access_events_pages_and_filters(fresh_pg_url, nats_server, nats_prefix) -> None:
    registry_cfg = registry_config(fresh_pg_url(), nats_server.url, nats_prefix, run_relay=False)
    async with running_registry(registry_cfg) as registry:
        first = await grant(registry.access, "user:a@example.com", "viewer")
        await grant(registry.access, "user:b@example.com", "reviewer", team="fraud")
        await registry.access.DeleteRoleBinding(access_pb.DeleteRoleBindingRequest(name=first.name, reason="moved"))

        seen = []
        position = 0
        while True:
            page = await registry.access.ListAccessEvents(access_pb.ListAccessEventsRequest(after_position=position, page_size=1))
            if not page.events:
                break
            assert len(page.events) == 1
            seen.append(page.events[0])
            position = page.events[0].global_position
        assert [event.type for event in seen] == ["RoleBindingCreated", "RoleBindingCreated", "RoleBindingDeleted"]
        assert [event.global_position for event in seen] == sorted(event.global_position for event in seen)

        first_id = first.name.removeprefix("roleBindings/")
        later = await registry.access.ListAccessEvents(
            access_pb.ListAccessEventsRequest(stream_id=first_id, after_stream_version=1)
        )
        assert [(event.type, event.stream_id, event.stream_version, event.subject) for event in later.events] == [
            ("RoleBindingDeleted", first_id, 2, first.name)
        ]


@pytest.mark.parametrize(
    ("request_message", "field", "value"),
    [
        (access_pb.ListAccessEventsRequest(after_position=-1), "after_position", "-1"),
        (access_pb.ListAccessEventsRequest(after_stream_version=-2, stream_id="0" * 8 + "-0000-4000-8000-" + "0" * 12), "after_stream_version", "-2"),
        (access_pb.ListAccessEventsRequest(after_stream_version=1), "after_stream_version", "without stream_id"),
        (access_pb.ListAccessEventsRequest(stream_id="models/fraud"), "stream_id", "models/fraud"),
        (access_pb.ListAccessEventsRequest(page_size=-5), "page_size", "-5"),
    ],
    ids=["negative-position", "negative-version", "version-without-stream", "bad-stream-id", "negative-page-size"],
)
async def test_list_access_events_bad_input(fresh_pg_url, nats_server, nats_prefix, request_message, field, value) -> None:
    registry_cfg = registry_config(fresh_pg_url(), nats_server.url, nats_prefix, run_relay=False)
    async with running_registry(registry_cfg) as registry:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await registry.access.ListAccessEvents(request_message)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in caught.value.details()
        assert value in caught.value.details()
