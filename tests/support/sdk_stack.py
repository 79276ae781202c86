"""Both services for SDK and CLI tests, with the credentials the SDK needs to call them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry


@dataclass
class SdkStack:
    registry: str
    governance: str
    # First token of the services' NATS subjects and stream names.
    prefix: str = ""
    # Bearer token per principal; empty when the services do not authenticate.
    tokens: dict[str, str] = field(default_factory=dict)
    admin_token: str | None = None

    def token(self, principal: str | None = None) -> str | None:
        if principal is None:
            return self.admin_token
        return self.tokens.get(principal, self.admin_token)


@contextlib.asynccontextmanager
async def sdk_stack(
    database_url: Callable[[], str], nats_url: str, roles: Iterable[tuple[str, str]] = ()
) -> AsyncIterator[SdkStack]:
    """Run registry (governing PRODUCTION) and governance; bind `roles` when they authenticate."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    registry_cfg = registry_config(
        database_url(), nats_url, prefix, governed_stages=("PRODUCTION",), governance_stream_name=f"{prefix}_GOVERNANCE",
    )
    async with running_registry(registry_cfg) as registry:
        config = governance_config(database_url(), nats_url, prefix, registry.target)
        async with running_governance(config) as governance:
            stack = SdkStack(registry.target, f"127.0.0.1:{governance.port}", prefix)
            try:
                from tests.support.auth import grant_and_wait, issuer
            except ImportError:
                yield stack
                return
            wanted = list(roles)
            if wanted:
                await grant_and_wait(registry, governance, wanted)
            stack.admin_token = issuer().admin_token
            stack.tokens = {principal: issuer().mint(principal) for principal, _ in wanted}
            yield stack
