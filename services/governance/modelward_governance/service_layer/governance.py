"""Governance use cases: apply registry events, decide promotions, manage policies and principals.

Every change runs in one transaction that updates governance's state and appends its own events
to its outbox; the relay publishes them after commit. Registry events arrive through an
EventConsumer, whose inbox row commits in the same transaction.

Rules that depend on time are evaluated at the event's time (`ce-time`), not the clock, so a
replay of the same events into an empty database reaches the same state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common import eventstore
from modelward_common.auth.store import global_admins, lock_admins
from modelward_common.cloudevents import ReceivedEvent
from modelward_common.db import is_unique_violation, transaction
from modelward_common.errors import Aborted, FailedPrecondition, NotFound
from modelward_common.eventstore import ConcurrencyConflict, EventContext, NewEvent
from modelward_common.timeutil import utc_now
from modelward_governance import events as gov_events
from modelward_governance.adapters import store
from modelward_governance.domain import promotion as promotions
from modelward_governance.domain.evaluation import ModelEvaluation, evaluate_model
from modelward_governance.domain.findings import (
    Finding,
    FindingChanges,
    FindingKind,
    reconcile_findings,
    reconcile_policy_findings,
)
from modelward_governance.domain.orphans import (
    OrphanConfig,
    OrphanReason,
    OrphanReasonCode,
    OrphanStatus,
    assess_orphan,
    orphan_finding_drafts,
)
from modelward_governance.domain.policy import Policy
from modelward_governance.domain.principals import PrincipalDirectory, check_admin_remains, never_deactivated
from modelward_governance.domain.policy_yaml import default_policy_text, parse_policy
from modelward_governance.domain.portfolio import (
    STAGE_FROM_PROTO,
    PortfolioModel,
    apply_registry_event,
    parse_registry_event,
    record_approval,
)
from modelward_governance.service_layer.queries import open_alerts_of
from modelward_governance.domain.redundancy import (
    MatchKind,
    RedundancyChanges,
    RedundancyConfig,
    RedundancyIndex,
    RedundancyMatch,
    RedundancyPair,
    reconcile_redundancy,
    redundancy_finding_drafts,
    subject_for_model,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
EventItem = tuple[str, Message, str]

POLICY_STREAM = "policy"


def principal_stream(principal: str) -> str:
    return "principal:" + hashlib.sha256(principal.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class GovernanceSettings:
    orphans: OrphanConfig = field(default_factory=OrphanConfig)
    redundancy: RedundancyConfig = field(default_factory=RedundancyConfig)
    # YAML text of the policy installed as revision 1 when the database has none.
    initial_policy: str = ""
    max_conflict_retries: int = 8
    # True when a caller keeps admin rights whichever principals are inactive: a bootstrap admin
    # token is configured, or authentication is off. Otherwise the last active global admin
    # cannot be deactivated.
    admin_fallback: bool = False


@dataclass(frozen=True)
class ModelOutcome:
    """What one re-evaluation of a model decided."""

    model: PortfolioModel
    evaluation: ModelEvaluation
    orphan: OrphanStatus
    open_findings: tuple[Finding, ...]


@dataclass
class _BatchSnapshot:
    """State read once at the start of a consumer transaction and shared by its events.

    Valid only inside that transaction: the portfolio rows are locked by it, and the policy and
    principal directory are those it read.
    """

    connection: AsyncConnection
    policy: Policy
    principals: PrincipalDirectory
    # Latest state of each model of the batch, None for models not in the portfolio yet.
    models: dict[str, PortfolioModel | None]
    # Open findings and flagged pairs of the batch's models as the batch began. Each entry is
    # used once and dropped, and dropped as well when another model's change touches it, so a
    # later read of the same model goes to the database and sees the batch's own writes.
    findings: dict[str, list[Finding]]
    flagged: dict[str, list[RedundancyPair]]
    # Portfolio rows and findings saved by the batch and not written yet, by model uid and
    # finding id. They are written in one statement each before anything reads those tables
    # from the database again, and before the commit.
    # The last saved state of each model: a model that several events of the batch change is
    # encoded once, when the batch writes it.
    unsaved_rows: dict[str, tuple[PortfolioModel, dict[str, Any]]] = field(default_factory=dict)
    unsaved_findings: dict[str, Finding] = field(default_factory=dict)
    # Version of each event stream the batch appends to, counting the events not written yet,
    # which are appended in one insert before the commit.
    stream_versions: dict[str, int] = field(default_factory=dict)
    unsaved_events: list[eventstore.PendingAppend] = field(default_factory=list)
    # Events the batch appended before its commit, for the relay once the commit succeeds.
    appended: list[eventstore.StoredEvent] = field(default_factory=list)


class Governance:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: GovernanceSettings | None = None,
        *,
        on_commit: Callable[[], None] = lambda: None,
        on_principals_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.settings = settings or GovernanceSettings()
        self.on_commit = on_commit
        self.on_principals_change = on_principals_change
        self.index = RedundancyIndex(self.settings.redundancy)
        self._policy: Policy | None = None
        # Matches of the latest redundancy check per model, read when mirroring its findings.
        self._last_matches: dict[str, tuple[RedundancyMatch, ...]] = {}
        self._snapshot: _BatchSnapshot | None = None

    # --- start-up ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Install the first policy if none exists and load the redundancy index."""
        async def load(connection: AsyncConnection) -> list[PortfolioModel]:
            # A failed attempt may have kept its own policy; the one that committed wins.
            self._policy = None
            if await store.current_policy_row(connection) is None:
                text = self.settings.initial_policy or default_policy_text()
                await self._install_policy(connection, text, author="service:governance", reason="initial policy", at=utc_now())
            return await store.all_models(connection)

        # Replicas starting together on a new database race to install the first policy. The
        # loser's insert conflicts, so execute() runs `load` again, which then finds the policy.
        models = await self.execute("loading governance state", load)
        for model in models:
            subject = subject_for_model(model)
            if subject is not None:
                self.index.upsert(subject)
        self.index.compact()
        self.on_commit()
        logger.info("governance loaded %d models into the redundancy index", len(models))

    # --- plumbing ---------------------------------------------------------------------------

    async def execute(self, operation: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        for attempt in range(1, self.settings.max_conflict_retries + 1):
            try:
                async with transaction(self.engine, operation) as connection:
                    result = await work(connection)
            except ConcurrencyConflict as conflict:
                logger.info("%s: %s (attempt %d)", operation, conflict.message, attempt)
                continue
            except exc.IntegrityError as error:
                if not is_unique_violation(error):
                    raise
                logger.info("%s: unique key taken concurrently (attempt %d)", operation, attempt)
                continue
            self.on_commit()
            return result
        raise Aborted(f"{operation} kept conflicting with concurrent changes; retry the request", reason="TOO_MUCH_CONTENTION")

    async def record(self, connection: AsyncConnection, stream_id: str, items: Sequence[EventItem], context: EventContext, at: datetime) -> None:
        if not items:
            return
        snapshot = self._snapshot_of(connection)
        if snapshot is not None and stream_id in snapshot.stream_versions:
            expected = snapshot.stream_versions[stream_id]
        else:
            expected = await _stream_version(connection, stream_id)
        new_events = [
            NewEvent(type=event_type, payload=message.SerializeToString(), subject=subject, event_id=_event_id(context, stream_id, expected + offset))
            for offset, (event_type, message, subject) in enumerate(items)
        ]
        pending = eventstore.PendingAppend(stream_id, expected, new_events, context, at)
        if snapshot is None:
            _log_recorded(await eventstore.append_many(connection, [pending]))
            return
        snapshot.unsaved_events.append(pending)
        snapshot.stream_versions[stream_id] = expected + len(new_events)

    async def policy(self, connection: AsyncConnection) -> Policy:
        """Return the current policy, parsed again only when another revision was installed.

        Reads the newest revision number on every call, because another replica may have
        replaced the policy, except inside a consumer transaction that has read it already.
        """
        snapshot = self._snapshot_of(connection)
        if snapshot is not None:
            return snapshot.policy
        return await self._policy_at(connection, await store.current_policy_revision(connection))

    async def _policy_at(self, connection: AsyncConnection, revision: int | None) -> Policy:
        """Return the policy of `revision`, the newest one read, parsed again only when it changed."""
        if revision is None:
            raise FailedPrecondition("no policy is installed; replace the policy first", reason="NO_POLICY")
        if self._policy is None or self._policy.revision != revision:
            row = await store.policy_row(connection, revision)
            assert row is not None
            self._policy = parse_policy(row["text"], source=f"policies/{revision}", revision=revision)
        return self._policy

    async def _principals(self, connection: AsyncConnection) -> PrincipalDirectory:
        snapshot = self._snapshot_of(connection)
        if snapshot is not None:
            return snapshot.principals
        return await store.principal_directory(connection)

    def _snapshot_of(self, connection: AsyncConnection) -> _BatchSnapshot | None:
        snapshot = self._snapshot
        return snapshot if snapshot is not None and snapshot.connection is connection else None

    async def prepare_batch(self, connection: AsyncConnection, events: Sequence[ReceivedEvent]) -> None:
        """Lock and read the models of a consumer transaction's events, the policy and the principals once.

        Runs before any of the events applies, so the transaction locks these portfolio rows
        before it takes the event store's append lock, in the same order as an RPC that changes
        one model. Rows of other models that a redundancy change updates are locked later; if
        that deadlocks, the batch rolls back and the consumer applies its events one by one.
        """
        self._snapshot = None
        uids = {event.stream_id for event in events}
        models: dict[str, PortfolioModel | None] = dict.fromkeys(uids)
        models.update(await store.lock_models(connection, uids))
        reads = await store.batch_reads(connection, uids)
        policy = await self._policy_at(connection, reads.policy_revision)
        self._snapshot = _BatchSnapshot(
            connection, policy, reads.principals, models, reads.findings, reads.flagged,
            stream_versions=reads.stream_versions,
        )

    async def finish_batch(self, connection: AsyncConnection) -> None:
        """Write what the consumer transaction's events left unsaved; runs before its commit."""
        await self._write_unsaved(connection)
        snapshot = self._snapshot_of(connection)
        if snapshot is not None and snapshot.unsaved_events:
            pending = list(snapshot.unsaved_events)
            snapshot.unsaved_events.clear()
            # Appended last, so the event store's append lock is held only until the commit.
            stored = await eventstore.append_many(connection, pending)
            snapshot.appended.extend(stored)
            _log_recorded(stored)

    def appended_by(self, connection: AsyncConnection) -> list[eventstore.StoredEvent]:
        """Return the events that finish_batch appended in the consumer transaction of `connection`.

        Call it only once that transaction has committed. It returns nothing when another
        consumer transaction has started since, and the relay then reads those events from the outbox.
        """
        snapshot = self._snapshot_of(connection)
        return snapshot.appended if snapshot is not None else []

    async def _write_unsaved(self, connection: AsyncConnection) -> None:
        """Write the batch's unsaved portfolio rows and findings, so reads see them."""
        snapshot = self._snapshot_of(connection)
        if snapshot is None:
            return
        if snapshot.unsaved_rows:
            rows = [store.portfolio_row(model, **state) for model, state in snapshot.unsaved_rows.values()]
            snapshot.unsaved_rows.clear()
            await store.save_model_rows(connection, rows)
        if snapshot.unsaved_findings:
            findings = list(snapshot.unsaved_findings.values())
            snapshot.unsaved_findings.clear()
            await store.save_findings(connection, findings)

    async def _save_findings(self, connection: AsyncConnection, findings: Sequence[Finding]) -> None:
        snapshot = self._snapshot_of(connection)
        if snapshot is None:
            await store.save_findings(connection, findings)
            return
        for finding in findings:
            snapshot.unsaved_findings[finding.finding_id] = finding

    async def _save_model(self, connection: AsyncConnection, model: PortfolioModel, **state: Any) -> None:
        snapshot = self._snapshot_of(connection)
        if snapshot is None:
            await store.save_model_rows(connection, [store.portfolio_row(model, **state)])
        else:
            snapshot.unsaved_rows[model.uid] = (model, state)

    async def _open_findings(self, connection: AsyncConnection, model_uid: str) -> list[Finding]:
        snapshot = self._snapshot_of(connection)
        if snapshot is not None and model_uid in snapshot.findings:
            return snapshot.findings.pop(model_uid)
        await self._write_unsaved(connection)
        return await store.open_findings(connection, model_uid)

    async def _flagged_pairs(self, connection: AsyncConnection, model_uid: str) -> list[RedundancyPair]:
        snapshot = self._snapshot_of(connection)
        if snapshot is not None and model_uid in snapshot.flagged:
            return snapshot.flagged.pop(model_uid)
        return await store.flagged_pairs(connection, model_uid)

    def _forget(self, connection: AsyncConnection, model_uids: set[str]) -> None:
        """Drop what the batch read about these models, because this transaction changed it."""
        snapshot = self._snapshot_of(connection)
        if snapshot is None:
            return
        for uid in model_uids:
            snapshot.findings.pop(uid, None)
            snapshot.flagged.pop(uid, None)

    async def _install_policy(self, connection: AsyncConnection, text: str, *, author: str, reason: str, at: datetime) -> Policy:
        current = await store.current_policy_row(connection)
        revision = 1 if current is None else current["revision"] + 1
        policy = parse_policy(text, source=f"policies/{revision}", revision=revision)
        await store.insert_policy(connection, revision=revision, text=text, sha256=policy.sha256, author=author, reason=reason, at=at)
        previous = None
        if current is not None:
            previous = parse_policy(current["text"], source=f"policies/{current['revision']}", revision=current["revision"])
        context = EventContext(actor=author, reason=reason)
        items = gov_events.policy_changed_events(policy, author=author, reason=reason, previous=previous)
        await self.record(connection, POLICY_STREAM, items, context, at)
        self._policy = policy
        return policy

    # --- registry events --------------------------------------------------------------------

    async def handle_registry_event(self, connection: AsyncConnection, event: ReceivedEvent) -> None:
        """Apply one registry event: update the portfolio, promotions, findings and flags."""
        parsed = parse_registry_event(f"modelward.registry.v1.{event.type}", event.payload)
        at = event.time
        snapshot = self._snapshot_of(connection)
        if snapshot is not None and event.stream_id in snapshot.models:
            before = snapshot.models[event.stream_id]
        else:
            before = await store.load_model(connection, event.stream_id, for_update=True)
        model = apply_registry_event(before, parsed, at)
        context = EventContext(actor="service:governance", correlation_id=event.correlation_id, causation_id=event.event_id)
        items: list[EventItem] = []
        policy = await self.policy(connection)

        if event.type == "PromotionRequested":
            model, promotion_items = await self._open_promotion(connection, model, parsed, event, policy)
            items += promotion_items
        items += await self.reevaluate(connection, model, policy, at, context)
        await self.record(connection, model.uid, items, context, at)
        if snapshot is not None:
            snapshot.models[model.uid] = model

    async def _open_promotion(
        self, connection: AsyncConnection, model: PortfolioModel, parsed: Any, event: ReceivedEvent, policy: Policy
    ) -> tuple[PortfolioModel, list[EventItem]]:
        promotion_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"modelward:promotion:{event.event_id}"))
        opened = promotions.request_promotion(
            promotion_id=promotion_id,
            model=model,
            version=parsed.version,
            target_stage=STAGE_FROM_PROTO[parsed.target_stage],
            requested_by=parsed.requested_by or event.actor,
            requested_at=event.time,
            archive_existing=parsed.archive_existing,
        )
        update = promotions.run_checks(opened, policy, model, now=event.time)
        await store.save_promotion(connection, update.promotion)
        model = self._after_promotion(model, update)
        return model, gov_events.promotion_events(update, model_name=model.name)

    def _after_promotion(self, model: PortfolioModel, update: promotions.PromotionUpdate) -> PortfolioModel:
        for domain_event in update.events:
            if isinstance(domain_event, promotions.PromotionApproved):
                promotion = domain_event.promotion
                at = promotion.resolved_at or promotion.requested_at
                model = record_approval(model, promotion.version, promotion.approvers, at)
        return model

    async def reevaluate(
        self,
        connection: AsyncConnection,
        model: PortfolioModel,
        policy: Policy,
        at: datetime,
        context: EventContext | None = None,
    ) -> list[EventItem]:
        """Evaluate policy, orphan and redundancy rules for a model, save it, return events."""
        open_findings = await self._open_findings(connection, model.uid)
        evaluation = evaluate_model(policy, model, now=at, open_alerts=open_alerts_of(open_findings))
        policy_changes = reconcile_policy_findings(open_findings, evaluation)

        principals = await self._principals(connection)
        orphan = assess_orphan(model, principals, at, self.settings.orphans)
        previous_orphan = _orphan_status_from(model.uid, open_findings)
        orphan_changes = reconcile_findings(
            [f for f in open_findings if f.key.kind is FindingKind.ORPHANED_MODEL],
            orphan_finding_drafts(orphan, self.settings.orphans),
            now=at,
            resolution_for=lambda finding: f"{model.name} has an active owner again" if "owner" in finding.key.check_id else f"{model.name} shows activity again",
        )

        redundancy_changes, redundancy_findings = await self._check_redundancy(connection, model, open_findings, at)

        changes = [policy_changes, orphan_changes, redundancy_findings]
        await self._save_findings(connection, [f for c in changes for f in (*c.opened, *c.resolved, *c.kept)])
        still_open = [f for f in open_findings if not any(r.finding_id == f.finding_id for c in changes for r in c.resolved)]
        now_open = (*still_open, *(f for c in changes for f in c.opened))
        await self._save_model(
            connection, model, orphaned=orphan.orphaned, compliant=evaluation.compliant, open_findings=len(now_open)
        )

        items: list[EventItem] = []
        items += gov_events.finding_events(policy_changes, model_name=model.name, policy_revision=policy.revision)
        items += gov_events.orphan_events(model, previous_orphan, orphan, findings=orphan_changes)
        items += gov_events.finding_events(orphan_changes, model_name=model.name, policy_revision=policy.revision)
        names = {model.uid: f"models/{model.model_id}"}
        others = _uids_in(redundancy_changes) - {model.uid}
        if others:
            await self._write_unsaved(connection)
            names.update(await store.model_names(connection, others))
        items += gov_events.redundancy_events(model.uid, redundancy_changes, model_names=names, findings=redundancy_findings)
        items += gov_events.finding_events(redundancy_findings, model_name=model.name, policy_revision=policy.revision)
        await self.mirror_redundancy(connection, model, redundancy_changes, at, context or EventContext(actor="service:governance"))
        return items

    async def _check_redundancy(
        self, connection: AsyncConnection, model: PortfolioModel, open_findings: Sequence[Finding], at: datetime
    ) -> tuple[RedundancyChanges, FindingChanges]:
        subject = subject_for_model(model)
        flagged = await self._flagged_pairs(connection, model.uid)
        if subject is None:
            self.index.remove(model.uid)
            matches: tuple[RedundancyMatch, ...] = ()
        else:
            matches = self.index.check(subject, flagged)
            # Each new partner is read from the database before its pair is flagged. A refreshed
            # entry can change the choice, and the next choice may bring partners not yet read.
            already, refreshed = set(flagged), set[str]()
            while partners := {match.other_model_uid for match in matches if match.pair not in already} - refreshed:
                refreshed |= partners
                if not await self._refresh_index(connection, partners):
                    break
                matches = self.index.check(subject, flagged)
        self._last_matches[model.uid] = matches
        changes = reconcile_redundancy(model.uid, flagged, matches)
        await store.flag_pairs(connection, changes.detected)
        await store.clear_pairs(connection, changes.cleared)
        self._forget(connection, _uids_in(changes))
        finding_changes = reconcile_findings(
            [f for f in open_findings if f.key.kind is FindingKind.REDUNDANT_MODEL],
            redundancy_finding_drafts(matches),
            now=at,
            resolution_for=lambda finding: "the models no longer match",
        )
        return changes, finding_changes

    async def _refresh_index(self, connection: AsyncConnection, model_uids: set[str]) -> bool:
        """Update the index's entries of these models to the database's versions; return whether
        any entry changed. A check calls it before it flags new pairs with them.

        Each replica's index follows the events that replica applies. A model last changed on
        another replica can therefore be indexed here with an older version, and a pair flagged
        from that entry would open findings on two models that no longer match.
        """
        await self._write_unsaved(connection)
        models = await store.load_models(connection, model_uids)
        changed = False
        for uid in sorted(model_uids):
            subject = subject_for_model(models[uid]) if uid in models else None
            if subject is None:
                changed |= self.index.remove(uid)
            elif not self.index.is_indexed(subject):
                self.index.upsert(subject)
                changed = True
        return changed

    async def mirror_redundancy(
        self, connection: AsyncConnection, model: PortfolioModel, changes: RedundancyChanges, at: datetime, context: EventContext
    ) -> None:
        """Open or resolve the same pair's finding on the other model of each changed pair.

        Each model of a redundant pair carries a finding, so the end state does not depend on
        which of the two was checked last.
        """
        others = {match.other_model_uid for match in changes.detected}
        others |= {uid for pair in changes.cleared for uid in pair.model_uids if uid != model.uid}
        if not others:
            return
        await self._write_unsaved(connection)
        policy_revision = (await self.policy(connection)).revision
        # Only the findings of these pairs: a model in many pairs has many open findings.
        check_ids = [f"redundant.{kind.value}.{model.uid}" for kind in MatchKind]
        their_open = await store.open_findings_with_checks(connection, others, FindingKind.REDUNDANT_MODEL, check_ids)
        mirrored: dict[str, FindingChanges] = {}
        for other in sorted(others):
            still_matching = [_mirrored(match) for match in self._current_pairs_with(model.uid, other)]
            changes_of_other = reconcile_findings(
                their_open[other], redundancy_finding_drafts(still_matching), now=at,
                resolution_for=lambda finding: f"{model.name} no longer matches",
            )
            if changes_of_other.changed:
                mirrored[other] = changes_of_other
        if not mirrored:
            return
        self._forget(connection, set(mirrored))
        await store.save_findings(connection, [f for changed in mirrored.values() for f in (*changed.opened, *changed.resolved)])
        await store.refresh_open_findings(connection, mirrored.keys())
        names = await store.model_names(connection, set(mirrored))
        await self._read_stream_versions(connection, mirrored.keys())
        for other, changes_of_other in mirrored.items():
            items = gov_events.finding_events(changes_of_other, model_name=names.get(other, ""), policy_revision=policy_revision)
            await self.record(connection, other, items, context, at)

    async def _read_stream_versions(self, connection: AsyncConnection, stream_ids: Iterable[str]) -> None:
        """Read the versions of the streams the batch has not read yet, in one query, for `record`."""
        snapshot = self._snapshot_of(connection)
        if snapshot is None:
            return
        missing = [stream_id for stream_id in stream_ids if stream_id not in snapshot.stream_versions]
        if missing:
            snapshot.stream_versions.update(await eventstore.stream_versions(connection, missing))

    def _current_pairs_with(self, model_uid: str, other: str) -> list[RedundancyMatch]:
        return [match for match in self._last_matches.get(model_uid, ()) if match.other_model_uid == other]

    # --- reviewer decisions -----------------------------------------------------------------

    async def decide(self, promotion_id: str, reviewer: str, comment: str, *, approve: bool) -> promotions.Promotion:
        """Record a reviewer's approval or rejection of a promotion and publish the outcome."""

        async def work(connection: AsyncConnection) -> promotions.Promotion:
            promotion = await store.load_promotion(connection, promotion_id)
            if promotion is None:
                raise NotFound(f"promotion promotions/{promotion_id} not found", field="name")
            model = await store.load_model(connection, promotion.model_uid, for_update=True)
            if model is None:
                raise NotFound(f"model {promotion.model_uid} of promotions/{promotion_id} not found", field="name")
            at = utc_now()
            principals = await store.principal_directory(connection)
            decide = promotions.approve if approve else promotions.reject
            update = decide(promotion, reviewer, comment, at=at, principals=principals)
            await store.save_promotion(connection, update.promotion)
            model = self._after_promotion(model, update)
            items = gov_events.promotion_events(update, model_name=model.name)
            policy = await self.policy(connection)
            context = EventContext(actor=reviewer, reason=comment)
            items += await self.reevaluate(connection, model, policy, at, context)
            await self.record(connection, model.uid, items, context, at)
            return update.promotion

        return await self.execute("ApproveVersion" if approve else "RejectVersion", work)

    async def open_promotion(self, model_uid: str, version: int) -> promotions.Promotion | None:
        async with self.engine.connect() as connection:
            return await store.open_promotion_for(connection, model_uid, version)

    # --- policies ---------------------------------------------------------------------------

    async def replace_policy(self, text: str, *, author: str, reason: str, expected_revision: int = 0) -> Policy:
        """Install a new policy revision, then re-evaluate every model under it."""

        async def work(connection: AsyncConnection) -> Policy:
            current = await store.current_policy_row(connection)
            if expected_revision and current is not None and current["revision"] != expected_revision:
                raise Aborted(
                    f"the policy is at revision {current['revision']}, not {expected_revision}; "
                    "read it again and reapply your change",
                    reason="STALE_POLICY",
                )
            return await self._install_policy(connection, text, author=author, reason=reason, at=utc_now())

        policy = await self.execute("ReplacePolicy", work)
        await self.reevaluate_all(f"policy revision {policy.revision}")
        return policy

    async def reevaluate_all(self, cause: str) -> int:
        """Re-evaluate every model, each in its own transaction; return how many changed."""
        async with self.engine.connect() as connection:
            uids = [model.uid for model in await store.all_models(connection)]
        for uid in uids:
            await self.reevaluate_model(uid, cause)
        logger.info("re-evaluated %d models after %s", len(uids), cause)
        return len(uids)

    async def reevaluate_model(self, uid: str, cause: str, *, actor: str = "service:governance") -> None:
        async def work(connection: AsyncConnection) -> None:
            model = await store.load_model(connection, uid, for_update=True)
            if model is None:
                return
            at = utc_now()
            policy = await self.policy(connection)
            context = EventContext(actor=actor, reason=cause)
            items = await self.reevaluate(connection, model, policy, at, context)
            await self.record(connection, uid, items, context, at)

        await self.execute("re-evaluating a model", work)

    # --- principals -------------------------------------------------------------------------

    async def set_principal_active(self, principal: str, active: bool, *, reason: str, actor: str) -> None:
        async def work(connection: AsyncConnection) -> list[str]:
            await lock_admins(connection)
            if active and await store.principal_row(connection, principal) is None:
                raise never_deactivated(principal)
            before = await store.principal_directory(connection)
            if not active and before.is_active(principal) and not self.settings.admin_fallback:
                check_admin_remains(principal, await global_admins(connection), before)
            after = before.with_active(principal, active)
            await store.set_principal(connection, principal, active, reason, actor)
            owned = await store.models_owned_by(connection, principal)
            items = gov_events.principal_events(
                principal, before=before, after=after, reason=reason, changed_by=actor, owned_model_uids=owned
            )
            at = utc_now()
            await self.record(connection, principal_stream(principal), items, EventContext(actor=actor, reason=reason), at)
            return owned

        owned = await self.execute("SetPrincipalActive", work)
        self.on_principals_change()
        for uid in owned:
            await self.reevaluate_model(uid, f"principal {principal} marked {'active' if active else 'inactive'}", actor=actor)


