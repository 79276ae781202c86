"""Run the governance service in the test's event loop beside a registry."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from modelward_governance.bootstrap import GovernanceApp
from modelward_governance.config import GovernanceConfig
from modelward_protos.governance.v1 import governance_service_pb2_grpc as rpc_grpc
from tests.support.auth import issuer
from tests.support.registry import admin_channel


@dataclass
class RunningGovernance:
    app: GovernanceApp
    stub: rpc_grpc.GovernanceServiceStub
    channel: grpc.aio.Channel
    port: int
    config: GovernanceConfig


def governance_config(database_url: str, nats_url: str, prefix: str, registry_target: str, **overrides: Any) -> GovernanceConfig:
    config = GovernanceConfig(
        listen="127.0.0.1:0",
        database_url=database_url,
        nats_url=nats_url,
        registry_target=registry_target,
        stream_name=f"{prefix}_GOVERNANCE",
        registry_stream_name=f"{prefix}_REGISTRY",
        subject_prefix=prefix,
        durable_name=f"{prefix}-governance",
        shutdown_grace=2.0,
        page_token_key="test-key",
        auth=issuer().auth_config(),
        registry_token_file=str(issuer().admin_token_file),
    )
    return dataclasses.replace(config, **overrides)


@contextlib.asynccontextmanager
async def running_governance(config: GovernanceConfig) -> AsyncIterator[RunningGovernance]:
    app = GovernanceApp(config)
    port = await app.start()
    channel = admin_channel(f"127.0.0.1:{port}")
    try:
        yield RunningGovernance(app, rpc_grpc.GovernanceServiceStub(channel), channel, port, config)
    finally:
        await channel.close()
        await app.stop()
