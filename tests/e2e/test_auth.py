"""Authentication and authorisation of both services over real gRPC and JetStream."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import grpc
import pytest
from google.protobuf import message_factory

from modelward_common.auth.client import service_channel
from modelward_common.auth.roles import ROLE_PERMISSIONS, Role, Rule
from modelward_common.nats_server import NatsServer
from modelward_governance.entrypoints.permissions import RULES as GOVERNANCE_RULES
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.access.v1 import access_service_pb2_grpc as access_grpc
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_registry.bootstrap import RegistryApp
from modelward_registry.entrypoints.permissions import RULES as REGISTRY_RULES
from tests.e2e.test_governance_flow import eventually
from tests.support.auth import LocalPki, as_principal, bearer, error_reason, grant, grant_and_wait, issuer
from tests.support.builders import new_model, new_version
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry

# One principal per role, each holding only that role globally.
ROLE_HOLDERS = {role: f"service:holds-{role.value}" for role in Role if role is not Role.ADMIN}
NOBODY = "user:nobody@example.com"


@pytest.fixture(scope="module")
async def stack(fresh_pg_url, nats_server):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    registry_cfg = registry_config(fresh_pg_url(), nats_server.url, prefix)
    async with running_registry(registry_cfg) as registry:
        config = governance_config(fresh_pg_url(), nats_server.url, prefix, registry.target)
        async with running_governance(config) as governance:
            await grant_and_wait(registry, governance, [(principal, role.value) for role, principal in ROLE_HOLDERS.items()])
            yield registry, governance


def _lacking_principal(rule: Rule) -> str:
    """The principal of the strongest role that lacks the rule's permission, or one with no binding."""
    for role in (Role.CONTRIBUTOR, Role.REVIEWER, Role.SERVING, Role.VIEWER):
        if rule.permission not in ROLE_PERMISSIONS[role]:
            return ROLE_HOLDERS[role]
    return NOBODY


def _method_descriptor(path: str):  # type: ignore[no-untyped-def]
    from google.protobuf import descriptor_pool

    service_name, method_name = path.strip("/").split("/")
    return descriptor_pool.Default().FindServiceByName(service_name).methods_by_name[method_name]


async def _call(channel: grpc.aio.Channel, path: str, metadata) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    method = _method_descriptor(path)
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    serialize, parse = request_class.SerializeToString, response_class.FromString
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        if method.client_streaming:
            async def requests():  # type: ignore[no-untyped-def]
                yield request_class()

            await channel.stream_unary(path, request_serializer=serialize, response_deserializer=parse)(
                requests(), metadata=metadata, timeout=10
            )
        elif method.server_streaming:
            call = channel.unary_stream(path, request_serializer=serialize, response_deserializer=parse)(
                request_class(), metadata=metadata, timeout=10
            )
            async for _ in call:
                pass
        else:
            await channel.unary_unary(path, request_serializer=serialize, response_deserializer=parse)(
                request_class(), metadata=metadata, timeout=10
            )
    return caught.value


@pytest.mark.parametrize("path", sorted(REGISTRY_RULES), ids=lambda path: path.rsplit("/", 1)[-1])
async def test_registry_rpc_denies_caller_lacking_permission(stack, path) -> None:
    registry, _ = stack
    principal = _lacking_principal(REGISTRY_RULES[path])
    error = await _call(registry.channel, path, as_principal(principal))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
    assert principal in error.details()
    assert REGISTRY_RULES[path].permission.value in error.details()


@pytest.mark.parametrize("path", sorted(GOVERNANCE_RULES), ids=lambda path: path.rsplit("/", 1)[-1])
async def test_governance_rpc_denies_caller_lacking_permission(stack, path) -> None:
    _, governance = stack
    principal = _lacking_principal(GOVERNANCE_RULES[path])
    error = await _call(governance.channel, path, as_principal(principal))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
    assert GOVERNANCE_RULES[path].permission.value in error.details()




UNAUTHENTICATED_CASES = {
    "missing": (lambda: (), "CREDENTIALS_MISSING", "missing credentials"),
    "not-bearer": (lambda: (("authorization", "Basic YW5hOnNlY3JldA=="),), "CREDENTIALS_MALFORMED", "Bearer"),
    "expired": (lambda: bearer(issuer().mint("user:ana@example.com", lifetime=-600)), "TOKEN_EXPIRED", "expired"),
    "bad-signature": (
        lambda: bearer(issuer().mint("user:ana@example.com")[:-6] + "AAAAAA"), "TOKEN_SIGNATURE_INVALID", "signature",
    ),
    "unknown-key": (lambda: bearer(issuer().mint("user:ana@example.com", kid="gone")), "TOKEN_KEY_UNKNOWN", "key id"),
    "wrong-audience": (
        lambda: bearer(issuer().mint("user:ana@example.com", aud="someone-else")), "TOKEN_AUDIENCE_INVALID", "audience",
    ),
    "unknown-api-token": (
        lambda: bearer("mwt_" + "0" * 32 + "_" + "A" * 43), "TOKEN_UNKNOWN", "not known",
    ),
    "garbage": (lambda: bearer("not-a-token"), "TOKEN_MALFORMED", "JWT"),
    "two-tokens": (
        lambda: (*bearer(issuer().mint("user:ana@example.com")), *bearer(issuer().admin_token)),
        "CREDENTIALS_DUPLICATED", "sent 2 'authorization' metadata entries",
    ),
    "same-token-twice": (
        lambda: bearer(issuer().admin_token) * 2, "CREDENTIALS_DUPLICATED", "send exactly one",
    ),
}


