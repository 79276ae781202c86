"""Governance's consumer guarantees: duplicates, restarts, replicas, replay, healing."""

from __future__ import annotations

import asyncio
import time

import grpc
import nats
import pytest
import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_governance.bootstrap import GovernanceApp
from modelward_governance.service_layer.governance import Governance
from modelward_governance.adapters.schema import findings_table, portfolio_table, promotions_table, redundancy_table
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.e2e.test_governance_flow import eventually, principal
from tests.support.auth import grant_and_wait
from tests.support.builders import new_model, new_version
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry


async def _state(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Governance state that must not depend on timing: every table but the clock columns."""
    engine = create_engine(database_url)
    state: dict[str, list[tuple[object, ...]]] = {}
    async with engine.connect() as connection:
        columns = [c for c in portfolio_table.c if c.name != "update_time"]
        state["portfolio"] = sorted(tuple(r) for r in (await connection.execute(sa.select(*columns))).all())
        for table in (findings_table, promotions_table, redundancy_table):
            rows = (await connection.execute(sa.select(table))).all()
            state[table.name] = sorted((tuple(r) for r in rows), key=repr)
        events = await connection.execute(sa.text(
            "SELECT event_id, stream_id, stream_version, type, payload FROM events WHERE stream_id <> 'policy' ORDER BY stream_id, stream_version"
        ))
        state["events"] = [(str(r[0]).replace("-", ""), *r[1:]) for r in events.all()]
    await engine.dispose()
    return state


async def _stable_state(database_url: str) -> dict[str, object]:
    """State that must not depend on the order in which different models' events arrive.

    Finding ids and opening times derive from the event that opened them, and with two
    replicas or a healed gap another model's event can come first, so findings compare by key.
    """
    full = await _state(database_url)
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        open_keys = sorted(tuple(r) for r in (await connection.execute(sa.select(
            findings_table.c.model_uid, findings_table.c.version, findings_table.c.kind, findings_table.c.check_id,
            findings_table.c.severity,
        ).where(findings_table.c.is_open.is_(True)))).all())
    await engine.dispose()
    return {"portfolio": full["portfolio"], "open_findings": open_keys, "redundancy": full["redundancy_flags"],
            "promotions": full["promotions"]}


async def _applied(database_url: str) -> int:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        count = await connection.scalar(sa.text("SELECT count(*) FROM consumer_inbox"))
    await engine.dispose()
    return int(count)


async def _registry_events(nats_client, stream: str) -> int:
    return (await nats_client.jetstream().stream_info(stream)).state.messages


# Role bindings _populate records first; each is one event on the registry's stream.
POPULATE_ROLES = [("user:ana@example.com", "contributor"), ("user:bob@example.com", "contributor")]


async def _populate(registry) -> None:
    await grant_and_wait(registry, None, POPULATE_ROLES)
    stub = registry.stub
    await stub.CreateModel(new_model("alpha"), metadata=principal("user:ana@example.com"))
    await stub.CreateModel(new_model("beta", owner=""), metadata=principal("user:ana@example.com"))
    await stub.CreateModel(new_model("alpha-copy", owner="team:other"))
    for seed in range(3):
        await stub.CreateModelVersion(new_version("alpha", seed=f"a{seed}", auc=0.7 + seed / 10))
        await stub.CreateModelVersion(new_version("beta", seed=f"b{seed}", auc=0.9))
    await stub.CreateModelVersion(new_version("alpha-copy", seed="a2", auc=0.9))
    await stub.RenameModel(rpc.RenameModelRequest(name="models/alpha", new_model_id="alpha-renamed"))
    await stub.UpdateModel(rpc.UpdateModelRequest(model=res.Model(name="models/beta", owner="team:fraud"), update_mask={"paths": ["owner"]}))
    await stub.TransitionStage(rpc.TransitionStageRequest(name="models/alpha-renamed/versions/3", stage=res.STAGE_PRODUCTION),
                               metadata=principal("user:bob@example.com"))


async def _settled_count(nats_client, stream: str) -> int:
    """Wait until the stream stops growing (decisions flow back to the registry) and count it."""
    count = -1
    while True:
        await asyncio.sleep(1.0)
        current = await _registry_events(nats_client, stream)
        if current == count:
            return count
        count = current


async def _caught_up(database_url: str, expected: int) -> bool:
    return await _applied(database_url) >= expected


@pytest.fixture
async def registry(fresh_pg_url, nats_server, nats_prefix):
    config = registry_config(fresh_pg_url(), nats_server.url, nats_prefix, governed_stages=("PRODUCTION",),
                             governance_stream_name=f"{nats_prefix}_GOVERNANCE")
    async with running_registry(config) as running:
        yield running


async def test_replay_restart_and_replicas_reach_one_state(registry, fresh_pg_url, fresh_sqlite_url, nats_server, nats_prefix, nats_client) -> None:
    live_url = fresh_pg_url()
    live = governance_config(live_url, nats_server.url, nats_prefix, registry.target)
    async with running_governance(live):
        await _populate(registry)
        total = await _settled_count(nats_client, f"{nats_prefix}_REGISTRY")
        assert await eventually(lambda: _caught_up(live_url, total))
    live_state = await _state(live_url)
    renamed = next(row for row in live_state["portfolio"] if row[1] == "alpha-renamed")
    assert renamed[2] == "team:fraud"
    assert renamed[7] is False  # not orphaned: the rename kept the owner

    replay_url = fresh_sqlite_url()
    replay = governance_config(replay_url, nats_server.url, nats_prefix, registry.target,
                               durable_name=f"{nats_prefix}-replay", stream_name=f"{nats_prefix}_REPLAY", run_relay=False)
    async with running_governance(replay):
        assert await eventually(lambda: _caught_up(replay_url, total))
    assert await _state(replay_url) == live_state

    restarted_url = fresh_pg_url()
    first = governance_config(restarted_url, nats_server.url, nats_prefix, registry.target,
                              durable_name=f"{nats_prefix}-restart", stream_name=f"{nats_prefix}_RESTART", run_relay=False)
    async with running_governance(first):
        # Stopping here leaves the consumer part-way through the stream.
        assert await eventually(lambda: _caught_up(restarted_url, 3))
    async with running_governance(first):
        assert await eventually(lambda: _caught_up(restarted_url, total))
    assert await _state(restarted_url) == live_state

    shared_url = fresh_pg_url()
    replica = governance_config(shared_url, nats_server.url, nats_prefix, registry.target,
                                durable_name=f"{nats_prefix}-pair", stream_name=f"{nats_prefix}_PAIR", run_relay=False)
    async with running_governance(replica) as one, running_governance(replica) as two:
        assert await eventually(lambda: _caught_up(shared_url, total))
        assert one.app.consumer.applied_count + two.app.consumer.applied_count == await _applied(shared_url)
    assert await _stable_state(shared_url) == await _stable_state(live_url)


async def test_duplicate_delivery_has_one_effect(registry, fresh_pg_url, nats_server, nats_prefix, nats_client) -> None:
    url = fresh_pg_url()
    config = governance_config(url, nats_server.url, nats_prefix, registry.target)
    async with running_governance(config) as governance:
        await registry.stub.CreateModel(new_model("twice", owner=""))
        assert await eventually(lambda: _caught_up(url, 1))
        before = await _state(url)
        js = nats_client.jetstream()
        message = await js.get_msg(f"{nats_prefix}_REGISTRY", 1)
        headers = dict(message.headers)
        headers["Nats-Msg-Id"] = "another-id"
        await js.publish(message.subject, message.data, headers=headers)
        assert await eventually(lambda: _duplicates(governance, 1))
        assert await _state(url) == before


async def _duplicates(governance, expected: int) -> bool:
    return governance.app.consumer.duplicate_count >= expected


async def test_lost_message_heals_from_history(registry, fresh_pg_url, fresh_sqlite_url, nats_server, nats_prefix, nats_client) -> None:
    await _populate(registry)
    stream = f"{nats_prefix}_REGISTRY"
    total = await _settled_count(nats_client, stream)
    reference_url = fresh_sqlite_url()
    reference = governance_config(reference_url, nats_server.url, nats_prefix, registry.target,
                                  durable_name=f"{nats_prefix}-whole", stream_name=f"{nats_prefix}_WHOLE", run_relay=False)
    async with running_governance(reference):
        assert await eventually(lambda: _caught_up(reference_url, total))

    await nats_client.jetstream().delete_msg(stream, len(POPULATE_ROLES) + 5)
    healed_url = fresh_sqlite_url()
    healed = governance_config(healed_url, nats_server.url, nats_prefix, registry.target,
                               durable_name=f"{nats_prefix}-healed", stream_name=f"{nats_prefix}_HEALED", run_relay=False)
    async with running_governance(healed) as governance:
        assert await eventually(lambda: _caught_up(healed_url, total))
        assert governance.app.consumer.healed_count == 1
    assert await _stable_state(healed_url) == await _stable_state(reference_url)


async def test_invalid_policy_names_line_and_dry_run_changes_nothing(registry, fresh_pg_url, nats_server, nats_prefix) -> None:
    url = fresh_pg_url()
    config = governance_config(url, nats_server.url, nats_prefix, registry.target)
    async with running_governance(config) as governance:
        await _populate(registry)
        assert await eventually(lambda: _caught_up(url, 10))
        await asyncio.sleep(1)
        bad = "format_version: 1\nname: broken\nrules:\n  - id: auc\n    kind: metric_threshold\n    severity: error\n    metric: auc\n    operator: '>='\n    threshold: high\n"
        with pytest.raises(grpc.aio.AioRpcError) as rejected:
            await governance.stub.ReplacePolicy(gov.ReplacePolicyRequest(yaml_text=bad, reason="try"))
        assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "line 9" in rejected.value.details()
        assert "threshold" in rejected.value.details()
        policy = await governance.stub.GetPolicy(gov.GetPolicyRequest())
        assert policy.revision == 1

        before = await _state(url)
        strict = policy.yaml_text.replace("threshold: 0.75", "threshold: 0.99")
        result = await governance.stub.DryRunPolicy(gov.DryRunPolicyRequest(yaml_text=strict))
        assert result.models_evaluated == 3
        assert any("auc-high-risk" in r.newly_failing_rule_ids for r in result.results)
        assert await _state(url) == before
        assert (await governance.stub.GetPolicy(gov.GetPolicyRequest())).revision == 1

        replaced = await governance.stub.ReplacePolicy(gov.ReplacePolicyRequest(yaml_text=strict, reason="stricter auc", etag=policy.etag))
        assert replaced.revision == 2
        with pytest.raises(grpc.aio.AioRpcError) as stale:
            await governance.stub.ReplacePolicy(gov.ReplacePolicyRequest(yaml_text=strict, reason="again", etag=policy.etag))
        assert stale.value.code() == grpc.StatusCode.ABORTED


async def test_stop_cancels_batch_past_grace(registry, fresh_pg_url, nats_server, nats_prefix, monkeypatch) -> None:
    # A batch that outlasts the shutdown grace is cancelled and rolled back. Its message is
    # delivered again at once, so the next start applies it.
    url = fresh_pg_url()
    config = governance_config(url, nats_server.url, nats_prefix, registry.target, shutdown_grace=1.0)
    entered = asyncio.Event()

    async def stuck(self, connection, event) -> None:  # type: ignore[no-untyped-def]
        entered.set()
        await asyncio.sleep(3600)

    with monkeypatch.context() as patch:
        patch.setattr(Governance, "handle_registry_event", stuck)
        app = GovernanceApp(config)
        await app.start()
        await registry.stub.CreateModel(new_model("slow", owner=""))
        await asyncio.wait_for(entered.wait(), 30)
        started = time.monotonic()
        await asyncio.wait_for(app.stop(), 20)
        assert time.monotonic() - started < 10
    assert await _applied(url) == 0

    async with running_governance(config):
        # Sooner than the consumer's 30 s ack wait, because the cancelled batch handed its message back.
        assert await eventually(lambda: _caught_up(url, 1), timeout=15)
