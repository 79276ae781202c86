"""Run a registry in the test's event loop and talk to it over real gRPC."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from modelward_common.auth.client import bearer_token
from modelward_protos.access.v1 import access_service_pb2_grpc as access_grpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_registry.bootstrap import RegistryApp
from modelward_registry.config import RegistryConfig
from tests.support.auth import issuer


@dataclass
class RunningRegistry:
    app: RegistryApp
    stub: rpc_grpc.RegistryServiceStub
    channel: grpc.aio.Channel
    port: int
    config: RegistryConfig
    # The AccessService on the same channel, as the bootstrap admin.
    access: access_grpc.AccessServiceStub

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


def registry_config(database_url: str, nats_url: str, prefix: str, **overrides: Any) -> RegistryConfig:
    config = RegistryConfig(
        listen="127.0.0.1:0",
        database_url=database_url,
        nats_url=nats_url,
        stream_name=f"{prefix}_REGISTRY",
        subject_prefix=prefix,
        shutdown_grace=2.0,
        page_token_key="test-key",
        auth=issuer().auth_config(),
        # Most registry tests run without governance; those with it pass governed_stages.
        governed_stages=(),
    )
    return dataclasses.replace(config, **overrides)


def admin_channel(target: str) -> grpc.aio.Channel:
    """A channel whose calls authenticate as the bootstrap admin unless they send their own token."""
    return grpc.aio.insecure_channel(target, interceptors=bearer_token(issuer().admin_token))


@contextlib.asynccontextmanager
async def running_registry(config: RegistryConfig) -> AsyncIterator[RunningRegistry]:
    app = RegistryApp(config)
    port = await app.start()
    channel = admin_channel(f"127.0.0.1:{port}")
    try:
        yield RunningRegistry(
            app, rpc_grpc.RegistryServiceStub(channel), channel, port, config, access_grpc.AccessServiceStub(channel)
        )
    finally:
        await channel.close()
        await app.stop()
