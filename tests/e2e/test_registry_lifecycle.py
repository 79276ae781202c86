"""A model's lifecycle over gRPC on both backends, with events checked on JetStream."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from modelward_protos.events.v1 import registry_events_pb2 as ev
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.support.builders import new_model, new_version
from tests.support.registry import registry_config, running_registry


async def test_lifecycle_records_events_in_order(database_url, nats_server, nats_prefix, nats_client) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        stub = registry.stub
        model = await stub.CreateModel(new_model("churn"))
        assert model.name == "models/churn"
        assert model.state == res.MODEL_STATE_ACTIVE

        first = await stub.CreateModelVersion(new_version("churn", seed="one"))
        second = await stub.CreateModelVersion(new_version("churn", seed="two"))
        assert (first.version, second.version) == (1, 2)
        assert second.name == "models/churn/versions/2"

        await stub.SetAlias(rpc.SetAliasRequest(name=second.name, alias="champion"))
        resolved = await stub.ResolveAlias(rpc.ResolveAliasRequest(model="models/churn", alias="champion"))
        assert resolved.version == 2
        assert list(resolved.aliases) == ["champion"]

        promoted = await stub.TransitionStage(rpc.TransitionStageRequest(name=first.name, stage=res.STAGE_PRODUCTION))
        assert promoted.stage == res.STAGE_PRODUCTION
        await stub.TransitionStage(rpc.TransitionStageRequest(name=second.name, stage=res.STAGE_PRODUCTION))
        archived = await stub.GetModelVersion(rpc.GetModelVersionRequest(name=first.name))
        assert archived.stage == res.STAGE_ARCHIVED

        renamed = await stub.RenameModel(rpc.RenameModelRequest(name="models/churn", new_model_id="churn-v2", reason="new naming"))
        assert renamed.uid == model.uid
        again = await stub.ResolveAlias(rpc.ResolveAliasRequest(model="models/churn-v2", alias="champion"))
        assert again.name == "models/churn-v2/versions/2"

        history = await stub.GetModelHistory(rpc.GetModelHistoryRequest(name="models/churn-v2"))
        types = [entry.type for entry in history.entries]
        assert types == [
            "ModelCreated", "ModelVersionCreated", "ModelVersionCreated", "AliasSet",
            "StageChanged", "StageChanged", "StageChanged", "ModelRenamed",
        ]
        assert history.entries[-1].reason == "new naming"
        assert [entry.stream_version for entry in history.entries] == list(range(1, 9))

        js = nats_client.jetstream()
        subscription = await js.subscribe(f"{nats_prefix}.registry.v1.>", ordered_consumer=True)
        received = []
        for _ in range(len(types)):
            received.append(await subscription.next_msg(timeout=10))
        assert [message.headers["ce-id"] for message in received] == [entry.event_id for entry in history.entries]
        assert [message.headers["Nats-Msg-Id"] for message in received] == [entry.event_id for entry in history.entries]
        assert received[1].subject == f"{nats_prefix}.registry.v1.ModelVersionCreated"
        assert received[1].headers["ce-subject"] == "models/churn/versions/1"
        assert received[1].headers["ce-type"] == "modelward.registry.v1.ModelVersionCreated"
        payload = ev.ModelVersionCreated.FromString(received[1].data)
        assert payload.model_version.version == 1
        await subscription.unsubscribe()


async def test_version_of_missing_model_is_not_found(fresh_sqlite_url, nats_server, nats_prefix) -> None:
    config = registry_config(fresh_sqlite_url(), nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await registry.stub.CreateModelVersion(new_version("ghost"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "models/ghost" in caught.value.details()
