"""NATS users and permissions as `modelward up` writes them, against a real nats-server and both services.

Each test starts its own nats-server with the configuration from ensure_nats_auth(), so the
users, passwords and permissions are exactly those of `modelward up`, with stream and durable
names of the test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import NoServersError
from nats.js import api as js_api

from modelward_cli.nats_auth import NatsAuth, ensure_nats_auth
from modelward_common.auth.nats_options import NatsSecurity
from modelward_common.consumer import list_dead_letters
from modelward_common.nats_permissions import COMPOSE_PASSWORD_VARIABLES, NatsLayout
from modelward_common.nats_server import NatsServer
from modelward_protos.events.v1 import access_events_pb2 as access_events
from modelward_protos.events.v1 import governance_events_pb2 as gov_events
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.e2e.test_governance_flow import FLOW_ROLES, eventually, principal
from tests.support.auth import grant_and_wait
from tests.support.builders import new_model, new_version
from tests.support.governance import RunningGovernance, governance_config, running_governance
from tests.support.registry import RunningRegistry, registry_config, running_registry

PREFIX = "modelward"
LAYOUT = NatsLayout(
    subject_prefix=PREFIX,
    registry_stream=f"{PREFIX}_REGISTRY",
    governance_stream=f"{PREFIX}_GOVERNANCE",
    governance_durable=f"{PREFIX}-governance",
)
FORGED_APPROVAL = f"{PREFIX}.governance.v1.PromotionApproved"
FORGED_BINDING = f"{PREFIX}.registry.v1.RoleBindingCreated"


@dataclass
class SecuredNats:
    server: NatsServer
    auth: NatsAuth

    def security(self, user: str) -> NatsSecurity:
        return NatsSecurity(user=user, password=self.auth.passwords[user])

    async def connect(self, user: str) -> tuple[NatsClient, list[Exception]]:
        """Connect as user, and return the client and the list that collects its asynchronous errors."""
        errors: list[Exception] = []

        async def collect(error: Exception) -> None:
            errors.append(error)

        client = await nats.connect(
            self.server.url, user=user, password=self.auth.passwords[user], error_cb=collect,
            allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2,
        )
        return client, errors


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[SecuredNats]:
    config_file = tmp_path / "nats.conf"
    server = NatsServer(tmp_path / "nats", config_file=config_file)
    auth = ensure_nats_auth(tmp_path, server.url, LAYOUT)
    assert auth.config_path == config_file
    server.start()
    yield SecuredNats(server, auth)
    server.stop()


@pytest.fixture
async def stack(
    secured_nats: SecuredNats, fresh_sqlite_url
) -> AsyncIterator[tuple[RunningRegistry, RunningGovernance]]:
    url = secured_nats.server.url
    registry_cfg = registry_config(fresh_sqlite_url(), url, PREFIX, governed_stages=("PRODUCTION",),
                                   governance_stream_name=LAYOUT.governance_stream)
    registry_cfg = _with_nats_security(registry_cfg, secured_nats.security("registry"))
    async with running_registry(registry_cfg) as registry:
        governance_cfg = governance_config(fresh_sqlite_url(), url, PREFIX, registry.target)
        governance_cfg = _with_nats_security(governance_cfg, secured_nats.security("governance"))
        async with running_governance(governance_cfg) as governance:
            await grant_and_wait(registry, governance, FLOW_ROLES)
            yield registry, governance


def _with_nats_security(config, security: NatsSecurity):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(config, auth=dataclasses.replace(config.auth, nats=security))


def _headers(event_type: str, service: str, subject: str, stream_id: str) -> dict[str, str]:
    event_id = str(uuid.uuid4())
    return {
        "Nats-Msg-Id": event_id, "ce-specversion": "1.0", "ce-id": event_id,
        "ce-source": f"urn:modelward:{service}", "ce-type": f"{PREFIX}.{service}.v1.{event_type}",
        "ce-subject": subject, "ce-time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "ce-datacontenttype": "application/protobuf", "ce-streamid": stream_id, "ce-streamversion": "1",
        "ce-position": "1", "ce-actor": "user:mallory@example.com",
    }


def _forged_approval(model_uid: str, version: int) -> tuple[bytes, dict[str, str]]:
    event = gov_events.PromotionApproved(
        promotion=f"promotions/{uuid.uuid4()}", model_uid=model_uid, model="models/forged", version=version,
        target_stage=res.STAGE_PRODUCTION, archive_existing=True, requested_by="user:mallory@example.com",
        required_approvals=1, policy_revision=1,
    )
    return event.SerializeToString(), _headers("PromotionApproved", "governance", event.promotion, model_uid)


def _forged_binding() -> tuple[bytes, dict[str, str]]:
    binding_id = str(uuid.uuid4())
    event = access_events.RoleBindingCreated(binding_id=binding_id, principal="user:mallory@example.com", role=4)
    return event.SerializeToString(), _headers("RoleBindingCreated", "registry", f"roleBindings/{binding_id}", binding_id)


async def _assert_publish_rejected(client: NatsClient, errors: list[Exception], subject: str, payload: bytes,
                                   headers: dict[str, str]) -> None:
    """Publish through JetStream and check that the server reports a permission violation and stores nothing."""
    with pytest.raises(nats.errors.TimeoutError):
        await client.jetstream().publish(subject, payload, headers=headers, timeout=1.0)

    async def violation_reported() -> bool:
        # nats-py lowercases the server's message.
        return any("permissions violation" in str(error).lower() and subject.lower() in str(error) for error in errors)

    assert await eventually(violation_reported, timeout=5.0), [str(error) for error in errors]


async def _stream_messages(client: NatsClient, stream: str) -> int:
    return (await client.jetstream().stream_info(stream)).state.messages


async def test_unauthenticated_client_rejected(secured_nats: SecuredNats) -> None:
    for credentials in ({}, {"user": "subscriber", "password": "wrong"}, {"user": "mallory", "password": "x"}):
        with pytest.raises((NoServersError, nats.errors.Error, OSError)) as caught:
            await nats.connect(secured_nats.server.url, allow_reconnect=False, max_reconnect_attempts=0,
                               connect_timeout=2, **credentials)
        assert "authorization" in str(caught.value).lower() or isinstance(caught.value, NoServersError)


async def test_up_files_are_private_and_kept(tmp_path: Path) -> None:
    first = ensure_nats_auth(tmp_path, "nats://127.0.0.1:1", LAYOUT)
    second = ensure_nats_auth(tmp_path, "nats://127.0.0.1:2", LAYOUT)
    assert first.created
    assert not second.created
    assert second.passwords == first.passwords
    for path in (first.config_path, first.subscriber_path, tmp_path / "nats-users.json"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    subscriber = json.loads(first.subscriber_path.read_text())
    assert subscriber == {"url": "nats://127.0.0.1:2", "user": "subscriber", "password": first.passwords["subscriber"]}
    assert len({first.passwords[user] for user in ("registry", "governance", "subscriber")}) == 3


async def test_flow_works_with_credentials(stack, secured_nats: SecuredNats) -> None:
    registry, governance = stack
    await registry.stub.CreateModel(new_model("secured", owner="team:fraud"), metadata=principal("user:ana@example.com"))
    version = await registry.stub.CreateModelVersion(new_version("secured", seed="s1", auc=0.93),
                                                     metadata=principal("user:ana@example.com"))
    await registry.stub.TransitionStage(rpc.TransitionStageRequest(name=version.name, stage=res.STAGE_PRODUCTION),
                                        metadata=principal("user:bob@example.com"))

    async def promotion_open() -> bool:
        try:
            found = await governance.stub.GetPromotion(gov.GetPromotionRequest(name=version.name))
        except grpc.aio.AioRpcError:
            return False
        return found.state == gres.PROMOTION_STATE_AWAITING_DECISIONS

    assert await eventually(promotion_open)
    for reviewer in ("user:carla@example.com", "user:dan@example.com"):
        await governance.stub.ApproveVersion(gov.ApproveVersionRequest(name=version.name, comment="fine"),
                                             metadata=principal(reviewer))

    async def in_production() -> bool:
        found = await registry.stub.GetModelVersion(rpc.GetModelVersionRequest(name=version.name))
        return found.stage == res.STAGE_PRODUCTION

    assert await eventually(in_production)
    # The services need no subject beyond their permissions, not even in a request they retry.
    log = secured_nats.server.log_path.read_text()
    # nats-server 2.15 logs a rejected publish or subscribe as "Publish Violation" or
    # "Subscription Violation".
    assert "Violation" not in log, log


async def test_subscriber_reads_but_cannot_publish(stack, secured_nats: SecuredNats) -> None:
    registry, _ = stack
    model = await registry.stub.CreateModel(new_model("watched"), metadata=principal("user:ana@example.com"))
    client, errors = await secured_nats.connect("subscriber")
    try:
        js = client.jetstream()
        subscription = await js.pull_subscribe(f"{PREFIX}.registry.v1.>", durable="notifier", stream=LAYOUT.registry_stream)

        async def model_created_read() -> bool:
            try:
                messages = await subscription.fetch(50, timeout=1.0)
            except nats.errors.TimeoutError:
                return False
            for message in messages:
                await message.ack()
            return any(message.headers.get("ce-streamid") == model.uid for message in messages)

        assert await eventually(model_created_read)
        governance_reader = await js.pull_subscribe(f"{PREFIX}.governance.v1.>", stream=LAYOUT.governance_stream)
        await governance_reader.unsubscribe()

        before = {stream: await _stream_messages(client, stream) for stream in (LAYOUT.registry_stream, LAYOUT.governance_stream)}
        await _assert_publish_rejected(client, errors, FORGED_APPROVAL, *_forged_approval(model.uid, 1))
        await _assert_publish_rejected(client, errors, FORGED_BINDING, *_forged_binding())
        after = {stream: await _stream_messages(client, stream) for stream in before}
        assert after == before
    finally:
        await client.close()


async def test_subscriber_cannot_use_service_consumers(stack, secured_nats: SecuredNats) -> None:
    client, errors = await secured_nats.connect("subscriber")
    try:
        js = client.jetstream()
        for stream, durable in ((LAYOUT.registry_stream, LAYOUT.governance_durable),
                                (LAYOUT.governance_stream, LAYOUT.registry_durable)):
            with pytest.raises(nats.errors.TimeoutError):
                await js.consumer_info(stream, durable, timeout=1.0)
            with pytest.raises(nats.errors.TimeoutError):
                await client.request(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}", b"1", timeout=1.0)
    finally:
        await client.close()


async def test_subscriber_push_consumer_cannot_feed_events(stack, secured_nats: SecuredNats) -> None:
    """A push consumer delivering the registry's events to a governance subject must not add to that stream."""
    registry, _ = stack
    await registry.stub.CreateModel(new_model("pushed"), metadata=principal("user:ana@example.com"))
    client, _errors = await secured_nats.connect("subscriber")
    try:
        js = client.jetstream()
        before = await _stream_messages(client, LAYOUT.governance_stream)
        try:
            await js.add_consumer(LAYOUT.registry_stream, js_api.ConsumerConfig(deliver_subject=FORGED_APPROVAL),
                                  timeout=2.0)
        except (nats.js.errors.Error, nats.errors.TimeoutError):
            pass
        await asyncio.sleep(1.0)
        assert await _stream_messages(client, LAYOUT.governance_stream) == before
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("user", "subject", "forge"),
    [
        ("registry", FORGED_APPROVAL, "approval"),
        ("governance", FORGED_BINDING, "binding"),
    ],
)
async def test_service_cannot_publish_other_service_events(
    stack, secured_nats: SecuredNats, user: str, subject: str, forge: str
) -> None:
    payload, headers = _forged_approval(str(uuid.uuid4()), 1) if forge == "approval" else _forged_binding()
    client, errors = await secured_nats.connect(user)
    try:
        await _assert_publish_rejected(client, errors, subject, payload, headers)
    finally:
        await client.close()