@pytest.mark.parametrize("case", sorted(UNAUTHENTICATED_CASES))
async def test_bad_credentials_unauthenticated(stack, case, caplog) -> None:
    registry, governance = stack
    make_metadata, reason, fragment = UNAUTHENTICATED_CASES[case]
    metadata = make_metadata()
    caplog.set_level(logging.DEBUG)
    for target in (registry.target, f"127.0.0.1:{governance.port}"):
        async with grpc.aio.insecure_channel(target) as channel:
            path = f"/{rpc.DESCRIPTOR.services_by_name['RegistryService'].full_name}/GetModel"
            if target != registry.target:
                path = f"/{gov.DESCRIPTOR.services_by_name['GovernanceService'].full_name}/ListPortfolio"
            error = await _call(channel, path, metadata)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
        assert error_reason(error) == reason
        assert fragment in error.details()
        assert "Traceback" not in error.details()
    for _, value in metadata:
        secret = value.removeprefix("Bearer ")
        assert secret not in caplog.text
        assert secret not in error.details()


async def test_health_and_reflection_need_no_token(stack) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    registry, _ = stack
    async with grpc.aio.insecure_channel(registry.target) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_principal_header_cannot_claim_identity(stack) -> None:
    registry, _ = stack
    await grant(registry.access, "user:writer@example.com", "contributor")
    metadata = (*as_principal("user:writer@example.com"), ("x-modelward-principal", "user:someone-else@example.com"))
    name = f"claimed-{uuid.uuid4().hex[:6]}"
    await registry.stub.CreateModel(new_model(name), metadata=metadata)
    history = await registry.stub.GetModelHistory(rpc.GetModelHistoryRequest(name=f"models/{name}"))
    assert [entry.actor for entry in history.entries] == ["user:writer@example.com"]


