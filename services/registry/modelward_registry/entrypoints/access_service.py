"""AccessService over gRPC: role bindings and API tokens, recorded by the registry."""

from __future__ import annotations

import grpc

from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.access.v1 import access_service_pb2_grpc as access_grpc
from modelward_registry.entrypoints.grpc_service import event_context
from modelward_registry.service_layer.access import AccessAdmin

Context = grpc.aio.ServicerContext


class AccessServicer(access_grpc.AccessServiceServicer):
    def __init__(self, admin: AccessAdmin) -> None:
        self.admin = admin

    async def CreateRoleBinding(self, request: access_pb.CreateRoleBindingRequest, context: Context) -> access_pb.RoleBinding:
        return await self.admin.create_role_binding(request.role_binding, event_context(context, request.reason))

    async def DeleteRoleBinding(self, request: access_pb.DeleteRoleBindingRequest, context: Context) -> access_pb.RoleBinding:
        return await self.admin.delete_role_binding(request.name, event_context(context, request.reason))

    async def ListRoleBindings(
        self, request: access_pb.ListRoleBindingsRequest, context: Context
    ) -> access_pb.ListRoleBindingsResponse:
        return await self.admin.list_role_bindings(request)

    async def CreateApiToken(
        self, request: access_pb.CreateApiTokenRequest, context: Context
    ) -> access_pb.CreateApiTokenResponse:
        return await self.admin.create_api_token(request.api_token, event_context(context, request.reason))

    async def RevokeApiToken(self, request: access_pb.RevokeApiTokenRequest, context: Context) -> access_pb.ApiToken:
        return await self.admin.revoke_api_token(request.name, event_context(context, request.reason))

    async def ListApiTokens(self, request: access_pb.ListApiTokensRequest, context: Context) -> access_pb.ListApiTokensResponse:
        return await self.admin.list_api_tokens(request)

    async def ListAccessEvents(
        self, request: access_pb.ListAccessEventsRequest, context: Context
    ) -> access_pb.ListAccessEventsResponse:
        return await self.admin.list_access_events(request)
