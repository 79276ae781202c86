"""Apply governance's PrincipalDeactivated and PrincipalReactivated to `principal_states`.

Governance owns whether a principal is active. The registry keeps its own copy, so its
CallGuard rejects a deactivated principal without asking governance. The EventConsumer runs this
inside its inbox transaction, so each event applies once and the copy survives restarts.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common.cloudevents import ReceivedEvent
from modelward_common.principals import PRINCIPAL_RULE, is_valid_principal
from modelward_protos.events.v1 import governance_events_pb2 as gov
from modelward_registry.adapters.schema import principal_states_table

logger = logging.getLogger(__name__)

PRINCIPAL_EVENT_TYPES = {"PrincipalDeactivated": False, "PrincipalReactivated": True}

# The principals the registry's CallGuard rejects.
INACTIVE_PRINCIPALS = sa.select(principal_states_table.c.principal).where(principal_states_table.c.active.is_(False))


async def apply_principal_event(connection: AsyncConnection, event: ReceivedEvent) -> bool:
    """Record the state an event of a principal's stream sets; return False when it came too late.

    The registry's consumer of governance's stream is unordered, so a redelivered older event
    can arrive after a newer one. The stored stream version keeps the newest state.
    """
    active = PRINCIPAL_EVENT_TYPES[event.type]
    message = gov.PrincipalReactivated if active else gov.PrincipalDeactivated
    payload = message.FromString(event.payload)
    if not is_valid_principal(payload.principal):
        # Raising makes the consumer retry the event and then park it as a dead letter.
        raise ValueError(f"{event.type} {event.event_id} names principal {payload.principal!r}; expected {PRINCIPAL_RULE}")
    table = principal_states_table
    row = {
        "active": active, "stream_version": event.stream_version, "event_id": event.event_id,
        "reason": payload.reason, "changed_by": payload.changed_by or event.actor, "update_time": event.time,
    }
    # The version condition sits in the UPDATE itself, so PostgreSQL checks it again after
    # waiting for a replica that updates the same row.
    updated = await connection.execute(
        table.update()
        .where(table.c.principal == payload.principal, table.c.stream_version < event.stream_version)
        .values(row)
    )
    if updated.rowcount == 0:
        stored = await connection.scalar(sa.select(table.c.stream_version).where(table.c.principal == payload.principal))
        if stored is not None:
            logger.info(
                "%s %s of %s is version %d of its stream, but version %d is applied; skipping it",
                event.type, event.event_id, payload.principal, event.stream_version, stored,
            )
            return False
        await connection.execute(table.insert().values(principal=payload.principal, **row))
    logger.info("principal %s is now %s (event %s)", payload.principal, "active" if active else "inactive", event.event_id)
    return True
