"""GovernanceService over gRPC: parse requests, call the use cases, convert the results."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
import sqlalchemy as sa

from modelward_common.auth.guard import BOOTSTRAP_PRINCIPAL
from modelward_common.auth.scope import current_model_scope
from modelward_common.consumer import EventConsumer, dead_letters_table
from modelward_common.db import read_connection
from modelward_common.errors import InvalidArgument, NotFound
from modelward_common.grpc_server import caller_principal
from modelward_common.paging import count_rows, fetch_page, items_within, parse_order_by
from modelward_common.principals import canonical_principal
from modelward_common.timeutil import utc_now
from modelward_governance.adapters import store
from modelward_governance.domain.orphans import assess_orphan
from modelward_governance.domain.policy_yaml import parse_policy, validate_policy
from modelward_governance.domain.principals import validate_principal
from modelward_governance.entrypoints import convert
from modelward_governance.service_layer.governance import Governance
from modelward_governance.service_layer.monitoring import MonitoringService
from modelward_governance.service_layer.queries import GovernanceQueries
from modelward_protos.governance.v1 import governance_service_pb2 as rpc
from modelward_protos.governance.v1 import governance_service_pb2_grpc as rpc_grpc
from modelward_protos.governance.v1 import monitoring_pb2 as mon
from modelward_protos.governance.v1 import resources_pb2 as res

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext


def caller(context: Context) -> str:
    """Return the authenticated caller: the actor of every change and the approver of promotions."""
    return caller_principal(context)


class GovernanceServicer(rpc_grpc.GovernanceServiceServicer):
    def __init__(
        self,
        governance: Governance,
        queries: GovernanceQueries,
        monitoring: MonitoringService,
        consumer: EventConsumer | None,
        token_key: bytes,
    ) -> None:
        self.governance = governance
        self.queries = queries
        self.monitoring = monitoring
        self.consumer = consumer
        self.token_key = token_key

    # --- portfolio and compliance -----------------------------------------------------------

    async def ListPortfolio(self, request: rpc.ListPortfolioRequest, context: Context) -> rpc.ListPortfolioResponse:
        rows, page, total = await self.queries.list_portfolio(
            filter_text=request.filter, order_by=request.order_by, page_size=request.page_size, page_token=request.page_token,
            scope=current_model_scope(),
        )
        entries = []
        now = utc_now()
        async with read_connection(self.governance.engine, "ListPortfolio") as connection:
            principals = await store.principal_directory(connection)
            summaries = await store.open_finding_summaries(connection, [row.model.uid for row in rows])
            names = await store.model_names(connection, {uid for row in rows for uid in row.redundant_with})
        for row in rows:
            entry = convert.portfolio_entry_to_proto(
                row.model,
                open_findings=summaries[row.model.uid],
                orphan_status=assess_orphan(row.model, principals, now, self.governance.settings.orphans),
                compliant=row.compliant,
                redundant_with=sorted(names[uid] for uid in row.redundant_with if uid in names),
            )
            convert.fit_portfolio_entry(entry)
            entries.append(entry)
        # An entry can take up to 1 MB with its versions, so a page ends early rather than exceed what clients accept.
        page = page.first(items_within(entry.ByteSize() for entry in entries))
        response = rpc.ListPortfolioResponse(next_page_token=page.next_page_token, total_size=total)
        response.entries.extend(entries[: len(page.rows)])
        return response

    async def GetModelCompliance(self, request: rpc.GetModelComplianceRequest, context: Context) -> res.ModelCompliance:
        model_id = convert.parse_compliance_name(request.name)
        policy = await self._policy()
        model, evaluation = await self.queries.compliance(model_id, policy)
        return convert.model_compliance_to_proto(evaluation, model)

    async def _policy(self):  # type: ignore[no-untyped-def]
        async with read_connection(self.governance.engine, "reading the policy") as connection:
            return await self.governance.policy(connection)

    # --- policies ---------------------------------------------------------------------------

    async def GetPolicy(self, request: rpc.GetPolicyRequest, context: Context) -> res.Policy:
        revision = convert.parse_policy_name(request.name) if request.name else None
        async with read_connection(self.governance.engine, "GetPolicy") as connection:
            row = await (store.current_policy_row(connection) if revision is None else store.policy_row(connection, revision))
        if row is None:
            raise NotFound(f"policy {request.name or 'policies/current'} not found", field="name")
        return self._policy_message(row)

    def _policy_message(self, row: sa.RowMapping) -> res.Policy:
        policy = parse_policy(row["text"], source=f"policies/{row['revision']}", revision=row["revision"])
        return convert.policy_to_proto(
            policy, yaml_text=row["text"], author=row["author"], reason=row["reason"], create_time=row["create_time"]
        )

    async def ReplacePolicy(self, request: rpc.ReplacePolicyRequest, context: Context) -> res.Policy:
        expected = _revision_from_etag(request.etag)
        parse_policy(request.yaml_text, source="yaml_text", revision=0)
        policy = await self.governance.replace_policy(
            request.yaml_text, author=caller(context), reason=request.reason, expected_revision=expected
        )
        async with read_connection(self.governance.engine, "ReplacePolicy") as connection:
            row = await store.policy_row(connection, policy.revision)
        assert row is not None
        return self._policy_message(row)

    async def ValidatePolicy(self, request: rpc.ValidatePolicyRequest, context: Context) -> rpc.ValidatePolicyResponse:
        problems = validate_policy(request.yaml_text)
        policy = None if problems else parse_policy(request.yaml_text, source="yaml_text", revision=0)
        return convert.validate_policy_response(request.yaml_text, problems, policy)

    async def DryRunPolicy(self, request: rpc.DryRunPolicyRequest, context: Context) -> rpc.DryRunPolicyResponse:
        candidate = parse_policy(request.yaml_text, source="yaml_text", revision=0)
        current = await self._policy()
        evaluated = await self.queries.dry_run(candidate, current, filter_text=request.filter, scope=current_model_scope())
        response = rpc.DryRunPolicyResponse(sha256=candidate.sha256)
        for model, under_candidate, under_current, changes in evaluated:
            response.results.extend(convert.dry_run_results_to_proto(model, under_candidate, under_current))
            response.models_evaluated += 1
            response.versions_evaluated += len(under_candidate.version_results)
            response.findings_to_open += len(changes.opened)
            response.findings_to_resolve += len(changes.resolved)
        return response

    # --- findings and promotions ------------------------------------------------------------

    async def ListFindings(self, request: rpc.ListFindingsRequest, context: Context) -> rpc.ListFindingsResponse:
        model_uid = ""
        model_name = ""
        if request.model:
            model_id = convert.parse_model_name(request.model, "model")
            async with read_connection(self.governance.engine, "ListFindings") as connection:
                model = await self.queries.model(connection, model_id)
            model_uid, model_name = model.uid, model.name
        findings, token, total = await self.queries.list_findings(
            model_uid=model_uid,
            kind=convert.finding_kind_from_proto(request.kind),
            min_severity=convert.min_severity_from_proto(request.min_severity),
            is_open=convert.finding_open_from_proto(request.state),
            page_size=request.page_size,
            page_token=request.page_token,
            scope=current_model_scope(),
        )
        response = rpc.ListFindingsResponse(next_page_token=token, total_size=total)
        async with read_connection(self.governance.engine, "ListFindings") as connection:
            names = await store.model_names(connection, {finding.key.model_uid for finding in findings})
        for finding in findings:
            response.findings.append(convert.finding_to_proto(finding, model_name or names.get(finding.key.model_uid, "")))
        return response

    async def ApproveVersion(self, request: rpc.ApproveVersionRequest, context: Context) -> res.Promotion:
        return await self._decide(request.name, request.comment, context, approve=True)

    async def RejectVersion(self, request: rpc.RejectVersionRequest, context: Context) -> res.Promotion:
        return await self._decide(request.name, request.comment, context, approve=False)

    async def _decide(self, name: str, comment: str, context: Context, *, approve: bool) -> res.Promotion:
        if len(comment) > 4000:
            raise InvalidArgument("comment", comment, "shorten it to at most 4000 characters", problem="is too long")
        promotion_id = await self._promotion_id(name)
        promotion = await self.governance.decide(promotion_id, caller(context), comment, approve=approve)
        return convert.promotion_to_proto(promotion)

    async def _promotion_id(self, name: str) -> str:
        """Accept `promotions/{id}` or the version name `models/{model}/versions/{n}`."""
        if name.startswith("promotions/"):
            return convert.parse_promotion_name(name)
        model_id, version = convert.parse_version_name(name)
        async with read_connection(self.governance.engine, "finding the promotion") as connection:
            model = await self.queries.model(connection, model_id)
        found = await self.governance.open_promotion(model.uid, version)
        if found is None:
            raise NotFound(f"no open promotion for {name}; request one with the registry's TransitionStage", field="name")
        return found.promotion_id

    async def GetPromotion(self, request: rpc.GetPromotionRequest, context: Context) -> res.Promotion:
        promotion = await self.queries.promotion(await self._promotion_id(request.name))
        return convert.promotion_to_proto(promotion)

    async def ListPromotions(self, request: rpc.ListPromotionsRequest, context: Context) -> rpc.ListPromotionsResponse:
        model_uid = ""
        if request.model:
            async with read_connection(self.governance.engine, "ListPromotions") as connection:
                model_uid = (await self.queries.model(connection, convert.parse_model_name(request.model, "model"))).uid
        state = convert.promotion_state_from_proto(request.state)
        promotions, token, total = await self.queries.list_promotions(
            model_uid=model_uid, state=state.value if state else "", page_size=request.page_size, page_token=request.page_token,
            scope=current_model_scope(),
        )
        return rpc.ListPromotionsResponse(
            promotions=[convert.promotion_to_proto(promotion) for promotion in promotions], next_page_token=token,
            total_size=total,
        )

    async def CheckDeployment(self, request: rpc.CheckDeploymentRequest, context: Context) -> rpc.CheckDeploymentResponse:
        target = convert.deployment_target_from_proto(request)
        policy = await self._policy()
        model, _, decision = await self.queries.check_deployment(
            target.model_id, version=target.version, alias=target.alias, required_stage=target.required_stage, policy=policy
        )
        return convert.check_deployment_response(decision, model_name=model.name, policy_revision=policy.revision, check_time=utc_now())

    # --- principals and operations ----------------------------------------------------------

    async def SetPrincipalActive(self, request: rpc.SetPrincipalActiveRequest, context: Context) -> res.Principal:
        principal = canonical_principal(request.principal)
        validate_principal(principal)
        if not request.active and principal == BOOTSTRAP_PRINCIPAL:
            raise InvalidArgument(
                "principal", request.principal,
                "the bootstrap admin always keeps access; to retire it, remove its token file from --admin-token-file "
                "and restart the services", problem="cannot be deactivated",
            )
        if not request.reason.strip():
            raise InvalidArgument("reason", request.reason, "say why, for example 'left the company'", problem="is missing")
        if len(request.reason) > 2000:
            raise InvalidArgument("reason", request.reason, "shorten it to at most 2000 characters", problem="is too long")
        await self.governance.set_principal_active(principal, request.active, reason=request.reason, actor=caller(context))
        async with read_connection(self.governance.engine, "SetPrincipalActive") as connection:
            row = await store.principal_row(connection, principal)
        assert row is not None
        return convert.principal_to_proto(
            principal, active=row["active"], reason=row["reason"], updated_by=row["changed_by"], update_time=row["update_time"]
        )

    async def ListDeadLetters(self, request: rpc.ListDeadLettersRequest, context: Context) -> rpc.ListDeadLettersResponse:
        status = convert.dead_letter_status_from_proto(request.state)
        table = dead_letters_table
        statement = sa.select(table)
        if status:
            statement = statement.where(table.c.status == status)
        order = parse_order_by("", {"id": table.c.id}, tiebreaker=table.c.id, default="id")
        async with read_connection(self.governance.engine, "ListDeadLetters") as connection:
            page = await fetch_page(
                connection, statement, order, page_size=request.page_size, page_token=request.page_token,
                key=self.token_key, fingerprint_parts=["dead-letters", status or ""],
            )
            total = await count_rows(connection, statement)
        return rpc.ListDeadLettersResponse(
            dead_letters=[convert.dead_letter_to_proto(row._mapping) for row in page.rows], next_page_token=page.next_page_token,
            total_size=total,
        )

    async def RetryDeadLetter(self, request: rpc.RetryDeadLetterRequest, context: Context) -> res.DeadLetter:
        dead_letter_id = convert.parse_dead_letter_name(request.name)
        if self.consumer is None:
            raise NotFound("this governance process runs no event consumer, so it has no dead letters", field="name")
        # An operator's action on the event flow: the log keeps who retried which letter and why,
        # quoted and cut short so that the text cannot forge log lines.
        logger.info("dead letter %d: retry by %s, reason %r", dead_letter_id, caller(context), request.reason[:500])
        await self.consumer.retry_dead_letter(dead_letter_id)
        async with read_connection(self.governance.engine, "RetryDeadLetter") as connection:
            row = (await connection.execute(sa.select(dead_letters_table).where(dead_letters_table.c.id == dead_letter_id))).mappings().one()
        return convert.dead_letter_to_proto(row)

    # --- monitoring -------------------------------------------------------------------------

    async def UploadReferenceData(
        self, request_iterator: AsyncIterator[rpc.UploadReferenceDataRequest], context: Context
    ) -> rpc.UploadReferenceDataResponse:
        return await self.monitoring.upload_reference(request_iterator, actor=caller(context))

    async def ReportProductionData(
        self, request_iterator: AsyncIterator[rpc.ReportProductionDataRequest], context: Context
    ) -> rpc.ReportProductionDataResponse:
        return await self.monitoring.report_production(request_iterator, actor=caller(context))

    async def ReportLabels(self, request: rpc.ReportLabelsRequest, context: Context) -> rpc.ReportLabelsResponse:
        return await self.monitoring.report_labels(request, actor=caller(context))

    async def GetDriftReport(self, request: rpc.GetDriftReportRequest, context: Context) -> mon.DriftReport:
        return await self.monitoring.drift_report(request)

    async def ListAlerts(self, request: rpc.ListAlertsRequest, context: Context) -> rpc.ListAlertsResponse:
        return await self.monitoring.list_alerts(request, current_model_scope())

    async def SetMonitoringConfig(self, request: rpc.SetMonitoringConfigRequest, context: Context) -> mon.MonitoringConfig:
        return await self.monitoring.set_config(request, actor=caller(context))


def _revision_from_etag(etag: str) -> int:
    if not etag:
        return 0
    text = etag.strip('"')
    if not text.isdigit():
        raise InvalidArgument("etag", etag, "send the etag of the policy you read, such as '\"3\"', or leave it empty")
    return int(text)
