"""RegistryService over gRPC: translates requests into use-case calls and results into messages."""

from __future__ import annotations

import grpc

from modelward_common.auth.scope import current_model_scope
from modelward_common.eventstore import EventContext
from modelward_common.grpc_server import caller_principal, metadata_value, request_id_var
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.domain.names import parse_model_name, parse_version_name
from modelward_registry.domain.validation import check_etag
from modelward_registry.service_layer.queries import RegistryQueries
from modelward_registry.service_layer.registry import Idempotency, Registry, request_fingerprint

Context = grpc.aio.ServicerContext


def event_context(context: Context, reason: str) -> EventContext:
    request_id = request_id_var.get()
    return EventContext(
        actor=caller_principal(context),
        reason=reason,
        correlation_id=request_id if request_id != "-" else "",
        causation_id=request_id if request_id != "-" else "",
        traceparent=metadata_value(context, "traceparent")[:128],
    )


def idempotency(method: str, request: rpc.CreateModelRequest | rpc.CreateModelVersionRequest) -> Idempotency | None:
    if not request.request_id:
        return None
    return Idempotency(method, request.request_id, request_fingerprint(request))


class RegistryServicer(rpc_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry, queries: RegistryQueries) -> None:
        self.registry = registry
        self.queries = queries

    # --- models -----------------------------------------------------------------------------

    async def CreateModel(self, request: rpc.CreateModelRequest, context: Context) -> res.Model:
        return await self.registry.create_model(
            request.model_id, request.model, event_context(context, request.reason), idempotency("CreateModel", request)
        )

    async def GetModel(self, request: rpc.GetModelRequest, context: Context) -> res.Model:
        return await self.registry.get_model(parse_model_name(request.name))

    async def ListModels(self, request: rpc.ListModelsRequest, context: Context) -> rpc.ListModelsResponse:
        return await self.queries.list_models(request, current_model_scope())

    async def UpdateModel(self, request: rpc.UpdateModelRequest, context: Context) -> res.Model:
        model_id = parse_model_name(request.model.name, "model.name")
        check_etag(request.model.etag, "model.etag")
        return await self.registry.update_model(
            model_id, request.model, list(request.update_mask.paths), event_context(context, request.reason)
        )

    async def RenameModel(self, request: rpc.RenameModelRequest, context: Context) -> res.Model:
        check_etag(request.etag)
        return await self.registry.rename_model(
            parse_model_name(request.name), request.new_model_id, request.etag, event_context(context, request.reason)
        )

    async def ArchiveModel(self, request: rpc.ArchiveModelRequest, context: Context) -> res.Model:
        check_etag(request.etag)
        return await self.registry.archive_model(
            parse_model_name(request.name), request.etag, event_context(context, request.reason)
        )

    async def DeleteModel(self, request: rpc.DeleteModelRequest, context: Context) -> res.Model:
        check_etag(request.etag)
        return await self.registry.delete_model(
            parse_model_name(request.name), request.etag, event_context(context, request.reason)
        )

    async def SetModelTags(self, request: rpc.SetModelTagsRequest, context: Context) -> res.Model:
        return await self.registry.set_model_tags(
            parse_model_name(request.name), dict(request.tags), event_context(context, request.reason)
        )

    async def DeleteModelTags(self, request: rpc.DeleteModelTagsRequest, context: Context) -> res.Model:
        return await self.registry.delete_model_tags(
            parse_model_name(request.name), list(request.keys), event_context(context, request.reason)
        )

    # --- versions ---------------------------------------------------------------------------

    async def CreateModelVersion(self, request: rpc.CreateModelVersionRequest, context: Context) -> res.ModelVersion:
        return await self.registry.create_version(
            parse_model_name(request.parent, "parent"),
            request.model_version,
            event_context(context, request.reason),
            idempotency("CreateModelVersion", request),
        )

    async def GetModelVersion(self, request: rpc.GetModelVersionRequest, context: Context) -> res.ModelVersion:
        name = parse_version_name(request.name)
        return await self.registry.get_version(name.model_id, name.version)

    async def ListModelVersions(self, request: rpc.ListModelVersionsRequest, context: Context) -> rpc.ListModelVersionsResponse:
        return await self.queries.list_versions(request, current_model_scope())

    async def UpdateModelVersion(self, request: rpc.UpdateModelVersionRequest, context: Context) -> res.ModelVersion:
        name = parse_version_name(request.model_version.name, "model_version.name")
        check_etag(request.model_version.etag, "model_version.etag")
        return await self.registry.update_version(
            name.model_id, name.version, request.model_version, list(request.update_mask.paths),
            event_context(context, request.reason),
        )

    async def SetModelVersionTags(self, request: rpc.SetModelVersionTagsRequest, context: Context) -> res.ModelVersion:
        name = parse_version_name(request.name)
        return await self.registry.set_version_tags(
            name.model_id, name.version, dict(request.tags), event_context(context, request.reason)
        )

    async def DeleteModelVersionTags(self, request: rpc.DeleteModelVersionTagsRequest, context: Context) -> res.ModelVersion:
        name = parse_version_name(request.name)
        return await self.registry.delete_version_tags(
            name.model_id, name.version, list(request.keys), event_context(context, request.reason)
        )

    # --- aliases and stages -----------------------------------------------------------------

    async def SetAlias(self, request: rpc.SetAliasRequest, context: Context) -> res.ModelVersion:
        name = parse_version_name(request.name)
        return await self.registry.set_alias(name.model_id, name.version, request.alias, event_context(context, request.reason))

    async def DeleteAlias(self, request: rpc.DeleteAliasRequest, context: Context) -> rpc.DeleteAliasResponse:
        version = await self.registry.delete_alias(
            parse_model_name(request.model, "model"), request.alias, event_context(context, request.reason)
        )
        return rpc.DeleteAliasResponse(version=version)

    async def ResolveAlias(self, request: rpc.ResolveAliasRequest, context: Context) -> res.ModelVersion:
        return await self.registry.resolve_alias(parse_model_name(request.model, "model"), request.alias)

    async def TransitionStage(self, request: rpc.TransitionStageRequest, context: Context) -> res.ModelVersion:
        name = parse_version_name(request.name)
        archive_existing = request.archive_existing if request.HasField("archive_existing") else True
        check_etag(request.etag)
        return await self.registry.transition_stage(
            name.model_id, name.version, request.stage,
            archive_existing=archive_existing, etag=request.etag, context=event_context(context, request.reason),
        )

    # --- history ----------------------------------------------------------------------------

    async def GetModelHistory(self, request: rpc.GetModelHistoryRequest, context: Context) -> rpc.GetModelHistoryResponse:
        return await self.queries.history(request)
