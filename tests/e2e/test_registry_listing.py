"""List filters, ordering and paging over gRPC, with the same results on both backends."""

from __future__ import annotations

import base64

import grpc
import pytest

from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from tests.support.builders import new_model, new_version
from tests.support.registry import registry_config, running_registry

# Names where a regular expression would match more than LIKE: `a+b` matches "aab", `a.b` "axb".
NAMES = ["aab1", "ab1", "axb", "a.b", "aYb", "Abz", "a_b", "a-b", "zeta", "aab"]
DESCRIPTIONS = {"aab1": "a+b one", "ab1": "a+bc", "axb": "a%b", "a.b": "ä+b ünïcode"}


@pytest.fixture
async def registry(database_url, nats_server, nats_prefix):
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as running:
        stub = running.stub
        for index, name in enumerate(NAMES):
            owner = "team:fraud" if index % 2 == 0 else "team:credit"
            request = new_model(name, owner=owner, tags={"domain": "pay" if index < 4 else "risk"})
            request.model.description = DESCRIPTIONS.get(name, "")
            await stub.CreateModel(request)
            await stub.CreateModelVersion(new_version(name, seed=f"{name}-1", auc=0.7 + index / 100))
            await stub.CreateModelVersion(new_version(name, seed=f"{name}-2", auc=0.8 + index / 100))
        yield running


async def _all_names(stub, **request) -> list[str]:
    response = await stub.ListModels(rpc.ListModelsRequest(page_size=1000, **request))
    return [model.model_id for model in response.models]


async def test_like_treats_only_percent_and_underscore_as_wildcards(registry) -> None:
    stub = registry.stub
    assert await _all_names(stub, filter="name LIKE 'a+b%'") == []
    assert await _all_names(stub, filter="description LIKE 'a+b%'") == ["aab1", "ab1"]
    assert await _all_names(stub, filter="name LIKE 'a.b'") == ["a.b"]
    assert await _all_names(stub, filter="name LIKE 'a_b'", order_by="name") == ["a-b", "a.b", "aYb", "a_b", "aab", "axb"]
    assert await _all_names(stub, filter=r"name LIKE 'a\_b'") == ["a_b"]
    assert await _all_names(stub, filter=r"description LIKE 'a\%b'") == ["axb"]
    assert await _all_names(stub, filter="description LIKE 'ä+b%'") == ["a.b"]
    assert await _all_names(stub, filter="name LIKE 'A%'") == ["Abz"]


async def test_order_is_bytewise_on_both_backends(registry) -> None:
    names = await _all_names(registry.stub, order_by="name")
    assert names == sorted(names, key=lambda text: text.encode())


async def test_filter_joins_model_fields_and_metrics(registry) -> None:
    response = await registry.stub.ListModelVersions(
        rpc.ListModelVersionsRequest(parent="models/-", filter='owner = "team:fraud" AND metrics.auc > 0.8', page_size=1000)
    )
    found = sorted(version.name for version in response.model_versions)
    # Even-indexed models belong to team:fraud; version 2 has auc 0.8 + index / 100, version 1
    # has 0.7 + index / 100, which stays at or below 0.8 for these ten models.
    expected = sorted(f"models/{name}/versions/2" for index, name in enumerate(NAMES) if index % 2 == 0 and index > 0)
    assert found == expected
    assert response.total_size == len(expected)


async def test_not_or_and_tags(registry) -> None:
    stub = registry.stub
    pay = set(await _all_names(stub, filter='tags.domain = "pay"'))
    risk = set(await _all_names(stub, filter='NOT tags.domain = "pay"'))
    assert len(pay) == 4
    assert pay | risk == set(NAMES)
    assert pay & risk == set()
    either = set(await _all_names(stub, filter='name = "zeta" OR name = "axb"'))
    assert either == {"zeta", "axb"}


