"""Read the registry's events over gRPC, to fill gaps in the event feed and refill lost events.

Model streams come from GetModelHistory. Role binding and API token streams come from the
AccessService's ListAccessEvents, which also serves every access event in log order, so a lost
last event of a binding or token, which no later event reveals, is found as well.
"""

from __future__ import annotations

import datetime as dt
import logging

import grpc

from modelward_common.auth.store import ACCESS_EVENT_TYPES
from modelward_common.cloudevents import ReceivedEvent
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.access.v1 import access_service_pb2_grpc as access_grpc
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_protos.registry.v1 import resources_pb2 as res

logger = logging.getLogger(__name__)

REGISTRY_SOURCE = "urn:modelward:registry"
ACCESS_EVENTS_PAGE = 1000


class RegistryHistory:
    """A HistorySource over the registry's gRPC API."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout: float = 10.0) -> None:
        self.stub = rpc_grpc.RegistryServiceStub(channel)
        self.access = access_grpc.AccessServiceStub(channel)
        self.timeout = timeout

    async def events_between(
        self, stream_id: str, after_version: int, before_version: int, *, event_type: str
    ) -> list[ReceivedEvent]:
        if event_type in ACCESS_EVENT_TYPES:
            return await self._access_events_between(stream_id, after_version, before_version)
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
                events.append(_received(entry, page.stream_id))
            token = page.next_page_token
            if not token:
                return events

    async def access_events_after(self, after_position: int, *, page_size: int = ACCESS_EVENTS_PAGE) -> list[ReceivedEvent]:
        """Return up to `page_size` access events after a position of the registry's log, in log order."""
        page = await self.access.ListAccessEvents(
            access_pb.ListAccessEventsRequest(after_position=after_position, page_size=page_size), timeout=self.timeout
        )
        return [_received(event, event.stream_id) for event in page.events]

    async def _access_events_between(self, stream_id: str, after_version: int, before_version: int) -> list[ReceivedEvent]:
        logger.info(
            "reading versions %d to %d of access stream %s from the registry", after_version + 1, before_version - 1, stream_id
        )
        page = await self.access.ListAccessEvents(
            access_pb.ListAccessEventsRequest(stream_id=stream_id, after_stream_version=after_version, page_size=ACCESS_EVENTS_PAGE),
            timeout=self.timeout,
        )
        # A binding or token stream has at most two events, so one page contains all of them.
        return [_received(event, stream_id) for event in page.events if event.stream_version < before_version]

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


def _received(entry: res.HistoryEntry | access_pb.AccessEvent, stream_id: str) -> ReceivedEvent:
    return ReceivedEvent(
        event_id=entry.event_id,
        type=entry.type,
        source=REGISTRY_SOURCE,
        subject=entry.subject,
        time=entry.time.ToDatetime(tzinfo=dt.UTC),
        stream_id=stream_id,
        stream_version=entry.stream_version,
        position=entry.global_position,
        actor=entry.actor,
        correlation_id=entry.correlation_id,
        causation_id=entry.causation_id,
        traceparent="",
        payload=entry.payload,
    )
