"""Deactivated principals lose access on both services: API tokens, JWTs, restarts, bad input.

Governance records the deactivation and rejects the principal at once; the registry learns of it
from PrincipalDeactivated on governance's JetStream stream. Each test runs on PostgreSQL and on
SQLite, with a real nats-server.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from modelward_common.auth.guard import BOOTSTRAP_PRINCIPAL
from modelward_governance.adapters.schema import principals_table
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.audit.v1 import audit_service_pb2 as audit
from modelward_protos.audit.v1 import audit_service_pb2_grpc as audit_grpc
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_registry.adapters.schema import principal_states_table
from tests.support.auth import Metadata, as_principal, bearer, error_reason, grant_and_wait, issuer
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry

LEAVER = "user:lea@example.com"
# Seconds the registry may take to reject a principal after governance deactivated it: the
# relay's publish, JetStream and one consumer fetch (1 s timeout) fit well inside.
REGISTRY_PICKUP_LIMIT = 5.0


@dataclasses.dataclass
class Databases:
    registry: str
    governance: str
    prefix: str


@pytest.fixture(params=["postgresql", "sqlite"])
def databases(request, fresh_pg_url, fresh_sqlite_url, nats_prefix) -> Databases:
    fresh: Callable[[], str] = fresh_pg_url if request.param == "postgresql" else fresh_sqlite_url
    return Databases(fresh(), fresh(), nats_prefix)


@contextlib.asynccontextmanager
async def running_stack(databases: Databases, nats_url: str, **governance_overrides: Any) -> AsyncIterator[tuple[Any, Any]]:
    """Run a registry that follows governance's stream, and governance beside it."""
    prefix = databases.prefix
    registry_cfg = registry_config(databases.registry, nats_url, prefix, governed_stages=("PRODUCTION",),
                                   governance_stream_name=f"{prefix}_GOVERNANCE")
    async with running_registry(registry_cfg) as registry:
        config = governance_config(databases.governance, nats_url, prefix, registry.target, **governance_overrides)
        async with running_governance(config) as governance:
            yield registry, governance




async def _error_of(call: Awaitable[Any]) -> grpc.aio.AioRpcError | None:
    """Await an RPC; return its error, or None when it succeeded."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error
    return None


async def _registry_call(registry: Any, metadata: Metadata) -> grpc.aio.AioRpcError | None:
    return await _error_of(registry.stub.ListModels(rpc.ListModelsRequest(), metadata=metadata))


async def _governance_call(governance: Any, metadata: Metadata) -> grpc.aio.AioRpcError | None:
    return await _error_of(governance.stub.GetPolicy(gov.GetPolicyRequest(), metadata=metadata))


def _assert_inactive_error(error: grpc.aio.AioRpcError | None, principal: str = LEAVER) -> None:
    assert error is not None, f"the call as {principal} was accepted"
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
    assert error_reason(error) == "PRINCIPAL_INACTIVE"
    assert principal in error.details()
    assert "reactivate" in error.details()


async def _wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> float:
    """Await `check()` until it returns True; return the seconds that took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def _api_token(registry: Any, governance: Any, principal: str) -> str:
    """Create an API token for `principal` and wait until governance accepts it."""
    created = await registry.access.CreateApiToken(access_pb.CreateApiTokenRequest(
        api_token=access_pb.ApiToken(principal=principal, display_name="lockout test"), reason="test setup"
    ))

    async def governance_accepts() -> bool:
        return await _governance_call(governance, bearer(created.secret)) is None

    await _wait_for(governance_accepts, "governance accepting the new API token")
    return created.secret


async def _set_active(governance: Any, principal: str, active: bool, metadata: Metadata = ()) -> Any:
    request = gov.SetPrincipalActiveRequest(principal=principal, active=active, reason="test: left the company")
    return await governance.stub.SetPrincipalActive(request, **({"metadata": metadata} if metadata else {}))


