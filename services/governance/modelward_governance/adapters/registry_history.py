"""Read a model's events from the registry's GetModelHistory, to fill gaps in the event feed."""

from __future__ import annotations

import datetime as dt
import logging

import grpc

from modelward_common.cloudevents import ReceivedEvent
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc

logger = logging.getLogger(__name__)


class RegistryHistory:
    """A HistorySource over the registry's gRPC API."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout: float = 10.0) -> None:
        self.stub = rpc_grpc.RegistryServiceStub(channel)
        self.timeout = timeout

    async def events_between(self, stream_id: str, after_version: int, before_version: int) -> list[ReceivedEvent]:
        name = await self._model_name(stream_id, after_version, before_version)
        events: list[ReceivedEvent] = []
        token = ""
        while True:
            page = await self.stub.GetModelHistory(
                rpc.GetModelHistoryRequest(
                    name=name, after_stream_version=after_version, page_size=1000, page_token=token
                ),
                timeout=self.timeout,
            )
            for entry in page.entries:
                if entry.stream_version >= before_version:
                    return events
                events.append(
                    ReceivedEvent(
                        event_id=entry.event_id,
                        type=entry.type,
                        source="urn:modelward:registry",
                        subject=entry.subject,
                        time=entry.time.ToDatetime(tzinfo=dt.UTC),
                        stream_id=page.stream_id,
                        stream_version=entry.stream_version,
                        position=entry.global_position,
                        actor=entry.actor,
                        correlation_id=entry.correlation_id,
                        causation_id=entry.causation_id,
                        traceparent="",
                        payload=entry.payload,
                    )
                )
            token = page.next_page_token
            if not token:
                return events

    async def _model_name(self, stream_id: str, after_version: int, before_version: int) -> str:
        # History is addressed by name, and a name can change; the stream id (uid) cannot.
        page = await self.stub.ListModels(
            rpc.ListModelsRequest(filter=f'uid = "{stream_id}"', show_deleted=True, page_size=1), timeout=self.timeout
        )
        if not page.models:
            raise LookupError(f"the registry has no model with uid {stream_id}")
        logger.info(
            "reading versions %d to %d of %s from the registry's history", after_version + 1, before_version - 1, page.models[0].name
        )
        return page.models[0].name
