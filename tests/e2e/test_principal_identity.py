"""Which principals a credential may act as, and one canonical form for `user:` names.

Groups are rejected as the subject of a JWT or an API token because they cannot be deactivated.
`user:` names are stored and compared in lowercase, so a deactivation holds whatever case a
token uses. Each test runs on PostgreSQL and on SQLite, with a real nats-server.
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.e2e.test_principal_lockout import (  # noqa: F401 - `databases` is a fixture
    LEAVER,
    _assert_inactive_error,
    _error_of,
    _event_count,
    _governance_call,
    _registry_call,
    _registry_rejects,
    _set_active,
    _wait_for,
    databases,
    running_stack,
)
from tests.support.auth import as_principal, bearer, error_reason, grant_and_wait, issuer
from tests.support.builders import new_model

ADMIN_GROUP = "group:mlteam"
ZERO_WIDTH_SPACE = "\u200b"


async def test_group_subject_rejected(databases, nats_server) -> None:
    async with running_stack(databases, nats_server.url) as (registry, governance):
        await grant_and_wait(registry, governance, [(ADMIN_GROUP, "admin")])
        as_group = as_principal(ADMIN_GROUP)
        for error in (await _registry_call(registry, as_group), await _governance_call(governance, as_group)):
            assert error is not None, "a JWT acting as a group was accepted"
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error_reason(error) == "PRINCIPAL_INVALID"
            assert "JWT claim sub 'group:mlteam' names a group" in error.details()

        hidden = as_principal(f"lea@example.com{ZERO_WIDTH_SPACE}")
        for error in (await _registry_call(registry, hidden), await _governance_call(governance, hidden)):
            assert error is not None, "a JWT subject with a zero-width space was accepted"
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error_reason(error) == "PRINCIPAL_INVALID"

        # A team can be deactivated, so it stays a valid subject.
        as_team = bearer(issuer().mint("team:alpha", groups=["mlteam"]))
        assert await _registry_call(registry, as_team) is None
        assert await _governance_call(governance, as_team) is None


BAD_ACCESS_REQUESTS = {
    "group-token": (
        "CreateApiToken",
        access_pb.CreateApiTokenRequest(api_token=access_pb.ApiToken(principal=ADMIN_GROUP, display_name="x"), reason="t"),
        "api_token.principal 'group:mlteam' is a group, which cannot be deactivated",
    ),
    "invisible-token-principal": (
        "CreateApiToken",
        access_pb.CreateApiTokenRequest(
            api_token=access_pb.ApiToken(principal=f"{LEAVER}{ZERO_WIDTH_SPACE}", display_name="x"), reason="t",
        ),
        "api_token.principal",
    ),
    "invisible-binding-principal": (
        "CreateRoleBinding",
        access_pb.CreateRoleBindingRequest(
            role_binding=access_pb.RoleBinding(principal=f"user:{ZERO_WIDTH_SPACE}lea@example.com", role=access_pb.ROLE_VIEWER),
            reason="t",
        ),
        "role_binding.principal",
    ),
    "output-only-model-uid": (
        "CreateRoleBinding",
        access_pb.CreateRoleBindingRequest(
            role_binding=access_pb.RoleBinding(
                principal=LEAVER, role=access_pb.ROLE_CONTRIBUTOR, scope=access_pb.Scope(model_uid="uid-of-m1"),
            ),
            reason="t",
        ),
        "role_binding.scope.model_uid 'uid-of-m1' is output only: set scope.model to models/{model}",
    ),
}


async def test_bad_access_requests_write_nothing(databases, nats_server) -> None:
    async with running_stack(databases, nats_server.url) as (registry, _):
        before = await _event_count(registry.channel)
        for case, (method, request, text) in BAD_ACCESS_REQUESTS.items():
            with pytest.raises(grpc.aio.AioRpcError) as rejected:
                await getattr(registry.access, method)(request)
            assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{case}: {rejected.value.details()}"
            assert text in rejected.value.details(), case

        with pytest.raises(grpc.aio.AioRpcError) as owner:
            await registry.stub.CreateModel(new_model("hidden-owner", owner=f"{LEAVER}{ZERO_WIDTH_SPACE}"))
        assert owner.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "model.owner" in owner.value.details()
        assert await _event_count(registry.channel) == before


async def test_case_variant_email_locked_out(databases, nats_server) -> None:
    async with running_stack(databases, nats_server.url) as (registry, governance):
        # The binding is created in mixed case and still applies to the API token's principal.
        await grant_and_wait(registry, governance, [(ADMIN_GROUP, "admin"), ("user:Lea@Example.com", "viewer")])
        shouting = bearer(issuer().mint("LEA@EXAMPLE.COM", groups=["mlteam"]))
        created = await registry.access.CreateApiToken(access_pb.CreateApiTokenRequest(
            api_token=access_pb.ApiToken(principal="user:Lea@Example.com", display_name="case test"), reason="test setup",
        ))
        assert created.api_token.principal == LEAVER
        token = bearer(created.secret)
        await _wait_for(lambda: _accepted_by_governance(governance, token), "governance accepting the new API token")
        assert await _registry_call(registry, shouting) is None

        deactivated = await _set_active(governance, "user:Lea@Example.COM", False)
        assert deactivated.principal == LEAVER
        for credential in (shouting, token):
            _assert_inactive_error(await _governance_call(governance, credential))
        await _wait_for(lambda: _registry_rejects(registry, shouting), "the registry rejecting the upper-case JWT")
        _assert_inactive_error(await _registry_call(registry, token))


async def test_decomposed_accent_locked_out(databases, nats_server) -> None:
    async with running_stack(databases, nats_server.url) as (registry, governance):
        await grant_and_wait(registry, governance, [(ADMIN_GROUP, "admin")])
        # "é" as "e" plus U+0301 in the token, "é" as one character in the deactivation.
        decomposed = bearer(issuer().mint("le\u0301a@example.com", groups=["mlteam"]))
        assert await _registry_call(registry, decomposed) is None
        await _set_active(governance, "user:l\u00e9a@example.com", False)
        _assert_inactive_error(await _governance_call(governance, decomposed), "user:l\u00e9a@example.com")
        await _wait_for(lambda: _registry_rejects(registry, decomposed), "the registry rejecting the decomposed JWT")


async def _accepted_by_governance(governance, metadata) -> bool:  # type: ignore[no-untyped-def]
    return await _governance_call(governance, metadata) is None


async def test_owner_and_binding_stored_lowercase(databases, nats_server) -> None:
    async with running_stack(databases, nats_server.url) as (registry, _):
        created = await registry.stub.CreateModel(new_model("case-owned", owner="user:Olga@Example.com"))
        assert created.owner == "user:olga@example.com"
        binding = await registry.access.CreateRoleBinding(access_pb.CreateRoleBindingRequest(
            role_binding=access_pb.RoleBinding(principal="user:Vera@Example.com", role=access_pb.ROLE_VIEWER), reason="t",
        ))
        assert binding.principal == "user:vera@example.com"

        # The owner may update its model whatever case its JWT uses; nobody else may.
        update = rpc.UpdateModelRequest(
            model=res.Model(name="models/case-owned", description="owned"),
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        )
        assert await _error_of(registry.stub.UpdateModel(update, metadata=as_principal("OLGA@example.com"))) is None
        assert await _registry_call(registry, as_principal("VERA@EXAMPLE.COM")) is None
        stranger = await _error_of(registry.stub.UpdateModel(update, metadata=as_principal("user:vera@example.com")))
        assert stranger is not None
        assert stranger.code() == grpc.StatusCode.PERMISSION_DENIED
