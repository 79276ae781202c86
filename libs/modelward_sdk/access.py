"""Async client of the AccessService: role bindings and API tokens, for admins.

The registry serves the AccessService and records every change as an event. Governance applies
the same events from the registry's stream, so a new binding or token works there a moment later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from google.protobuf import timestamp_pb2

from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.access.v1 import access_service_pb2_grpc as access_grpc
from modelward_sdk.names import enum_value, model_name
from modelward_sdk.transport import AsyncClientBase

BINDING_PREFIX = "roleBindings/"
TOKEN_PREFIX = "apiTokens/"


class AsyncAccessClient(AsyncClientBase):
    """Typed calls of AccessService on the registry. Only admins may make them.

    Creates, deletes and revokes carry no request id, so they are not retried: after an
    UNAVAILABLE error, list the bindings or tokens to see whether the change was made.
    """

    service = "registry"
    stub_type = access_grpc.AccessServiceStub
    stub: access_grpc.AccessServiceStub

    # Role bindings

    async def create_role_binding(
        self,
        principal: str,
        role: int | str,
        *,
        team: str = "",
        model: str = "",
        reason: str = "",
        timeout: float | None = None,
    ) -> access_pb.RoleBinding:
        """Bind `role` (`reviewer`, `ROLE_REVIEWER` or its number) to `principal`.

        The binding applies to every model when neither `team` (`fraud` or `team:fraud`) nor
        `model` (`churn` or `models/churn`) is given.
        """
        if team and model:
            raise ValueError(f"give team or model, not both (team={team!r}, model={model!r})")
        scope = access_pb.Scope(team=team.removeprefix("team:"), model=model_name(model) if model else "")
        binding = access_pb.RoleBinding(principal=principal, role=enum_value(access_pb.Role, role), scope=scope)
        request = access_pb.CreateRoleBindingRequest(role_binding=binding, reason=reason)
        return await self._call(self.stub.CreateRoleBinding, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def delete_role_binding(
        self, name: str, *, reason: str = "", timeout: float | None = None
    ) -> access_pb.RoleBinding:
        """Delete a binding by `roleBindings/{id}` or its bare id; return the deleted binding."""
        request = access_pb.DeleteRoleBindingRequest(name=binding_name(name), reason=reason)
        return await self._call(self.stub.DeleteRoleBinding, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def list_role_bindings(
        self, *, principal: str = "", page_size: int = 100, timeout: float | None = None
    ) -> AsyncIterator[access_pb.RoleBinding]:
        """Yield the bindings, oldest first; only those of `principal` when it is given."""
        request = access_pb.ListRoleBindingsRequest(principal=principal, page_size=page_size)
        async for binding in self._pages(self.stub.ListRoleBindings, request, "role_bindings", timeout=timeout):
            yield binding

    # API tokens

    async def create_api_token(
        self,
        principal: str,
        *,
        display_name: str = "",
        expire_time: dt.datetime | dt.timedelta | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> access_pb.CreateApiTokenResponse:
        """Create a token that authenticates as `principal` and return it with its secret.

        The response's `secret` is the only copy: the services keep its SHA-256 digest. An
        `expire_time` given as a timedelta counts from now; None creates a token that does not
        expire.
        """
        token = access_pb.ApiToken(principal=principal, display_name=display_name)
        if expire_time is not None:
            token.expire_time.CopyFrom(_expiry_timestamp(expire_time))
        request = access_pb.CreateApiTokenRequest(api_token=token, reason=reason)
        return await self._call(self.stub.CreateApiToken, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def revoke_api_token(self, name: str, *, reason: str = "", timeout: float | None = None) -> access_pb.ApiToken:
        """Revoke a token by `apiTokens/{id}` or its bare id; return it with its revoke time."""
        request = access_pb.RevokeApiTokenRequest(name=token_name(name), reason=reason)
        return await self._call(self.stub.RevokeApiToken, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def list_api_tokens(
        self, *, principal: str = "", show_revoked: bool = False, page_size: int = 100, timeout: float | None = None
    ) -> AsyncIterator[access_pb.ApiToken]:
        """Yield the tokens, oldest first, without secrets; revoked ones only with `show_revoked`."""
        request = access_pb.ListApiTokensRequest(principal=principal, show_revoked=show_revoked, page_size=page_size)
        async for token in self._pages(self.stub.ListApiTokens, request, "api_tokens", timeout=timeout):
            yield token


def binding_name(name: str) -> str:
    """Return `roleBindings/{id}` for a bare id or a full binding name."""
    return name if name.startswith(BINDING_PREFIX) else BINDING_PREFIX + name


def token_name(name: str) -> str:
    """Return `apiTokens/{id}` for a bare id or a full token name."""
    return name if name.startswith(TOKEN_PREFIX) else TOKEN_PREFIX + name


def _expiry_timestamp(expire_time: dt.datetime | dt.timedelta) -> timestamp_pb2.Timestamp:
    if isinstance(expire_time, dt.timedelta):
        expire_time = dt.datetime.now(dt.UTC) + expire_time
    elif expire_time.tzinfo is None:
        raise ValueError(
            f"expire_time {expire_time.isoformat()} has no time zone: use an aware datetime such as UTC"
        )
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(expire_time)
    return stamp
