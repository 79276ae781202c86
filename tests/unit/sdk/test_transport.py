"""Retries, deadlines, error mapping and paging of the SDK against a scripted fake registry."""

from __future__ import annotations

import asyncio
import random
import time

import grpc
import pytest

from modelward_sdk import (
    AsyncRegistryClient,
    CancelledCallError,
    DeadlineExceededError,
    InvalidArgumentError,
    NotFoundError,
    RegistryClient,
    RetryPolicy,
    UnavailableError,
)
from modelward_sdk.errors import FieldViolation, RpcError, error_class
from tests.unit.sdk.fake_registry import Script, fake_registry

FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


def test_backoff_grows_then_caps() -> None:
    policy = RetryPolicy(max_attempts=10, initial_backoff=0.1, max_backoff=1.0, multiplier=2.0)
    assert [policy.backoff_ceiling(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_backoff_jitter_stays_in_range() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0)
    rng = random.Random(7)
    waits = [policy.backoff(3, rng) for _ in range(500)]
    assert min(waits) >= 0.0
    assert max(waits) <= 0.4
    # Full jitter spreads the waits: they are not all the same value.
    assert len({round(wait, 6) for wait in waits}) > 400


# CANCELLED is what callers see when a server shuts down before it starts their calls.
RETRIED_CODES = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED]


@pytest.mark.parametrize("failure", RETRIED_CODES)
async def test_read_retried_until_success(failure: grpc.StatusCode) -> None:
    script = Script(unavailable_calls=2, failure=failure)
    with fake_registry(script) as target:
        async with AsyncRegistryClient(target, retry=FAST_RETRY, timeout=5) as client:
            model = await client.get_model("churn")
    assert model.name == "models/churn"
    assert script.calls["GetModel"] == 3


async def test_retries_are_bounded() -> None:
    script = Script(unavailable_calls=100)
    with fake_registry(script) as target:
        async with AsyncRegistryClient(target, retry=FAST_RETRY, timeout=5) as client:
            with pytest.raises(UnavailableError) as raised:
                await client.get_model("churn")
    assert script.calls["GetModel"] == 4
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
    assert "attempt 4" in raised.value.message


async def test_create_with_request_id_retried() -> None:
    script = Script(unavailable_calls=1)
    with fake_registry(script) as target:
        async with AsyncRegistryClient(target, retry=FAST_RETRY, timeout=5) as client:
            await client.create_model("churn")
    assert script.calls["CreateModel"] == 2
    first, second = script.requests
    # Both attempts carry the same generated request id, so the server can tell a retry.
    assert first.request_id.startswith("sdk-")
    assert first.request_id == second.request_id


@pytest.mark.parametrize("failure", RETRIED_CODES)
async def test_update_not_retried(failure: grpc.StatusCode) -> None:
    script = Script(unavailable_calls=1, failure=failure)
    with fake_registry(script) as target:
        async with AsyncRegistryClient(target, retry=FAST_RETRY, timeout=5) as client:
            with pytest.raises(RpcError) as raised:
                await client.update_model("churn", owner="team:growth")
    assert raised.value.code == failure
    assert script.calls["UpdateModel"] == 1


async def test_deadline_covers_every_attempt() -> None:
    script = Script(delay=1.0)
    with fake_registry(script) as target:
        async with AsyncRegistryClient(target, retry=FAST_RETRY, timeout=0.3) as client:
            started = time.monotonic()
            with pytest.raises(DeadlineExceededError):
                await client.get_model("churn")
            elapsed = time.monotonic() - started
    assert elapsed < 0.9


async def test_not_found_mapped() -> None:
    with fake_registry(Script()) as target:
        async with AsyncRegistryClient(target, timeout=5) as client:
            with pytest.raises(NotFoundError) as raised:
                await client.get_model("missing")
    assert raised.value.code == grpc.StatusCode.NOT_FOUND
    assert raised.value.message == "model models/missing not found"
    assert raised.value.method == "/modelward.registry.v1.RegistryService/GetModel"


async def test_bad_request_details_unpacked() -> None:
    with fake_registry(Script()) as target:
        async with AsyncRegistryClient(target, timeout=5) as client:
            with pytest.raises(InvalidArgumentError) as raised:
                await client.create_model("bad name")
    error = raised.value
    assert error.field == "model_id"
    assert error.reason == "INVALID_ARGUMENT"
    assert error.field_violations == (
        FieldViolation("model_id", "model_id 'bad name' is invalid: use letters and digits"),
    )


def test_unknown_code_maps_to_base_class() -> None:
    assert error_class(grpc.StatusCode.DATA_LOSS) is RpcError
    assert error_class(grpc.StatusCode.NOT_FOUND) is NotFoundError


async def test_cancelled_after_retries_is_typed() -> None:
    script = Script(unavailable_calls=10, failure=grpc.StatusCode.CANCELLED)
    with fake_registry(script) as target:
        async with AsyncRegistryClient(target, retry=FAST_RETRY, timeout=5) as client:
            with pytest.raises(CancelledCallError) as raised:
                await client.get_model("churn")
    assert raised.value.code == grpc.StatusCode.CANCELLED
    assert script.calls["GetModel"] == FAST_RETRY.max_attempts


async def test_async_pages_followed() -> None:
    script = Script()
    with fake_registry(script) as target:
        async with AsyncRegistryClient(target, timeout=5) as client:
            names = [model.name async for model in client.list_models(filter='owner = "x"', page_size=2)]
    assert names == [f"models/m{index}" for index in range(5)]
    assert script.calls["ListModels"] == 3
    assert [request.page_token for request in script.requests] == ["", "2", "4"]
    assert {request.filter for request in script.requests} == {'owner = "x"'}


async def test_page_read_retried() -> None:
    script = Script(unavailable_calls=1)
    with fake_registry(script) as target:
        async with AsyncRegistryClient(target, retry=FAST_RETRY, timeout=5) as client:
            names = [model.name async for model in client.list_models()]
    assert len(names) == 5


def test_sync_client_pages_and_errors() -> None:
    script = Script()
    with fake_registry(script) as target:
        with RegistryClient(target, timeout=5, token="secret-token") as client:
            names = [model.name for model in client.list_models()]
            with pytest.raises(NotFoundError):
                client.get_model("missing")
    assert names == [f"models/m{index}" for index in range(5)]
    assert script.metadata[0]["authorization"] == "Bearer secret-token"
    assert "x-modelward-principal" not in script.metadata[0]


def test_sync_iterator_stopped_early() -> None:
    script = Script()
    with fake_registry(script) as target:
        with RegistryClient(target, timeout=5) as client:
            first = next(iter(client.list_models()))
            assert first.name == "models/m0"
            # The client stays usable after an abandoned iterator.
            assert client.get_model("churn").name == "models/churn"
    assert script.calls["ListModels"] == 1


async def test_own_close_not_retried() -> None:
    # Closing the client's channel cancels its calls in the caller's task, not with a retried status.
    script = Script(delay=0.5)
    with fake_registry(script) as target:
        client = AsyncRegistryClient(target, retry=FAST_RETRY, timeout=5)
        call = asyncio.ensure_future(client.get_model("churn"))
        await asyncio.sleep(0.2)
        await client.close()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert script.calls["GetModel"] == 1