async def _registry_rejects(registry: Any, metadata: Metadata) -> bool:
    error = await _registry_call(registry, metadata)
    return error is not None and error.code() == grpc.StatusCode.PERMISSION_DENIED


async def _registry_accepts(registry: Any, metadata: Metadata) -> bool:
    return await _registry_call(registry, metadata) is None


async def _event_count(channel: grpc.aio.Channel, metadata: Metadata = ()) -> int:
    stub = audit_grpc.AuditServiceStub(channel)
    report = await stub.VerifyAuditLog(audit.VerifyAuditLogRequest(), **({"metadata": metadata} if metadata else {}))
    assert report.intact, report.first_mismatch.description
    return report.events_checked


async def test_deactivated_principal_rejected_on_both_services(databases, nats_server, nats_client) -> None:
    async with running_stack(databases, nats_server.url) as (registry, governance):
        await grant_and_wait(registry, governance, [(LEAVER, "contributor")])
        token = bearer(await _api_token(registry, governance, LEAVER))
        jwt = as_principal(LEAVER)
        for credential in (token, jwt):
            assert await _registry_call(registry, credential) is None
            assert await _governance_call(governance, credential) is None

        await _set_active(governance, LEAVER, False)
        deactivated_at = time.monotonic()
        for credential in (token, jwt):
            _assert_inactive_error(await _governance_call(governance, credential))

        await _wait_for(lambda: _registry_rejects(registry, token), "the registry rejecting the API token")
        pickup = time.monotonic() - deactivated_at
        print(f"registry rejected {LEAVER} {pickup:.3f} s after governance deactivated it")
        assert pickup < REGISTRY_PICKUP_LIMIT
        for credential in (token, jwt):
            _assert_inactive_error(await _registry_call(registry, credential))

        # The registry learned it from the event governance published on its JetStream stream.
        js = nats_client.jetstream()
        published = await js.get_last_msg(governance.config.stream_name, f"{databases.prefix}.governance.v1.PrincipalDeactivated")
        async with registry.app.engine.connect() as connection:
            row = (await connection.execute(sa.select(principal_states_table))).mappings().one()
        assert row["principal"] == LEAVER
        assert not row["active"]
        assert row["event_id"] == published.headers["ce-id"]
        assert row["changed_by"] == BOOTSTRAP_PRINCIPAL

        await _set_active(governance, LEAVER, True)
        for credential in (token, jwt):
            assert await _governance_call(governance, credential) is None
        await _wait_for(lambda: _registry_accepts(registry, token), "the registry accepting the reactivated principal")
        assert await _registry_call(registry, jwt) is None


async def test_lockout_survives_restarts(databases, nats_server) -> None:
    token = ""
    async with running_stack(databases, nats_server.url) as (registry, governance):
        await grant_and_wait(registry, governance, [(LEAVER, "contributor")])
        token = await _api_token(registry, governance, LEAVER)
        await _set_active(governance, LEAVER, False)
        await _wait_for(lambda: _registry_rejects(registry, bearer(token)), "the registry rejecting the API token")

    async with running_stack(databases, nats_server.url) as (registry, governance):
        # Both services read the inactive principals from their own tables at start.
        _assert_inactive_error(await _governance_call(governance, bearer(token)))
        _assert_inactive_error(await _registry_call(registry, bearer(token)))
        _assert_inactive_error(await _registry_call(registry, as_principal(LEAVER)))
        applied = registry.app.decisions.applied_count

        await _set_active(governance, LEAVER, True)
        await _wait_for(lambda: _registry_accepts(registry, bearer(token)), "the registry accepting the reactivated principal")
        # The restarted consumer applied only the reactivation: the deactivation was acked before.
        assert registry.app.decisions.applied_count - applied == 1
        async with registry.app.engine.connect() as connection:
            rows = (await connection.execute(sa.select(principal_states_table))).mappings().all()
        assert [(row["principal"], row["active"], row["stream_version"]) for row in rows] == [(LEAVER, True, 2)]


