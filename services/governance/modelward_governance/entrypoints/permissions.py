"""The permission each governance RPC needs, and where its request names the model.

The CallGuard reads this table before every call; an RPC missing here is rejected for everyone.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from modelward_common.auth.roles import AUDIT_RULES, ModelRef, ModelResolverFn, Permission, Rule, model_id_in
from modelward_governance.adapters.schema import portfolio_table, promotions_table
from modelward_governance.entrypoints import convert
from modelward_protos.governance.v1 import governance_service_pb2 as rpc

P = Permission
GOVERNANCE_SERVICE = rpc.DESCRIPTOR.services_by_name["GovernanceService"].full_name


def _name(request: Any) -> str:
    return str(request.name)


def _model(request: Any) -> str:
    return str(request.model)


def _version(request: Any) -> str:
    return str(request.model_version)


def _first_version(request: Any) -> None:
    convert.require_first_version(request.model_version)


def _labels_version(request: Any) -> None:
    # The same check and message that ReportLabels gives a global caller.
    convert.parse_version_name(request.model_version, "model_version")


GOVERNANCE_RULES: dict[str, Rule] = {
    # Filtered reads admit team and model bindings and return only the models those reach;
    # GetPolicy and ValidatePolicy return no model's data. The other methods without a
    # resource change or read every model, so they need a global binding.
    "ListPortfolio": Rule(P.MODELS_READ, filtered=True),
    "GetModelCompliance": Rule(P.MODELS_READ, _name),
    "GetPolicy": Rule(P.MODELS_READ, filtered=True),
    "ReplacePolicy": Rule(P.POLICIES_WRITE),
    "ValidatePolicy": Rule(P.MODELS_READ, filtered=True),
    "DryRunPolicy": Rule(P.MODELS_READ, filtered=True),
    "ListFindings": Rule(P.MODELS_READ, _model, filtered=True),
    "ApproveVersion": Rule(P.PROMOTIONS_DECIDE, _name),
    "RejectVersion": Rule(P.PROMOTIONS_DECIDE, _name),
    "GetPromotion": Rule(P.MODELS_READ, _name),
    "ListPromotions": Rule(P.MODELS_READ, _model, filtered=True),
    "CheckDeployment": Rule(P.MODELS_READ, _model),
    "SetPrincipalActive": Rule(P.PRINCIPALS_WRITE),
    "ListDeadLetters": Rule(P.OPERATIONS_MANAGE),
    "RetryDeadLetter": Rule(P.OPERATIONS_MANAGE),
    # Client-streaming: checked against the version the first message names; the handler
    # rejects a later message naming another version with INVALID_ARGUMENT. ReportLabels is
    # unary, and its request is checked the same way.
    "UploadReferenceData": Rule(P.MONITORING_CONFIGURE, _version, check_first_message=_first_version),
    "ReportProductionData": Rule(P.MONITORING_REPORT, _version, check_first_message=_first_version),
    "ReportLabels": Rule(P.MONITORING_REPORT, _version, check_first_message=_labels_version),
    "GetDriftReport": Rule(P.MODELS_READ, _name),
    "ListAlerts": Rule(P.MODELS_READ, lambda request: request.model or request.model_version, filtered=True),
    "SetMonitoringConfig": Rule(P.MONITORING_CONFIGURE, lambda request: request.config.name),
}

RULES: dict[str, Rule] = {
    **{f"/{GOVERNANCE_SERVICE}/{method}": rule for method, rule in GOVERNANCE_RULES.items()},
    **AUDIT_RULES,
}


def model_resolver(engine: AsyncEngine) -> ModelResolverFn:
    """Return the resolver for scoped bindings: models by name, promotions by id, from governance's tables."""
    columns = (portfolio_table.c.uid, portfolio_table.c.team, portfolio_table.c.owner)

    async def resolve(name: str) -> ModelRef | None:
        model_id = model_id_in(name)
        if model_id:
            query = sa.select(*columns).where(portfolio_table.c.model_id == model_id)
        elif name.startswith("promotions/"):
            promotion = sa.select(promotions_table.c.model_uid).where(promotions_table.c.promotion_id == name.removeprefix("promotions/"))
            query = sa.select(*columns).where(portfolio_table.c.uid == promotion.scalar_subquery())
        else:
            return None
        async with engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return ModelRef(row.uid, row.team, row.owner) if row is not None else None

    return resolve
