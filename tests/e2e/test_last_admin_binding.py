"""Without a bootstrap admin token, the registry keeps one global admin binding of an active principal."""

from __future__ import annotations

import dataclasses
import uuid

import grpc
import pytest
import sqlalchemy as sa

from modelward_common.eventstore import events_table
from modelward_common.timeutil import utc_now
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_registry.adapters.schema import principal_states_table
from tests.support.auth import as_principal, error_reason, grant, issuer
from tests.support.registry import registry_config, running_registry

ROOT = "user:root@example.com"
SECOND = "user:second@example.com"




async def _events(registry) -> int:  # type: ignore[no-untyped-def]
    async with registry.app.engine.connect() as connection:
        return int(await connection.scalar(sa.select(sa.func.count()).select_from(events_table)))


async def _delete(registry, binding: access_pb.RoleBinding, caller: str) -> None:  # type: ignore[no-untyped-def]
    request = access_pb.DeleteRoleBindingRequest(name=binding.name, reason="rotation")
    await registry.access.DeleteRoleBinding(request, metadata=as_principal(caller))


async def _create(registry, principal: str, caller: str) -> access_pb.RoleBinding:  # type: ignore[no-untyped-def]
    binding = access_pb.RoleBinding(principal=principal, role=access_pb.ROLE_ADMIN)
    request = access_pb.CreateRoleBindingRequest(role_binding=binding, reason="second admin")
    return await registry.access.CreateRoleBinding(request, metadata=as_principal(caller))


async def test_last_admin_binding_stays(database_url, nats_server, nats_prefix) -> None:
    with_bootstrap = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(with_bootstrap) as registry:
        root_admin = await grant(registry.access, ROOT, "admin")
        team_admin = await grant(registry.access, ROOT, "admin", team="fraud")

    # Restarted with JWTs only: nobody can call as the bootstrap admin any more.
    jwt_only = dataclasses.replace(with_bootstrap, auth=issuer().auth_config(admin_token_files=()))
    async with running_registry(jwt_only) as registry:
        before = await _events(registry)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _delete(registry, root_admin, ROOT)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(refused.value) == "LAST_ADMIN"
        assert root_admin.name in refused.value.details()
        assert await _events(registry) == before

        # A team-scoped admin binding is not what keeps access manageable.
        await _delete(registry, team_admin, ROOT)

        second_admin = await _create(registry, SECOND, ROOT)
        await _delete(registry, root_admin, ROOT)
        with pytest.raises(grpc.aio.AioRpcError) as refused_again:
            await _delete(registry, second_admin, SECOND)
        assert error_reason(refused_again.value) == "LAST_ADMIN"


async def test_inactive_admin_does_not_count(database_url, nats_server, nats_prefix) -> None:
    with_bootstrap = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(with_bootstrap) as registry:
        root_admin = await grant(registry.access, ROOT, "admin")
        await grant(registry.access, SECOND, "admin")
        # As the decision consumer records governance's PrincipalDeactivated.
        async with registry.app.engine.begin() as connection:
            await connection.execute(principal_states_table.insert().values(
                principal=SECOND, active=False, stream_version=1, event_id=str(uuid.uuid4()),
                reason="left the company", changed_by="user:hr@example.com", update_time=utc_now(),
            ))

    jwt_only = dataclasses.replace(with_bootstrap, auth=issuer().auth_config(admin_token_files=()))
    async with running_registry(jwt_only) as registry:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _delete(registry, root_admin, ROOT)
        assert error_reason(refused.value) == "LAST_ADMIN"


async def test_bootstrap_token_allows_deleting_every_admin(database_url, nats_server, nats_prefix) -> None:
    async with running_registry(registry_config(database_url, nats_server.url, nats_prefix)) as registry:
        root_admin = await grant(registry.access, ROOT, "admin")
        await _delete(registry, root_admin, ROOT)