BAD_REQUESTS = {
    "malformed": ("not a principal", False, "test", grpc.StatusCode.INVALID_ARGUMENT, "principal 'not a principal'"),
    "trailing-newline": ("user:lea@example.com\n", False, "test", grpc.StatusCode.INVALID_ARGUMENT, "principal"),
    "group": ("group:admins", False, "test", grpc.StatusCode.INVALID_ARGUMENT, "principal 'group:admins'"),
    "too-long": (f"user:{'a' * 320}@example.com", False, "test", grpc.StatusCode.INVALID_ARGUMENT, "principal"),
    "missing-reason": (LEAVER, False, " ", grpc.StatusCode.INVALID_ARGUMENT, "reason ' ' is missing"),
    "bootstrap-admin": (BOOTSTRAP_PRINCIPAL, False, "test", grpc.StatusCode.INVALID_ARGUMENT, "cannot be deactivated"),
    "unknown": ("user:nobody@example.com", True, "test", grpc.StatusCode.NOT_FOUND, "never deactivated"),
}


async def test_bad_principal_requests_write_nothing(databases, nats_server) -> None:
    prefix = databases.prefix
    config = governance_config(databases.governance, nats_server.url, prefix, "127.0.0.1:1", run_relay=False,
                               run_consumer=False, sweep_interval=0)
    async with running_governance(config) as governance:
        before = await _event_count(governance.channel)
        for case, (principal, active, reason, code, text) in BAD_REQUESTS.items():
            request = gov.SetPrincipalActiveRequest(principal=principal, active=active, reason=reason)
            with pytest.raises(grpc.aio.AioRpcError) as rejected:
                await governance.stub.SetPrincipalActive(request)
            assert rejected.value.code() == code, f"{case}: {rejected.value.details()}"
            assert text in rejected.value.details(), case
        assert await _event_count(governance.channel) == before
        async with governance.app.engine.connect() as connection:
            assert (await connection.execute(sa.select(principals_table))).all() == []


async def test_last_admin_cannot_be_deactivated(databases, nats_server) -> None:
    """Without a bootstrap admin token on governance, someone with admin rights must stay active."""
    root, second = "user:root@example.com", "user:second@example.com"
    no_bootstrap = issuer().auth_config(admin_token_files=())
    async with running_stack(databases, nats_server.url, auth=no_bootstrap) as (registry, governance):
        await grant_and_wait(registry, governance, [(root, "admin")])
        as_root = as_principal(root)
        before = await _event_count(governance.channel, as_root)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _set_active(governance, root, False, as_root)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(refused.value) == "LAST_ADMIN"
        assert root in refused.value.details()
        assert await _event_count(governance.channel, as_root) == before
        async with governance.app.engine.connect() as connection:
            assert (await connection.execute(sa.select(principals_table))).all() == []

        await grant_and_wait(registry, governance, [(second, "admin")])
        await _set_active(governance, root, False, as_root)
        _assert_inactive_error(await _governance_call(governance, as_root), root)
        with pytest.raises(grpc.aio.AioRpcError) as refused_again:
            await _set_active(governance, second, False, as_principal(second))
        assert error_reason(refused_again.value) == "LAST_ADMIN"

        await _set_active(governance, root, True, as_principal(second))
        assert await _governance_call(governance, as_root) is None


async def test_bootstrap_admin_reactivates_only_admin(databases, nats_server) -> None:
    """With a bootstrap admin token the only admin may be deactivated, because the token can undo it."""
    solo = "user:solo@example.com"
    async with running_stack(databases, nats_server.url) as (registry, governance):
        await grant_and_wait(registry, governance, [(solo, "admin")])
        await _set_active(governance, solo, False, as_principal(solo))
        _assert_inactive_error(await _governance_call(governance, as_principal(solo)), solo)
        await _set_active(governance, solo, True)
        assert await _governance_call(governance, as_principal(solo)) is None
