"""The registry's half of the promotion saga: apply governance's decisions.

TransitionStage into a governed stage records PromotionRequested and leaves the version
pending. Governance publishes PromotionApproved or PromotionRejected; this handler, run by an
EventConsumer inside its inbox transaction, records PromotionResolved and, on approval, the
stage change that archives the version serving before.
"""

from __future__ import annotations

import logging

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common.cloudevents import ReceivedEvent
from modelward_common.eventstore import EventContext
from modelward_protos.events.v1 import governance_events_pb2 as gov
from modelward_protos.events.v1 import registry_events_pb2 as ev
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.adapters import repository as repo
from modelward_registry.domain.decisions import stage_change_events
from modelward_registry.service_layer.registry import Registry

logger = logging.getLogger(__name__)

GOVERNANCE_ACTOR = "service:governance"


class PromotionDecisionHandler:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def __call__(self, connection: AsyncConnection, event: ReceivedEvent) -> None:
        if event.type == "PromotionApproved":
            decision: gov.PromotionApproved | gov.PromotionRejected = gov.PromotionApproved.FromString(event.payload)
            approved = True
        elif event.type == "PromotionRejected":
            decision = gov.PromotionRejected.FromString(event.payload)
            approved = False
        else:
            return
        aggregate = await repo.load_aggregate(connection, uid=decision.model_uid, versions=[decision.version])
        if aggregate is None or decision.version not in aggregate.versions:
            logger.warning(
                "decision %s names model %s version %d, which the registry does not have; ignoring it",
                event.event_id, decision.model_uid, decision.version,
            )
            return
        version = aggregate.versions[decision.version]
        if version.pending_stage != decision.target_stage:
            logger.info(
                "decision %s on %s v%d arrived but no promotion to that stage is pending; nothing to apply",
                event.event_id, aggregate.model_id, decision.version,
            )
            return
        if aggregate.production_version and aggregate.production_version != decision.version:
            await repo.load_versions(connection, aggregate, [aggregate.production_version])
        events: list[Message] = [
            ev.PromotionResolved(
                model_uid=aggregate.uid, version=decision.version, target_stage=decision.target_stage,
                approved=approved, decision_event_id=event.event_id,
            )
        ]
        if approved and aggregate.model.state == res.MODEL_STATE_ACTIVE:
            events += stage_change_events(aggregate, decision.version, decision.target_stage)
        context = EventContext(
            actor=GOVERNANCE_ACTOR,
            reason=f"promotion {'approved' if approved else 'rejected'} by governance ({decision.promotion})",
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
        )
        await self.registry.record(connection, aggregate, events, context)
