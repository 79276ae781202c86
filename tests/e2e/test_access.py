"""AccessClient and `modelward access` against both services on PostgreSQL and a real nats-server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import grpc
import pytest
from google.protobuf import timestamp_pb2

from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.access.v1 import access_service_pb2_grpc as access_grpc
from modelward_sdk import (
    AccessClient,
    AsyncAccessClient,
    FailedPreconditionError,
    GovernanceClient,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RegistryClient,
    UnauthenticatedError,
)
from tests.e2e.test_cli import run_cli
from tests.support.sdk_stack import sdk_stack

VIEWER = "user:vera@example.com"


@pytest.fixture(scope="module")
async def stack(fresh_pg_url, nats_server):
    async with sdk_stack(fresh_pg_url, nats_server.url, [(VIEWER, "viewer")]) as running:
        yield running


def _access(stack, token: str | None = None) -> AccessClient:
    return AccessClient(stack.registry, token=token or stack.token(None), timeout=10)


def _wait_for_governance(stack, secret: str, timeout: float = 20.0) -> float:
    """Call governance with `secret` until it accepts it; return the seconds that took."""
    started = time.monotonic()
    with GovernanceClient(stack.governance, token=secret, timeout=5) as governance:
        while True:
            try:
                governance.get_policy()
                return time.monotonic() - started
            except (PermissionDeniedError, UnauthenticatedError):
                assert time.monotonic() - started < timeout, f"governance did not accept the token within {timeout} s"
                time.sleep(0.1)


def _binding_lifecycle(stack) -> None:
    principal = "user:bob@example.com"
    with _access(stack) as access:
        created = [
            access.create_role_binding(principal, "viewer", team="team:fraud", reason="fraud dashboards"),
            access.create_role_binding(principal, "ROLE_REVIEWER", reason="joins the review board"),
            access.create_role_binding(principal, access_pb.ROLE_SERVING, reason="batch scoring job"),
        ]
        assert created[0].name.startswith("roleBindings/")
        assert created[0].scope.team == "fraud"
        assert created[0].role == access_pb.ROLE_VIEWER
        assert created[1].role == access_pb.ROLE_REVIEWER
        assert created[0].created_by == "service:bootstrap-admin"

        # page_size=1 makes the iterator follow two page tokens.
        listed = list(access.list_role_bindings(principal=principal, page_size=1))
        assert [binding.name for binding in listed] == [binding.name for binding in created]

        deleted = access.delete_role_binding(created[0].name.removeprefix("roleBindings/"), reason="left fraud")
        assert deleted.name == created[0].name
        remaining = [binding.name for binding in access.list_role_bindings(principal=principal)]
        assert remaining == [created[1].name, created[2].name]
        with pytest.raises(NotFoundError):
            access.delete_role_binding(created[0].name)


async def test_binding_create_list_delete(stack) -> None:
    await asyncio.to_thread(_binding_lifecycle, stack)


def _token_lifecycle(stack) -> dict[str, object]:
    principal = "user:tina@example.com"
    seen: dict[str, object] = {}
    with _access(stack) as access:
        access.create_role_binding(principal, "viewer", reason="reads the portfolio")
        created = access.create_api_token(
            principal, display_name="tina's laptop", expire_time=dt.timedelta(hours=1), reason="local scripts",
        )
        secret = created.secret
        assert secret.startswith(f"mwt_{created.api_token.name.removeprefix('apiTokens/')}_")
        assert created.api_token.display_name == "tina's laptop"
        expires = created.api_token.expire_time.ToDatetime(tzinfo=dt.UTC)
        assert dt.timedelta(minutes=59) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)

        with RegistryClient(stack.registry, token=secret, timeout=10) as registry:
            assert list(registry.list_models()) == []
        seen["governance_seconds"] = _wait_for_governance(stack, secret)

        listed = list(access.list_api_tokens(principal=principal))
        assert [token.name for token in listed] == [created.api_token.name]

        revoked = access.revoke_api_token(created.api_token.name, reason="laptop lost")
        assert revoked.HasField("revoke_time")
        with pytest.raises(FailedPreconditionError):
            access.revoke_api_token(created.api_token.name)
        assert list(access.list_api_tokens(principal=principal)) == []
        assert [token.name for token in access.list_api_tokens(principal=principal, show_revoked=True)] == [
            created.api_token.name
        ]
        with RegistryClient(stack.registry, token=secret, timeout=10) as registry:
            with pytest.raises(UnauthenticatedError):
                registry.get_model("anything")
    return seen


async def test_token_authenticates_until_revoked(stack) -> None:
    seen = await asyncio.to_thread(_token_lifecycle, stack)
    assert seen["governance_seconds"] < 20


def _rejections(stack) -> None:
    with _access(stack) as access:
        with pytest.raises(InvalidArgumentError) as invalid:
            access.create_role_binding("ana@example.com", "viewer")
        assert invalid.value.field == "role_binding.principal"

        with pytest.raises(InvalidArgumentError) as past:
            access.create_api_token(VIEWER, expire_time=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        assert past.value.field == "api_token.expire_time"

        for seconds, nanos in ((-99_999_999_999_999, 0), (2_000_000_000, -5), (2_000_000_000, 2_000_000_000)):
            request = access_pb.CreateApiTokenRequest(api_token=access_pb.ApiToken(
                principal=VIEWER, expire_time=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos),
            ))
            with grpc.insecure_channel(stack.registry) as channel, pytest.raises(grpc.RpcError) as out_of_range:
                admin = (("authorization", f"Bearer {stack.token(None)}"),)
                access_grpc.AccessServiceStub(channel).CreateApiToken(request, metadata=admin, timeout=10)
            assert out_of_range.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "api_token.expire_time" in out_of_range.value.details()
            assert "999999999" in out_of_range.value.details()

        with pytest.raises(ValueError, match="not both"):
            access.create_role_binding(VIEWER, "viewer", team="fraud", model="churn")
        with pytest.raises(ValueError, match="time zone"):
            access.create_api_token(VIEWER, expire_time=dt.datetime(2040, 1, 1))
        with pytest.raises(ValueError, match="is not one of"):
            access.create_role_binding(VIEWER, "owner")

    with _access(stack, stack.token(VIEWER)) as as_viewer:
        with pytest.raises(PermissionDeniedError):
            as_viewer.create_role_binding(VIEWER, "admin", reason="promote myself")
        with pytest.raises(PermissionDeniedError):
            list(as_viewer.list_api_tokens())


async def test_bad_input_and_non_admins_rejected(stack) -> None:
    await asyncio.to_thread(_rejections, stack)


async def test_async_client_lists_and_revokes(stack) -> None:
    # The services run on this loop, so the async client can be awaited here directly.
    async with AsyncAccessClient(stack.registry, token=stack.token(None), timeout=10) as access:
        created = await access.create_api_token("service:scorer", display_name="scorer")
        names = [token.name async for token in access.list_api_tokens(principal="service:scorer")]
        assert names == [created.api_token.name]
        await access.revoke_api_token(created.api_token.name)
        assert [token.name async for token in access.list_api_tokens(principal="service:scorer")] == []
        bindings = [binding async for binding in access.list_role_bindings(principal=VIEWER)]
        assert [access_pb.Role.Name(binding.role) for binding in bindings] == ["ROLE_VIEWER"]


async def test_cli_grant_and_bindings(stack, capsys) -> None:
    principal = "user:carl@example.com"
    code, out, _ = await run_cli(stack, capsys, "access", "grant", principal, "reviewer", "--team", "fraud",
                                 "--reason", "fraud reviews", principal=None)
    assert code == 0
    assert "team:fraud" in out
    assert "reviewer" in out

    code, out, _ = await run_cli(stack, capsys, "access", "grant", principal, "viewer", "--reason", "read all",
                                 "--output", "json", principal=None)
    assert code == 0
    granted = json.loads(out)
    assert granted["role"] == "ROLE_VIEWER"

    code, out, _ = await run_cli(stack, capsys, "access", "bindings", "--principal", principal, "--output", "json",
                                 principal=None)
    assert code == 0
    listed = json.loads(out)
    assert [binding["role"] for binding in listed] == ["ROLE_REVIEWER", "ROLE_VIEWER"]

    code, out, _ = await run_cli(stack, capsys, "access", "bindings", "--principal", principal, principal=None)
    assert code == 0
    assert out.splitlines()[0].split() == ["name", "principal", "role", "scope", "created", "created", "by"]
    assert len(out.splitlines()) == 3

    code, out, _ = await run_cli(stack, capsys, "access", "revoke", granted["name"], "--reason", "not needed",
                                 principal=None)
    assert code == 0
    assert f"deleted {granted['name']}" in out


async def test_cli_token_create_list_revoke(stack, capsys) -> None:
    principal = "service:nightly-report"
    code, out, err = await run_cli(stack, capsys, "access", "token", "create", principal, "--display-name", "nightly",
                                   "--expires-in", "3600", principal=None)
    assert code == 0
    secret = out.strip()
    assert secret.startswith("mwt_")
    assert len(out.splitlines()) == 1
    assert "shown only now" in err
    assert secret not in err

    code, out, _ = await run_cli(stack, capsys, "access", "tokens", "--principal", principal, "--output", "json",
                                 principal=None)
    assert code == 0
    (listed,) = json.loads(out)
    assert listed["display_name"] == "nightly"
    assert "expire_time" in listed
    assert secret not in out

    code, out, _ = await run_cli(stack, capsys, "access", "token", "revoke", listed["name"], "--reason", "retired",
                                 principal=None)
    assert code == 0
    assert "revoked" in out

    code, out, _ = await run_cli(stack, capsys, "access", "tokens", "--principal", principal, principal=None)
    assert code == 0
    assert len(out.splitlines()) == 1
    code, out, _ = await run_cli(stack, capsys, "access", "tokens", "--principal", principal, "--show-revoked",
                                 principal=None)
    assert listed["name"] in out


async def test_cli_access_exit_codes(stack, capsys) -> None:
    code, _, err = await run_cli(stack, capsys, "access", "grant", "nobody", "viewer", "--reason", "x", principal=None)
    assert code == 4
    assert "role_binding.principal" in err

    missing = "roleBindings/00000000-0000-4000-8000-000000000000"
    code, _, _ = await run_cli(stack, capsys, "access", "revoke", missing, principal=None)
    assert code == 3

    code, _, _ = await run_cli(stack, capsys, "access", "tokens", principal=VIEWER)
    assert code == 5

    code, _, _ = await run_cli(stack, capsys, "access", "grant", VIEWER, "viewer", "--team", "fraud", "--model", "churn",
                               "--reason", "x", principal=None)
    assert code == 2
