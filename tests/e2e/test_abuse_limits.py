"""Abuse limits on both services: message size, concurrent calls, deadlines and rate limits.

Each rejected call must come back with its status and leave the event log as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from sqlalchemy.engine import make_url

from modelward_common.eventstore import APPEND_LOCK_KEY
from modelward_common.limits import RateLimiter, ServerLimits
from modelward_protos.audit.v1 import audit_service_pb2 as audit
from modelward_protos.audit.v1 import audit_service_pb2_grpc as audit_grpc
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from tests.support.auth import as_principal, grant
from tests.support.builders import new_model
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry

@dataclass
class Service:
    """One running service with a cheap read call and a write call that records one event."""

    channel: grpc.aio.Channel
    stub: Any
    name: str
    # The registry's AccessService, which grants roles; None on governance.
    access: Any = None

    async def read(self, **kwargs: Any) -> object:
        if self.name == "registry":
            return await self.stub.ListModels(rpc.ListModelsRequest(), **kwargs)
        return await self.stub.GetPolicy(gov.GetPolicyRequest(), **kwargs)

    async def write(self, key: str, *, padding: str = "", **kwargs: Any) -> object:
        if self.name == "registry":
            return await self.stub.CreateModel(new_model(f"model-{key}", description=f"limits test {padding}"), **kwargs)
        return await self.stub.SetPrincipalActive(
            gov.SetPrincipalActiveRequest(principal=f"user:{key}@example.com", active=False, reason=f"left {padding}"), **kwargs)

    async def event_count(self) -> int:
        report = await audit_grpc.AuditServiceStub(self.channel).VerifyAuditLog(audit.VerifyAuditLogRequest())
        assert report.intact, report.first_mismatch.description
        return report.events_checked


@contextlib.asynccontextmanager
async def _service(name: str, database_url: str, nats_url: str, prefix: str, limits: ServerLimits) -> AsyncIterator[Service]:
    if name == "registry":
        async with running_registry(registry_config(database_url, nats_url, prefix, run_relay=False, limits=limits)) as registry:
            yield Service(registry.channel, registry.stub, name, registry.access)
    else:
        config = governance_config(database_url, nats_url, prefix, "127.0.0.1:1", run_relay=False, run_consumer=False,
                                   sweep_interval=0, limits=limits)
        async with running_governance(config) as governance:
            yield Service(governance.channel, governance.stub, name)


SERVICES = pytest.mark.parametrize("name", ["registry", "governance"])


@SERVICES
async def test_oversize_message_rejected_by_grpc(name, fresh_sqlite_url, nats_server, nats_prefix) -> None:
    limits = ServerLimits(max_message_bytes=64 * 1024)
    async with _service(name, fresh_sqlite_url(), nats_server.url, nats_prefix, limits) as service:
        before = await service.event_count()
        with pytest.raises(grpc.aio.AioRpcError) as rejected:
            await service.write("big", padding="x" * (100 * 1024))
        after = await service.event_count()
        await service.write("small")

    assert rejected.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "65536" in rejected.value.details()
    assert after == before


@SERVICES
async def test_calls_beyond_concurrency_limit_rejected(name, fresh_sqlite_url, nats_server, nats_prefix) -> None:
    limits = ServerLimits(max_concurrent_rpcs=2)
    async with _service(name, fresh_sqlite_url(), nats_server.url, nats_prefix, limits) as service:
        health = health_pb2_grpc.HealthStub(service.channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest()) for _ in range(2)]
        for watch in watches:
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
        started = asyncio.get_running_loop().time()
        with pytest.raises(grpc.aio.AioRpcError) as rejected:
            await service.read(timeout=10)
        waited = asyncio.get_running_loop().time() - started
        for watch in watches:
            watch.cancel()
        await asyncio.sleep(0.1)
        await service.read(timeout=10)

    assert rejected.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert waited < 2


@contextlib.asynccontextmanager
async def _append_blocked(database_url: str) -> AsyncIterator[None]:
    """Hold what every appender waits for: PostgreSQL's append lock, or SQLite's write lock."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    import asyncpg

    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    await connection.execute(f"SELECT pg_advisory_lock({APPEND_LOCK_KEY})")
    try:
        yield
    finally:
        await connection.execute(f"SELECT pg_advisory_unlock({APPEND_LOCK_KEY})")
        await connection.close()


@SERVICES
async def test_expired_deadline_writes_nothing(name, database_url, nats_server, nats_prefix) -> None:
    async with _service(name, database_url, nats_server.url, nats_prefix, ServerLimits()) as service:
        before = await service.event_count()
        async with _append_blocked(database_url):
            with pytest.raises(grpc.aio.AioRpcError) as expired:
                await service.write("late", timeout=1.0)
            # Give the server time to cancel the handler before the lock goes away.
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.5)
        after = await service.event_count()
        await service.write("on-time", timeout=30)
        health = await health_pb2_grpc.HealthStub(service.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        if name == "registry":
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await service.stub.GetModel(rpc.GetModelRequest(name="models/model-late"))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    assert expired.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert after == before
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def _retry_delay(error: grpc.aio.AioRpcError) -> float:
    status = rpc_status.from_call(error)
    assert status is not None, "the status carries no details"
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToNanoseconds() / 1e9
    raise AssertionError("no RetryInfo in the status details")


@SERVICES
async def test_rate_limit_per_principal(name, fresh_sqlite_url, nats_server, nats_prefix) -> None:
    limits = ServerLimits(rate_per_second=0.5, rate_burst=3)
    async with _service(name, fresh_sqlite_url(), nats_server.url, nats_prefix, limits) as service:
        ana = as_principal("user:ana@example.com")
        if service.access is not None:
            await grant(service.access, "user:ana@example.com", "viewer")
        # The test's channel authenticates as the bootstrap admin; its bucket holds 3 calls,
        # one of which granting the role may have used.
        with pytest.raises(grpc.aio.AioRpcError) as limited:
            for number in range(4):
                await service.write(f"limited-{number}")
        if service.access is not None:
            await service.read(metadata=ana)
        health = await health_pb2_grpc.HealthStub(service.channel).Check(health_pb2.HealthCheckRequest())

    assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeded 0.5 calls per second" in limited.value.details()
    assert 0 < _retry_delay(limited.value) <= 2.0
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_token_bucket_refills_at_rate() -> None:
    now = [100.0]
    limiter = RateLimiter(rate=2.0, burst=2, max_principals=2, clock=lambda: now[0])
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire("a") == 0
    limiter.acquire("b")
    limiter.acquire("c")
    assert "a" not in limiter._buckets
