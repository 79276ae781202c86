"""CreateModelVersion requests that arrive together commit together, each with its own outcome.

The calls go straight to the service layer with asyncio.gather: every request is queued before
the group writer first runs, so they form one group, which calls through gRPC cannot ensure.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_common.errors import ModelwardError
from modelward_common.eventstore import EventContext
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.entrypoints.grpc_service import idempotency
from modelward_registry.service_layer.registry import Registry
from tests.support.builders import new_model, new_version
from tests.support.registry import registry_config, running_registry

CONTEXT = EventContext(actor="user:writer@example.com")


def _request(model: str, seed: str, request_id: str = "", parent_version: int = 0) -> rpc.CreateModelVersionRequest:
    request = new_version(model, seed=seed)
    request.request_id = request_id
    request.model_version.lineage.parent_version = parent_version
    return request


async def _create(registry: Registry, request: rpc.CreateModelVersionRequest) -> res.ModelVersion:
    model_id = request.parent.removeprefix("models/")
    return await registry.create_version(model_id, request.model_version, CONTEXT, idempotency("CreateModelVersion", request))


async def _events_of(database_url: str, event_type: str) -> int:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        count = await connection.scalar(sa.text("SELECT count(*) FROM events WHERE type = :type"), {"type": event_type})
    await engine.dispose()
    return int(count)


async def test_group_outcomes_stay_separate(database_url, nats_server, nats_prefix) -> None:
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as running:
        for model in ("fraud", "churn", "retired"):
            await running.stub.CreateModel(new_model(model))
        await running.stub.ArchiveModel(rpc.ArchiveModelRequest(name="models/retired"))
        registry = running.app.registry
        groups_before = registry._version_groups.groups
        requests = [
            _request("fraud", "f1"),
            _request("churn", "c1"),
            _request("retired", "r1"),  # archived model
            _request("fraud", "f2"),
            _request("missing", "m1"),  # no such model
            _request("fraud", "f3", parent_version=7),  # parent beyond the latest version
            _request("churn", "c2", request_id="same-key"),
            _request("churn", "c2", request_id="same-key"),  # a retry of the request before
            _request("fraud", "f4", request_id="reused-key"),
            _request("fraud", "other content", request_id="reused-key"),
            _request("fraud", "f5"),
        ]
        outcomes = await asyncio.gather(*(_create(registry, request) for request in requests), return_exceptions=True)
        # The second request of each repeated key waits for the next group, so it reads the first one's result.
        assert registry._version_groups.groups - groups_before == 2

        def code(index: int) -> grpc.StatusCode:
            outcome = outcomes[index]
            assert isinstance(outcome, ModelwardError), f"request {index} returned {outcome!r}"
            return outcome.code

        assert code(2) == grpc.StatusCode.FAILED_PRECONDITION
        assert code(4) == grpc.StatusCode.NOT_FOUND
        assert code(5) == grpc.StatusCode.INVALID_ARGUMENT
        assert "lineage.parent_version" in str(outcomes[5])
        assert code(9) == grpc.StatusCode.INVALID_ARGUMENT
        assert "request_id" in str(outcomes[9])
        created = {index: outcome for index, outcome in enumerate(outcomes) if isinstance(outcome, res.ModelVersion)}
        assert sorted(created) == [0, 1, 3, 6, 7, 8, 10]
        assert [created[index].name for index in (0, 3, 8, 10)] == [f"models/fraud/versions/{n}" for n in (1, 2, 3, 4)]
        assert created[1].name == "models/churn/versions/1"
        assert created[6].name == "models/churn/versions/2"
        assert created[7] == created[6]
        assert created[10].description == "trained from f5"
        assert await _events_of(config.database_url, "ModelVersionCreated") == 6
        fraud = await running.stub.GetModel(rpc.GetModelRequest(name="models/fraud"))
        assert fraud.latest_version == 4


async def test_replicas_share_request_key(database_url, nats_server, nats_prefix) -> None:
    # Two replicas take the same key in concurrent groups: the second insert of the key fails, its
    # group runs again and returns what the first committed, and the others in it are unaffected.
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as first, running_registry(config) as second:
        await first.stub.CreateModel(new_model("fraud"))
        for round_ in range(5):
            key = f"key-{round_}"
            outcomes = await asyncio.gather(
                _create(first.app.registry, _request("fraud", f"k{round_}", request_id=key)),
                _create(second.app.registry, _request("fraud", f"k{round_}", request_id=key)),
                _create(second.app.registry, _request("fraud", f"other{round_}")),
            )
            assert outcomes[0] == outcomes[1]
            assert outcomes[2].version != outcomes[0].version
        assert await _events_of(config.database_url, "ModelVersionCreated") == 10
        model = await first.stub.GetModel(rpc.GetModelRequest(name="models/fraud"))
        assert model.latest_version == 10


@pytest.mark.parametrize("size", [1, 3])
async def test_group_size_bounds_groups(size, fresh_pg_url, nats_server, nats_prefix) -> None:
    config = registry_config(fresh_pg_url(), nats_server.url, nats_prefix)
    async with running_registry(config) as running:
        await running.stub.CreateModel(new_model("fraud"))
        registry = running.app.registry
        registry._version_groups.max_size = size
        groups_before = registry._version_groups.groups
        created = await asyncio.gather(*(_create(registry, _request("fraud", f"s{index}")) for index in range(7)))
        assert sorted(version.version for version in created) == list(range(1, 8))
        assert registry._version_groups.groups - groups_before == -(-7 // size)
