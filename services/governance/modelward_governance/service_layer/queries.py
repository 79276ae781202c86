"""Read-side queries of the governance service."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelward_common.auth.scope import ModelScope
from modelward_common.db import read_connection
from modelward_common.errors import InvalidArgument, NotFound
from modelward_common.filtering import FieldType, FilterField, FilterSchema, filter_clause
from modelward_common.timeutil import utc_now
from modelward_common.paging import Page, count_rows, fetch_page, parse_order_by
from modelward_governance.adapters import codec, store
from modelward_governance.adapters.schema import findings_table, portfolio_table, promotions_table
from modelward_governance.domain.alerts import AlertKind, OpenAlert
from modelward_governance.domain.deployment import DeploymentDecision, check_deployment
from modelward_governance.domain.evaluation import ModelEvaluation, evaluate_model
from modelward_governance.domain.findings import Finding, FindingChanges, FindingKind, reconcile_policy_findings
from modelward_governance.domain.severity import Severity
from modelward_governance.domain.orphans import OrphanConfig, assess_orphan
from modelward_governance.domain.policy import Policy
from modelward_governance.domain.portfolio import ModelState, PortfolioModel, RiskTier, Stage, resolve_version
from modelward_governance.domain.promotion import Promotion
from modelward_governance.domain.redundancy import RedundancyPair

portfolio = portfolio_table.c
findings = findings_table.c
promotions = promotions_table.c


def models_in_scope(scope: ModelScope) -> sa.Select[tuple[str]]:
    """Select the uids of the portfolio's models in `scope`, to filter rows kept per model uid."""
    return sa.select(portfolio.uid).where(scope.condition(portfolio.uid, portfolio.team, portfolio.owner))

def _enum_names(members: type[enum.Enum], proto_prefix: str) -> dict[str, str]:
    """Map each spelling a filter accepts to the stored value: RISK_TIER_HIGH, HIGH and high."""
    names: dict[str, str] = {}
    for member in members:  # type: ignore[var-annotated]
        names[f"{proto_prefix}{member.name}"] = member.value
        names[member.name] = member.value
        names[member.name.lower()] = member.value
    return names


PORTFOLIO_FILTER = FilterSchema({
    "name": FilterField(portfolio.model_id, FieldType.STRING),
    "model_id": FilterField(portfolio.model_id, FieldType.STRING),
    "uid": FilterField(portfolio.uid, FieldType.STRING),
    "owner": FilterField.of_principal(portfolio.owner),
    "team": FilterField(portfolio.team, FieldType.STRING),
    "risk_tier": FilterField.enum(portfolio.risk_tier, _enum_names(RiskTier, "RISK_TIER_")),
    "state": FilterField.enum(portfolio.state, _enum_names(ModelState, "MODEL_STATE_")),
    "task_type": FilterField(portfolio.task_type, FieldType.STRING),
    "orphaned": FilterField(portfolio.orphaned, FieldType.BOOL),
    "compliant": FilterField(portfolio.compliant, FieldType.BOOL),
    "open_findings": FilterField(portfolio.open_findings, FieldType.INTEGER),
    "production_version": FilterField(portfolio.production_version, FieldType.INTEGER),
    "last_activity_time": FilterField(portfolio.last_activity_time, FieldType.TIMESTAMP),
})
PORTFOLIO_ORDER = {
    "name": portfolio.model_id,
    "model": portfolio.model_id,
    "owner": portfolio.owner,
    "team": portfolio.team,
    "risk_tier": portfolio.risk_tier,
    "open_findings": portfolio.open_findings,
    # The name of the count in PortfolioEntry, accepted beside the filter field's name.
    "open_findings_count": portfolio.open_findings,
    "last_activity_time": portfolio.last_activity_time,
}



@dataclass(frozen=True)
class PortfolioRow:
    model: PortfolioModel
    open_findings: int
    orphaned: bool
    compliant: bool
    redundant_with: tuple[str, ...]