def _mirrored(match: RedundancyMatch) -> RedundancyMatch:
    return dataclasses.replace(
        match,
        model_uid=match.other_model_uid,
        version=match.other_version,
        other_model_uid=match.model_uid,
        other_version=match.version,
    )


def _orphan_status_from(model_uid: str, open_findings: Sequence[Finding]) -> OrphanStatus:
    """Rebuild the last orphan status from the open ORPHANED_MODEL findings, one per reason."""
    reasons = tuple(
        OrphanReason(OrphanReasonCode(finding.key.check_id.removeprefix("orphaned.")), finding.message, finding.evidence)
        for finding in open_findings
        if finding.key.kind is FindingKind.ORPHANED_MODEL
    )
    return OrphanStatus(model_uid, reasons)


def _log_recorded(stored: Sequence[eventstore.StoredEvent]) -> None:
    for event in stored:
        logger.info("recorded %s on %s (event %s, stream %s v%d)", event.type, event.subject, event.event_id, event.stream_id, event.stream_version)


def _uids_in(changes: RedundancyChanges) -> set[str]:
    uids = {uid for pair in changes.cleared for uid in pair.model_uids}
    uids |= {match.other_model_uid for match in changes.detected}
    return uids


async def _stream_version(connection: AsyncConnection, stream_id: str) -> int:
    import sqlalchemy as sa

    value = await connection.scalar(
        sa.select(sa.func.max(eventstore.events_table.c.stream_version)).where(eventstore.events_table.c.stream_id == stream_id)
    )
    return int(value or 0)


def _event_id(context: EventContext, stream_id: str, version: int) -> str:
    """Derive the id of an event caused by another one, so a replay produces the same ids."""
    if context.causation_id:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"modelward:governance:{context.causation_id}:{stream_id}:{version}"))
    return str(uuid.uuid4())