async def test_scoped_bindings_follow_team_and_rename(stack) -> None:
    registry, _ = stack
    suffix = uuid.uuid4().hex[:6]
    team_member, model_member, owner = f"user:tina-{suffix}@example.com", f"user:mo-{suffix}@example.com", f"user:olga-{suffix}@example.com"
    await registry.stub.CreateModel(new_model(f"fraud-{suffix}", team="fraud", owner=owner))
    await registry.stub.CreateModel(new_model(f"churn-{suffix}", team="growth", owner="team:growth"))
    await grant(registry.access, team_member, "contributor", team="fraud")
    await grant(registry.access, model_member, "contributor", model=f"models/churn-{suffix}")

    await registry.stub.CreateModelVersion(new_version(f"fraud-{suffix}"), metadata=as_principal(team_member))
    await registry.stub.CreateModel(new_model(f"fraud2-{suffix}", team="fraud"), metadata=as_principal(team_member))
    await registry.stub.CreateModelVersion(new_version(f"fraud-{suffix}", seed="owner"), metadata=as_principal(owner))
    for principal, model in ((team_member, f"churn-{suffix}"), (model_member, f"fraud-{suffix}"), (owner, f"churn-{suffix}")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await registry.stub.CreateModelVersion(new_version(model), metadata=as_principal(principal))
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as other_team:
        await registry.stub.CreateModel(new_model(f"x-{suffix}", team="growth"), metadata=as_principal(team_member))
    assert other_team.value.code() == grpc.StatusCode.PERMISSION_DENIED

    await registry.stub.CreateModelVersion(new_version(f"churn-{suffix}"), metadata=as_principal(model_member))
    await registry.stub.RenameModel(rpc.RenameModelRequest(name=f"models/churn-{suffix}", new_model_id=f"retention-{suffix}"))
    await registry.stub.CreateModelVersion(new_version(f"retention-{suffix}", seed="after"), metadata=as_principal(model_member))
    listed = await registry.access.ListRoleBindings(access_pb.ListRoleBindingsRequest(principal=model_member))
    assert [binding.scope.model for binding in listed.role_bindings] == [f"models/retention-{suffix}"]


async def test_api_token_lifecycle_on_both_services(stack, nats_client) -> None:
    registry, governance = stack
    created = await registry.access.CreateApiToken(access_pb.CreateApiTokenRequest(
        api_token=access_pb.ApiToken(principal="service:serving-east", display_name="serving east"), reason="rollout"
    ))
    secret = created.secret
    await grant_and_wait(registry, governance, [("service:serving-east", "serving")])
    await registry.stub.ListModels(rpc.ListModelsRequest(), metadata=bearer(secret))

    async def governance_accepts() -> bool:
        try:
            await governance.stub.ListPortfolio(gov.ListPortfolioRequest(), metadata=bearer(secret))
        except grpc.aio.AioRpcError:
            return False
        return True

    assert await eventually(governance_accepts)
    listed = await registry.access.ListApiTokens(access_pb.ListApiTokensRequest(principal="service:serving-east"))
    assert [token.name for token in listed.api_tokens] == [created.api_token.name]
    assert secret not in str(listed)

    js = nats_client.jetstream()
    stream = registry.config.stream_name
    info = await js.stream_info(stream)
    payloads = [(await js.get_msg(stream, seq)).data for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    assert not any(secret.encode() in payload for payload in payloads)

    await registry.access.RevokeApiToken(access_pb.RevokeApiTokenRequest(name=created.api_token.name, reason="leaked"))
    with pytest.raises(grpc.aio.AioRpcError) as revoked:
        await registry.stub.ListModels(rpc.ListModelsRequest(), metadata=bearer(secret))
    assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(revoked.value) == "TOKEN_REVOKED"

    async def governance_rejects() -> bool:
        try:
            await governance.stub.ListPortfolio(gov.ListPortfolioRequest(), metadata=bearer(secret))
        except grpc.aio.AioRpcError as error:
            return error_reason(error) == "TOKEN_REVOKED"
        return False

    assert await eventually(governance_rejects)


async def test_deleted_binding_stops_granting(stack) -> None:
    registry, _ = stack
    binding = await grant(registry.access, "user:temp@example.com", "viewer")
    await registry.stub.ListModels(rpc.ListModelsRequest(), metadata=as_principal("user:temp@example.com"))
    await registry.access.DeleteRoleBinding(access_pb.DeleteRoleBindingRequest(name=binding.name))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.stub.ListModels(rpc.ListModelsRequest(), metadata=as_principal("user:temp@example.com"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(("binding", "field"), [
    (access_pb.RoleBinding(principal="ana", role=access_pb.ROLE_VIEWER), "role_binding.principal"),
    (access_pb.RoleBinding(principal="user:ana@example.com"), "role_binding.role"),
    (access_pb.RoleBinding(principal="user:ana@example.com", role=access_pb.ROLE_VIEWER,
                           scope=access_pb.Scope(team="Fraud Team")), "role_binding.scope.team"),
    (access_pb.RoleBinding(principal="user:ana@example.com", role=access_pb.ROLE_VIEWER,
                           scope=access_pb.Scope(team="fraud", model="models/x")), "role_binding.scope"),
])
async def test_invalid_role_binding_rejected(stack, binding, field) -> None:
    registry, _ = stack
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.access.CreateRoleBinding(access_pb.CreateRoleBindingRequest(role_binding=binding))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in caught.value.details()


async def test_mutual_tls_maps_certificate_to_principal(tmp_path, fresh_sqlite_url, nats_server) -> None:
    pki = LocalPki(tmp_path)
    server_cert, server_key = pki.issue("registry", dns=("localhost",), ips=("127.0.0.1",))
    client_cert, client_key = pki.issue("governance")
    (tmp_path / "stranger").mkdir()
    stranger_pki = LocalPki(tmp_path / "stranger")
    stranger_cert, stranger_key = stranger_pki.issue("governance")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    auth = issuer().auth_config(
        tls_cert_file=str(server_cert), tls_key_file=str(server_key), tls_client_ca_file=str(pki.ca_file),
        certificate_principals=(("governance", "service:governance"),),
    )
    app = RegistryApp(registry_config(fresh_sqlite_url(), nats_server.url, prefix, auth=auth))
    port = await app.start()
    target = f"127.0.0.1:{port}"
    try:
        admin = service_channel(target, token_file=str(issuer().admin_token_file), tls_ca_file=str(pki.ca_file),
                                tls_cert_file=str(client_cert), tls_key_file=str(client_key))
        async with admin:
            stub = rpc_grpc.RegistryServiceStub(admin)
            await stub.CreateModel(new_model("tls-model"))
            await grant(access_grpc.AccessServiceStub(admin), "service:governance", "viewer")
        by_certificate = service_channel(target, tls_ca_file=str(pki.ca_file), tls_cert_file=str(client_cert),
                                         tls_key_file=str(client_key))
        async with by_certificate:
            found = await rpc_grpc.RegistryServiceStub(by_certificate).GetModel(rpc.GetModelRequest(name="models/tls-model"))
            assert found.model_id == "tls-model"
            with pytest.raises(grpc.aio.AioRpcError) as write:
                await rpc_grpc.RegistryServiceStub(by_certificate).CreateModel(new_model("by-cert"))
            assert write.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "service:governance" in write.value.details()
        for cert, key in ((stranger_cert, stranger_key), (None, None)):
            rejected = service_channel(target, tls_ca_file=str(pki.ca_file), tls_cert_file=str(cert or ""),
                                       tls_key_file=str(key or ""))
            async with rejected:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await rpc_grpc.RegistryServiceStub(rejected).GetModel(rpc.GetModelRequest(name="models/tls-model"), timeout=5)
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await app.stop()


async def test_relay_authenticates_to_nats(tmp_path, fresh_sqlite_url) -> None:
    import nats

    from modelward_common.auth.nats_options import NatsSecurity

    password = uuid.uuid4().hex
    server = NatsServer(tmp_path / "nats", extra_args=["--user", "modelward", "--pass", password])
    server.start()
    try:
        prefix = f"t{uuid.uuid4().hex[:10]}"
        auth = issuer().auth_config(nats=NatsSecurity(user="modelward", password=password))
        config = registry_config(fresh_sqlite_url(), server.url, prefix, auth=auth)
        async with running_registry(config) as registry:
            await registry.stub.CreateModel(new_model("over-auth-nats"))
            client = await nats.connect(server.url, user="modelward", password=password)
            try:
                js = client.jetstream()

                async def published() -> bool:
                    try:
                        return (await js.stream_info(config.stream_name)).state.messages == 1
                    except Exception:  # noqa: BLE001 - the stream appears with the first publish
                        return False

                assert await eventually(published)
            finally:
                await client.close()
        with pytest.raises(Exception):  # noqa: B017 - the server rejects clients without the password
            await nats.connect(server.url, max_reconnect_attempts=0, allow_reconnect=False, connect_timeout=2)
    finally:
        server.stop()


async def test_api_token_expires(stack) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    registry, _ = stack
    expires = Timestamp()
    expires.FromSeconds(int(time.time()) + 2)
    created = await registry.access.CreateApiToken(access_pb.CreateApiTokenRequest(
        api_token=access_pb.ApiToken(principal="service:short-lived", display_name="expires soon", expire_time=expires)
    ))
    await grant(registry.access, "service:short-lived", "viewer")
    await registry.stub.ListModels(rpc.ListModelsRequest(), metadata=bearer(created.secret))

    await asyncio.sleep(max(0.0, expires.seconds - time.time()) + 0.5)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.stub.ListModels(rpc.ListModelsRequest(), metadata=bearer(created.secret))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(caught.value) == "TOKEN_EXPIRED"


async def test_api_token_expiry_in_past_rejected(stack) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    registry, _ = stack
    past = Timestamp()
    past.FromSeconds(int(time.time()) - 60)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.access.CreateApiToken(access_pb.CreateApiTokenRequest(
            api_token=access_pb.ApiToken(principal="service:late", expire_time=past)
        ))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "api_token.expire_time" in caught.value.details()


async def test_relay_authenticates_to_nats_with_nkey(tmp_path, fresh_sqlite_url) -> None:
    import os

    import nats
    import nkeys

    from modelward_common.auth.nats_options import NatsSecurity

    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public_key = nkeys.from_seed(seed).public_key.decode()
    seed_file = tmp_path / "user.nk"
    seed_file.write_bytes(seed)
    config_file = tmp_path / "nats.conf"
    config_file.write_text(f'authorization {{ users = [ {{ nkey: "{public_key}" }} ] }}\n')
    server = NatsServer(tmp_path / "nats", extra_args=["-c", str(config_file)])
    server.start()
    try:
        prefix = f"t{uuid.uuid4().hex[:10]}"
        auth = issuer().auth_config(nats=NatsSecurity(nkey_seed_file=str(seed_file)))
        config = registry_config(fresh_sqlite_url(), server.url, prefix, auth=auth)
        async with running_registry(config) as registry:
            await registry.stub.CreateModel(new_model("over-nkey-nats"))
            client = await nats.connect(server.url, nkeys_seed=str(seed_file))
            try:
                js = client.jetstream()

                async def published() -> bool:
                    try:
                        return (await js.stream_info(config.stream_name)).state.messages == 1
                    except Exception:  # noqa: BLE001 - the stream appears with the first publish
                        return False

                assert await eventually(published)
            finally:
                await client.close()
        with pytest.raises(Exception):  # noqa: B017 - the server rejects clients without the key
            await nats.connect(server.url, max_reconnect_attempts=0, allow_reconnect=False, connect_timeout=2)
    finally:
        server.stop()