class GovernanceQueries:
    def __init__(self, engine: AsyncEngine, token_key: bytes, orphans: OrphanConfig) -> None:
        self.engine = engine
        self.token_key = token_key
        self.orphans = orphans

    async def list_portfolio(
        self, *, filter_text: str, order_by: str, page_size: int, page_token: str, scope: ModelScope | None = None
    ) -> tuple[list[PortfolioRow], Page, int]:
        """Return a page of portfolio rows, the page they came from (for its token) and the total."""
        statement = sa.select(portfolio_table)
        if scope is not None:
            statement = statement.where(scope.condition(portfolio.uid, portfolio.team, portfolio.owner))
        condition = filter_clause(filter_text, PORTFOLIO_FILTER)
        if condition is not None:
            statement = statement.where(condition)
        order = parse_order_by(order_by, PORTFOLIO_ORDER, tiebreaker=portfolio.uid, default="name")
        async with read_connection(self.engine, "ListPortfolio") as connection:
            page = await fetch_page(
                connection, statement, order, page_size=page_size, page_token=page_token, key=self.token_key,
                fingerprint_parts=["portfolio", filter_text, order_by],
            )
            total = await count_rows(connection, statement)
            models = [codec.load(PortfolioModel, row.data) for row in page.rows]
            pairs = await store.flagged_pairs_of(connection, [model.uid for model in models])
            others = {model.uid: _others(model.uid, pairs[model.uid]) for model in models}
            if scope is not None:
                # A scoped caller sees no name of a model outside its scope.
                visible = await self._in_scope(connection, scope, {uid for uids in others.values() for uid in uids})
                others = {key: tuple(uid for uid in uids if uid in visible) for key, uids in others.items()}
            rows = [
                PortfolioRow(model, row.open_findings, row.orphaned, row.compliant, others[model.uid])
                for model, row in zip(models, page.rows, strict=True)
            ]
        return rows, page, total

    @staticmethod
    async def _in_scope(connection: AsyncConnection, scope: ModelScope, uids: set[str]) -> set[str]:
        """Return those of the model uids that `scope` covers."""
        visible: set[str] = set()
        for chunk in store.in_chunks(uids):
            visible.update((await connection.scalars(models_in_scope(scope).where(portfolio.uid.in_(chunk)))).all())
        return visible

    async def model(self, connection: AsyncConnection, model_id: str) -> PortfolioModel:
        model = await store.load_model_by_name(connection, model_id)
        if model is None:
            raise NotFound(f"model models/{model_id} not found in governance's portfolio", field="name")
        return model

    async def compliance(self, model_id: str, policy: Policy) -> tuple[PortfolioModel, ModelEvaluation]:
        async with read_connection(self.engine, "GetModelCompliance") as connection:
            model = await self.model(connection, model_id)
            open_findings = await store.open_findings(connection, model.uid)
        # Open drift alerts feed `drift_requires_review`, as in CheckDeployment and the stored findings.
        return model, evaluate_model(policy, model, now=utc_now(), open_alerts=open_alerts_of(open_findings))

    async def dry_run(
        self, candidate: Policy, current: Policy, *, filter_text: str, scope: ModelScope | None = None
    ) -> list[tuple[PortfolioModel, ModelEvaluation, ModelEvaluation, FindingChanges]]:
        """Evaluate models under a candidate policy and the current one, changing nothing."""
        statement = sa.select(portfolio_table.c.data).order_by(portfolio.model_id)
        if scope is not None:
            statement = statement.where(scope.condition(portfolio.uid, portfolio.team, portfolio.owner))
        condition = filter_clause(filter_text, PORTFOLIO_FILTER)
        if condition is not None:
            statement = statement.where(condition)
        now = utc_now()
        results = []
        async with read_connection(self.engine, "DryRunPolicy") as connection:
            for (data,) in (await connection.execute(statement)).all():
                model = codec.load(PortfolioModel, data)
                open_findings = await store.open_findings(connection, model.uid)
                alerts = open_alerts_of(open_findings)
                under_candidate = evaluate_model(candidate, model, now=now, open_alerts=alerts)
                under_current = evaluate_model(current, model, now=now, open_alerts=alerts)
                changes = reconcile_policy_findings(open_findings, under_candidate)
                results.append((model, under_candidate, under_current, changes))
        return results

    async def list_findings(
        self,
        *,
        model_uid: str,
        kind: FindingKind | None,
        min_severity: Severity | None,
        is_open: bool | None,
        page_size: int,
        page_token: str,
        scope: ModelScope | None = None,
    ) -> tuple[list[Finding], str, int]:
        statement = sa.select(findings_table)
        if model_uid:
            statement = statement.where(findings.model_uid == model_uid)
        if scope is not None:
            statement = statement.where(findings.model_uid.in_(models_in_scope(scope)))
        if kind is not None:
            statement = statement.where(findings.kind == kind.value)
        if min_severity is not None:
            statement = statement.where(findings.severity >= int(min_severity))
        if is_open is not None:
            statement = statement.where(findings.is_open.is_(is_open))
        order = parse_order_by("", {"opened_at": findings.opened_at}, tiebreaker=findings.finding_id, default="opened_at desc")
        fingerprint = ["findings", model_uid, str(kind), str(min_severity), str(is_open)]
        async with read_connection(self.engine, "ListFindings") as connection:
            page = await fetch_page(
                connection, statement, order, page_size=page_size, page_token=page_token, key=self.token_key,
                fingerprint_parts=fingerprint,
            )
            total = await count_rows(connection, statement)
        return [codec.load(Finding, row.data) for row in page.rows], page.next_page_token, total

    async def promotion(self, promotion_id: str) -> Promotion:
        async with read_connection(self.engine, "GetPromotion") as connection:
            found = await store.load_promotion(connection, promotion_id)
        if found is None:
            raise NotFound(f"promotion promotions/{promotion_id} not found", field="name")
        return found

    async def list_promotions(
        self, *, model_uid: str, state: str, page_size: int, page_token: str, scope: ModelScope | None = None
    ) -> tuple[list[Promotion], str, int]:
        statement = sa.select(promotions_table)
        if model_uid:
            statement = statement.where(promotions.model_uid == model_uid)
        if scope is not None:
            statement = statement.where(promotions.model_uid.in_(models_in_scope(scope)))
        if state:
            statement = statement.where(promotions.state == state)
        order = parse_order_by("", {"requested_at": promotions.requested_at}, tiebreaker=promotions.promotion_id, default="requested_at desc")
        async with read_connection(self.engine, "ListPromotions") as connection:
            page = await fetch_page(
                connection, statement, order, page_size=page_size, page_token=page_token, key=self.token_key,
                fingerprint_parts=["promotions", model_uid, state],
            )
            total = await count_rows(connection, statement)
        return [codec.load(Promotion, row.data) for row in page.rows], page.next_page_token, total

    async def check_deployment(self, model_id: str, *, version: int, alias: str, required_stage: Stage, policy: Policy) -> tuple[PortfolioModel, int, DeploymentDecision]:
        async with read_connection(self.engine, "CheckDeployment") as connection:
            model = await self.model(connection, model_id)
            target = resolve_version(model, version=version, alias=alias)
            open_findings = await store.open_findings(connection, model.uid)
            principals = await store.principal_directory(connection)
        # The open alerts feed the drift_requires_review rule as they do when findings are kept.
        evaluation = evaluate_model(policy, model, now=utc_now(), open_alerts=open_alerts_of(open_findings))
        results = (*evaluation.model_results, *evaluation.version_results.get(target.version, ()))
        decision = check_deployment(
            model, target,
            orphan_status=assess_orphan(model, principals, utc_now(), self.orphans),
            open_findings=open_findings,
            open_alerts=open_alerts_of(open_findings),
            current_results=results,
            required_stage=required_stage,
        )
        return model, target.version, decision


def _others(uid: str, pairs: list[RedundancyPair]) -> tuple[str, ...]:
    return tuple(sorted({other for pair in pairs for other in pair.model_uids if other != uid}))


def open_alerts_of(open_findings: Sequence[Finding]) -> tuple[OpenAlert, ...]:
    """Read the open monitoring alerts from the open DRIFT findings.

    Monitoring opens one DRIFT finding per alert, with check id `drift.<alert kind>.<feature>`.
    """
    alerts = []
    for finding in open_findings:
        if finding.key.kind is not FindingKind.DRIFT:
            continue
        _, kind, feature = (finding.key.check_id.split(".", 2) + ["", ""])[:3]
        alerts.append(
            OpenAlert(
                alert_id=finding.finding_id, model_uid=finding.key.model_uid, version=finding.key.version,
                kind=AlertKind(kind), severity=finding.severity, opened_at=finding.opened_at, feature=feature,
            )
        )
    return tuple(alerts)


def check_page_size(page_size: int) -> None:
    if page_size < 0:
        raise InvalidArgument("page_size", page_size, "use 0 for the default or a positive number")
