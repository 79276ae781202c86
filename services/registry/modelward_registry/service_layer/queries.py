"""Read-side queries of the registry: List with filters and paging, and model history."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from modelward_common import eventstore
from modelward_common.auth.scope import ModelScope
from modelward_common.db import read_connection
from modelward_common.errors import InvalidArgument
from modelward_common.timeutil import to_timestamp
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.adapters import list_queries
from modelward_registry.domain.names import parse_model_name

logger = logging.getLogger(__name__)

DEFAULT_HISTORY_PAGE = 100
MAX_HISTORY_PAGE = 1000


class RegistryQueries:
    def __init__(self, engine: AsyncEngine, token_key: bytes) -> None:
        self.engine = engine
        self.token_key = token_key

    async def list_models(self, request: rpc.ListModelsRequest, scope: ModelScope | None = None) -> rpc.ListModelsResponse:
        async with read_connection(self.engine, "ListModels") as connection:
            return await list_queries.list_models(connection, request, self.token_key, scope)

    async def list_versions(
        self, request: rpc.ListModelVersionsRequest, scope: ModelScope | None = None
    ) -> rpc.ListModelVersionsResponse:
        model_id = parse_model_name(request.parent, "parent", allow_any=True)
        async with read_connection(self.engine, "ListModelVersions") as connection:
            return await list_queries.list_versions(connection, model_id, request, self.token_key, scope)

    async def history(self, request: rpc.GetModelHistoryRequest) -> rpc.GetModelHistoryResponse:
        model_id = parse_model_name(request.name)
        if request.page_size < 0:
            raise InvalidArgument("page_size", request.page_size, "use 0 for the default or a positive number")
        if request.after_stream_version < 0:
            raise InvalidArgument("after_stream_version", request.after_stream_version, "use 0 or a positive number")
        page_size = min(request.page_size or DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE)
        async with read_connection(self.engine, "GetModelHistory") as connection:
            stream_id = await list_queries.stream_id_of(connection, model_id)
            after = request.after_stream_version
            if request.page_token:
                after = list_queries.decode_history_token(request.page_token, stream_id, self.token_key)
            events = await eventstore.read_stream(connection, stream_id, after_version=after, limit=page_size + 1)
        response = rpc.GetModelHistoryResponse(stream_id=stream_id)
        for event in events[:page_size]:
            response.entries.append(
                res.HistoryEntry(
                    event_id=event.event_id,
                    type=event.type,
                    stream_version=event.stream_version,
                    global_position=event.position,
                    time=to_timestamp(event.recorded_at),
                    actor=event.actor,
                    reason=event.reason,
                    correlation_id=event.correlation_id,
                    causation_id=event.causation_id,
                    subject=event.subject,
                    payload=event.payload,
                )
            )
        if len(events) > page_size:
            response.next_page_token = list_queries.encode_history_token(
                stream_id, events[page_size - 1].stream_version, self.token_key
            )
        return response