async def test_compose_config_reads_passwords_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/nats/nats.conf, as docker-compose.yml mounts it, admits a user with the password from the environment."""
    config_file = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats.conf"
    for variable, password in COMPOSE_PASSWORD_VARIABLES.items():
        monkeypatch.setenv(password.removeprefix("$"), f"{variable}-secret")
    server = NatsServer(tmp_path / "nats", config_file=config_file)
    server.start()
    try:
        client = await nats.connect(server.url, user="subscriber", password="subscriber-secret", connect_timeout=2)
        await client.close()
        with pytest.raises((NoServersError, nats.errors.Error, OSError)):
            await nats.connect(server.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    finally:
        server.stop()


async def test_registry_parks_decision_from_other_source(fresh_sqlite_url, nats_server, nats_prefix, nats_client) -> None:
    """On a NATS without permissions, a decision whose ce-source is not governance's is parked, not applied."""
    governance_stream = f"{nats_prefix}_GOVERNANCE"
    await nats_client.jetstream().add_stream(name=governance_stream, subjects=[f"{nats_prefix}.governance.v1.>"])
    config = registry_config(fresh_sqlite_url(), nats_server.url, nats_prefix, governed_stages=("PRODUCTION",),
                             governance_stream_name=governance_stream)
    async with running_registry(config) as registry:
        model = await registry.stub.CreateModel(new_model("spoofed"))
        version = await registry.stub.CreateModelVersion(new_version("spoofed", seed="p1", auc=0.9))
        await registry.stub.TransitionStage(rpc.TransitionStageRequest(name=version.name, stage=res.STAGE_PRODUCTION))
        payload, headers = _forged_approval(model.uid, 1)
        headers["ce-source"] = "urn:attacker"
        await nats_client.jetstream().publish(f"{nats_prefix}.governance.v1.PromotionApproved", payload, headers=headers)

        async def parked() -> bool:
            async with registry.app.engine.connect() as connection:
                letters = await list_dead_letters(connection, "registry-decisions")
            return any("ce-source is 'urn:attacker'" in letter["error"] for letter in letters)

        assert await eventually(parked)
        current = await registry.stub.GetModelVersion(rpc.GetModelVersionRequest(name=version.name))
        assert current.stage == res.STAGE_NONE
        assert current.pending_stage == res.STAGE_PRODUCTION
