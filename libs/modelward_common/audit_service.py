"""The AuditService servicer, shared by both services over their own event logs."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import grpc
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common.audit import verify_chain
from modelward_common.audit_export import ManifestBuilder, event_line, load_private_key
from modelward_common.db import read_connection
from modelward_common.errors import InvalidArgument
from modelward_common.eventstore import StoredEvent, events_table, stored_event
from modelward_common.timeutil import request_time, rfc3339, utc_now
from modelward_protos.audit.v1 import audit_service_pb2 as audit
from modelward_protos.audit.v1 import audit_service_pb2_grpc as audit_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = audit.DESCRIPTOR.services_by_name["AuditService"].full_name

# Returns the stream ids of the events an export selects by model id and team (either may be
# empty, not both), raising NotFound for an unknown model.
StreamResolver = Callable[[AsyncConnection, str, str], Awaitable[Sequence[str]]]

_MODEL_NAME = re.compile(r"models/([A-Za-z0-9][A-Za-z0-9._-]{0,127})")
_MAX_TEAM = 64
# Events per response message and the text size after which a message is sent early, well
# under the default 16 MiB message limit.
_EVENTS_PER_MESSAGE = 500
_BYTES_PER_MESSAGE = 1024 * 1024


class AuditServicer(audit_grpc.AuditServiceServicer):
    def __init__(
        self,
        engine: AsyncEngine,
        service: str,
        resolve_streams: StreamResolver,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.engine = engine
        self.service = service
        self.resolve_streams = resolve_streams
        self.signing_key = signing_key

    async def VerifyAuditLog(
        self, request: audit.VerifyAuditLogRequest, context: grpc.aio.ServicerContext
    ) -> audit.VerifyAuditLogResponse:
        async with read_connection(self.engine, "VerifyAuditLog") as connection:
            report = await verify_chain(connection)
        response = audit.VerifyAuditLogResponse(
            intact=report.intact,
            events_checked=report.events_checked,
            last_position=report.last_position,
            last_hash=report.last_hash,
        )
        if report.mismatch is not None:
            found = report.mismatch
            response.first_mismatch.CopyFrom(
                audit.ChainMismatch(
                    kind=audit.MismatchKind.Value(f"MISMATCH_KIND_{found.kind.value}"),
                    event_id=found.event_id,
                    position=found.position,
                    stream_id=found.stream_id,
                    stream_version=found.stream_version,
                    expected=found.expected,
                    found=found.found,
                    description=found.describe(),
                )
            )
        logger.info("verified %d events of the %s audit log: %s", report.events_checked, self.service,
                    "intact" if report.intact else "broken")
        return response

    async def ExportAuditLog(
        self, request: audit.ExportAuditLogRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[audit.ExportAuditLogResponse]:
        model_id, filters, condition = _parse_filters(request)
        builder = ManifestBuilder(self.service, filters)
        async with read_connection(self.engine, "ExportAuditLog") as connection:
            if model_id or request.team:
                streams = await self.resolve_streams(connection, model_id, request.team)
                condition = sa.and_(condition, events_table.c.stream_id.in_(list(streams)))
            after = 0
            while True:
                batch = await _read_batch(connection, condition, after)
                if not batch:
                    break
                lines: list[str] = []
                size = 0
                for event in batch:
                    line = event_line(event)
                    builder.add(line, event.event_hash)
                    lines.append(line)
                    size += len(line)
                    if size >= _BYTES_PER_MESSAGE:
                        yield audit.ExportAuditLogResponse(lines=lines)
                        lines, size = [], 0
                if lines:
                    yield audit.ExportAuditLogResponse(lines=lines)
                after = batch[-1].position
        yield audit.ExportAuditLogResponse(lines=[builder.manifest_line(rfc3339(utc_now()), self.signing_key)])
        logger.info("exported %d events of the %s audit log (filters %s)", builder.count, self.service, filters)


def _parse_filters(request: audit.ExportAuditLogRequest) -> tuple[str, dict[str, str], sa.ColumnElement[bool]]:
    filters: dict[str, str] = {"model": request.model, "team": request.team, "start_time": "", "end_time": ""}
    model_id = ""
    if request.model:
        match = _MODEL_NAME.fullmatch(request.model)
        if match is None:
            raise InvalidArgument("model", request.model, "use models/{model}, such as models/churn, or leave it empty")
        model_id = match.group(1)
    if len(request.team) > _MAX_TEAM:
        raise InvalidArgument("team", request.team, f"use a team name of at most {_MAX_TEAM} characters, such as growth")
    condition: sa.ColumnElement[bool] = sa.true()
    start = end = None
    if request.HasField("start_time"):
        start = _time(request, "start_time")
        filters["start_time"] = rfc3339(start)
        condition = sa.and_(condition, events_table.c.recorded_at >= start)
    if request.HasField("end_time"):
        end = _time(request, "end_time")
        filters["end_time"] = rfc3339(end)
        condition = sa.and_(condition, events_table.c.recorded_at < end)
    if start is not None and end is not None and start >= end:
        raise InvalidArgument("end_time", filters["end_time"], f"set it after start_time {filters['start_time']}")
    return model_id, filters, condition


def _time(request: audit.ExportAuditLogRequest, name: str) -> dt.datetime:
    return request_time(getattr(request, name), name)


async def _read_batch(connection: AsyncConnection, condition: sa.ColumnElement[bool], after: int) -> list[StoredEvent]:
    result = await connection.execute(
        sa.select(events_table)
        .where(condition, events_table.c.position > after)
        .order_by(events_table.c.position)
        .limit(_EVENTS_PER_MESSAGE)
    )
    return [stored_event(row) for row in result]


def add_audit_service(
    server: grpc.aio.Server, engine: AsyncEngine, service: str, resolve_streams: StreamResolver, signing_key_file: str
) -> None:
    """Serve AuditService on `server`, signing exports with the key in `signing_key_file` if set."""
    signing_key = load_private_key(signing_key_file) if signing_key_file else None
    audit_grpc.add_AuditServiceServicer_to_server(AuditServicer(engine, service, resolve_streams, signing_key), server)
    logger.info("audit exports of %s are %s", service, "signed" if signing_key else "unsigned: no signing key configured")