async def test_page_size_one_visits_each_model_once(registry) -> None:
    seen: list[str] = []
    token = ""
    while True:
        response = await registry.stub.ListModels(rpc.ListModelsRequest(page_size=1, page_token=token, order_by="update_time desc"))
        seen.extend(model.model_id for model in response.models)
        token = response.next_page_token
        if not token:
            assert len(response.models) == 1
            break
    assert sorted(seen) == sorted(NAMES)
    assert len(seen) == len(set(seen))


async def test_page_size_one_visits_each_version_once(registry) -> None:
    seen: list[str] = []
    token = ""
    while True:
        response = await registry.stub.ListModelVersions(
            rpc.ListModelVersionsRequest(parent="models/-", page_size=1, page_token=token, order_by="create_time desc")
        )
        seen.extend(version.name for version in response.model_versions)
        token = response.next_page_token
        if not token:
            break
    assert len(seen) == 2 * len(NAMES)
    assert len(set(seen)) == len(seen)


async def test_tampered_token_is_invalid_argument(registry) -> None:
    first = await registry.stub.ListModels(rpc.ListModelsRequest(page_size=2))
    token = first.next_page_token
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-3] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (tampered, token[:-4], "garbage!", token + "AA"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await registry.stub.ListModels(rpc.ListModelsRequest(page_size=2, page_token=bad))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_token" in caught.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as other_query:
        await registry.stub.ListModels(rpc.ListModelsRequest(page_size=2, page_token=token, filter='owner = "team:fraud"'))
    assert other_query.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_filter_syntax_error_names_position(registry) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await registry.stub.ListModels(rpc.ListModelsRequest(filter="owner = "))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "filter" in caught.value.details()
    assert "position 9" in caught.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await registry.stub.ListModels(rpc.ListModelsRequest(filter='colour = "red"'))
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "colour" in unknown.value.details()


async def test_history_pages_with_signed_tokens(registry) -> None:
    stub = registry.stub
    entries = []
    token = ""
    while True:
        page = await stub.GetModelHistory(rpc.GetModelHistoryRequest(name="models/zeta", page_size=1, page_token=token))
        entries.extend(page.entries)
        token = page.next_page_token
        if not token:
            break
    assert [entry.stream_version for entry in entries] == [1, 2, 3]
    with pytest.raises(grpc.aio.AioRpcError) as foreign:
        first = await stub.GetModelHistory(rpc.GetModelHistoryRequest(name="models/zeta", page_size=1))
        await stub.GetModelHistory(rpc.GetModelHistoryRequest(name="models/axb", page_size=1, page_token=first.next_page_token))
    assert foreign.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_risk_tier_and_state_filters(registry) -> None:
    stub = registry.stub
    await stub.ArchiveModel(rpc.ArchiveModelRequest(name="models/zeta"))
    archived = await _all_names(stub, filter="state = ARCHIVED")
    assert archived == ["zeta"]
    high = await _all_names(stub, filter="risk_tier = HIGH")
    assert len(high) == len(NAMES)
    assert await _all_names(stub, filter="risk_tier = RISK_TIER_LOW") == []


async def test_large_versions_split_pages(registry) -> None:
    # Six versions of about 900 KB each: one page of all six would pass the 4 MiB a default
    # gRPC client accepts, so the registry ends each page early and continues after it.
    stub = registry.stub
    await stub.CreateModel(new_model("large"))
    for index in range(6):
        request = new_version("large", seed=f"large-{index}")
        for key in range(220):
            request.model_version.hyperparameters[f"weights_{key}"] = "0.125," * 666
        await stub.CreateModelVersion(request)
    seen: list[int] = []
    sizes: list[int] = []
    token = ""
    while True:
        response = await stub.ListModelVersions(
            rpc.ListModelVersionsRequest(parent="models/large", page_size=1000, page_token=token)
        )
        seen += [version.version for version in response.model_versions]
        sizes.append(response.ByteSize())
        token = response.next_page_token
        if not token:
            break
    assert seen == [1, 2, 3, 4, 5, 6]
    assert len(sizes) == 2
    assert max(sizes) < 4 * 1024 * 1024
    assert response.total_size == 6
