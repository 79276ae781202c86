"""The permission each registry RPC needs, and where its request names the model or team.

The CallGuard reads this table before every call; an RPC missing here is rejected for everyone.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from modelward_common.auth.roles import AUDIT_RULES, ModelRef, ModelResolverFn, Permission, Rule, model_id_in
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_registry.adapters.schema import models_table

P = Permission
REGISTRY_SERVICE = rpc.DESCRIPTOR.services_by_name["RegistryService"].full_name
ACCESS_SERVICE = access_pb.DESCRIPTOR.services_by_name["AccessService"].full_name


def _name(request: Any) -> str:
    return str(request.name)


def _parent(request: Any) -> str:
    return str(request.parent)


def _model_field(request: Any) -> str:
    return str(request.model)


REGISTRY_RULES: dict[str, Rule] = {
    "CreateModel": Rule(P.MODELS_CREATE, team=lambda request: request.model.team),
    "GetModel": Rule(P.MODELS_READ, _name),
    # Filtered: a caller with team or model bindings lists only the models they reach.
    "ListModels": Rule(P.MODELS_READ, filtered=True),
    "UpdateModel": Rule(P.MODELS_WRITE, lambda request: request.model.name),
    "RenameModel": Rule(P.MODELS_WRITE, _name),
    "ArchiveModel": Rule(P.MODELS_ARCHIVE, _name),
    "DeleteModel": Rule(P.MODELS_DELETE, _name),
    "SetModelTags": Rule(P.MODELS_WRITE, _name),
    "DeleteModelTags": Rule(P.MODELS_WRITE, _name),
    "CreateModelVersion": Rule(P.MODELS_WRITE, _parent),
    "GetModelVersion": Rule(P.MODELS_READ, _name),
    # `models/-` lists every model's versions, filtered like ListModels.
    "ListModelVersions": Rule(P.MODELS_READ, _parent, filtered=True),
    "UpdateModelVersion": Rule(P.MODELS_WRITE, lambda request: request.model_version.name),
    "SetModelVersionTags": Rule(P.MODELS_WRITE, _name),
    "DeleteModelVersionTags": Rule(P.MODELS_WRITE, _name),
    "SetAlias": Rule(P.MODELS_WRITE, _name),
    "DeleteAlias": Rule(P.MODELS_WRITE, _model_field),
    "ResolveAlias": Rule(P.MODELS_READ, _model_field),
    "TransitionStage": Rule(P.MODELS_WRITE, _name),
    "GetModelHistory": Rule(P.MODELS_READ, _name),
}

ACCESS_RULES: dict[str, Rule] = {
    method: Rule(P.ACCESS_MANAGE)
    for method in (
        "CreateRoleBinding", "DeleteRoleBinding", "ListRoleBindings", "CreateApiToken", "RevokeApiToken", "ListApiTokens",
    )
}
# Admins only, like the methods above, because the events name every binding and carry token digests.
ACCESS_RULES["ListAccessEvents"] = Rule(P.ACCESS_READ)

RULES: dict[str, Rule] = {
    **{f"/{REGISTRY_SERVICE}/{method}": rule for method, rule in REGISTRY_RULES.items()},
    **{f"/{ACCESS_SERVICE}/{method}": rule for method, rule in ACCESS_RULES.items()},
    **AUDIT_RULES,
}


def model_resolver(engine: AsyncEngine) -> ModelResolverFn:
    """Return the resolver the CallGuard uses for scoped bindings: one indexed read by name."""
    query = sa.select(models_table.c.uid, models_table.c.team, models_table.c.owner)

    async def resolve(name: str) -> ModelRef | None:
        model_id = model_id_in(name)
        if not model_id:
            return None
        async with engine.connect() as connection:
            row = (await connection.execute(query.where(models_table.c.model_id == model_id))).first()
        return ModelRef(row.uid, row.team, row.owner) if row is not None else None

    return resolve
