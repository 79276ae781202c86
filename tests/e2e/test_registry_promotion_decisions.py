"""The registry holds governed promotions pending and applies governance's decisions."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import nats
import pytest
from nats.js import api as js_api

from modelward_common.cloudevents import headers_for
from modelward_common.eventstore import StoredEvent
from modelward_common.timeutil import utc_now
from modelward_protos.events.v1 import governance_events_pb2 as gov
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.support.builders import new_model, new_version
from tests.support.registry import registry_config, running_registry


async def _publish_decision(js, prefix: str, message, model_uid: str) -> str:
    event_id = str(uuid.uuid4())
    stored = StoredEvent(
        position=1, event_id=event_id, stream_id=model_uid, stream_version=1, type=type(message).__name__,
        payload=message.SerializeToString(), subject=message.promotion, actor="service:governance", reason="",
        correlation_id="", causation_id="", traceparent="", recorded_at=utc_now(),
    )
    headers = headers_for(stored, source="urn:modelward:governance", service="governance")
    await js.publish(f"{prefix}.governance.v1.{stored.type}", stored.payload, headers=headers)
    return event_id


async def _stage(stub, name: str) -> res.ModelVersion:
    return await stub.GetModelVersion(rpc.GetModelVersionRequest(name=name))


async def _wait_for_stage(stub, name: str, stage: int, timeout: float = 15) -> res.ModelVersion:
    deadline = time.monotonic() + timeout
    version = await _stage(stub, name)
    while version.stage != stage and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        version = await _stage(stub, name)
    return version


async def test_governed_promotion_waits_for_decision(database_url, nats_server, nats_prefix) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix, governed_stages=("PRODUCTION",),
                             governance_stream_name=f"{nats_prefix}_GOVERNANCE")
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await js.add_stream(name=config.governance_stream_name, subjects=[f"{nats_prefix}.governance.v1.>"],
                        storage=js_api.StorageType.FILE)
    async with running_registry(config) as registry:
        stub = registry.stub
        model = await stub.CreateModel(new_model("gated"))
        for seed in ("a", "b", "c"):
            await stub.CreateModelVersion(new_version("gated", seed=seed))

        pending = await stub.TransitionStage(rpc.TransitionStageRequest(name="models/gated/versions/1", stage=res.STAGE_PRODUCTION))
        assert pending.stage == res.STAGE_NONE
        assert pending.pending_stage == res.STAGE_PRODUCTION
        with pytest.raises(grpc.aio.AioRpcError) as twice:
            await stub.TransitionStage(rpc.TransitionStageRequest(name="models/gated/versions/1", stage=res.STAGE_STAGING))
        assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        await _publish_decision(js, nats_prefix, gov.PromotionApproved(
            promotion="promotions/p1", model_uid=model.uid, model="models/gated", version=1,
            target_stage=res.STAGE_PRODUCTION), model.uid)
        first = await _wait_for_stage(stub, "models/gated/versions/1", res.STAGE_PRODUCTION)
        assert first.stage == res.STAGE_PRODUCTION
        assert first.pending_stage == res.STAGE_UNSPECIFIED

        await stub.TransitionStage(rpc.TransitionStageRequest(name="models/gated/versions/2", stage=res.STAGE_PRODUCTION))
        rejected_id = await _publish_decision(js, nats_prefix, gov.PromotionRejected(
            promotion="promotions/p2", model_uid=model.uid, model="models/gated", version=2,
            target_stage=res.STAGE_PRODUCTION, message="auc below 0.75"), model.uid)
        deadline = time.monotonic() + 15
        second = await _stage(stub, "models/gated/versions/2")
        while second.pending_stage and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            second = await _stage(stub, "models/gated/versions/2")
        assert second.stage == res.STAGE_NONE
        assert second.pending_stage == res.STAGE_UNSPECIFIED

        await stub.TransitionStage(rpc.TransitionStageRequest(name="models/gated/versions/2", stage=res.STAGE_PRODUCTION))
        await stub.TransitionStage(rpc.TransitionStageRequest(name="models/gated/versions/3", stage=res.STAGE_PRODUCTION))
        for version in (2, 3):
            await _publish_decision(js, nats_prefix, gov.PromotionApproved(
                promotion=f"promotions/race{version}", model_uid=model.uid, model="models/gated", version=version,
                target_stage=res.STAGE_PRODUCTION), model.uid)
        await _wait_for_stage(stub, "models/gated/versions/3", res.STAGE_PRODUCTION)
        await _wait_for_stage(stub, "models/gated/versions/2", res.STAGE_ARCHIVED)
        stages = [(await _stage(stub, f"models/gated/versions/{n}")).stage for n in (1, 2, 3)]
        assert stages.count(res.STAGE_PRODUCTION) == 1

        history = await stub.GetModelHistory(rpc.GetModelHistoryRequest(name="models/gated"))
        resolved = [entry for entry in history.entries if entry.type == "PromotionResolved"]
        assert len(resolved) == 4
        assert rejected_id in {entry.causation_id for entry in resolved}
        assert all(entry.actor == "service:governance" for entry in resolved)
    await client.close()
