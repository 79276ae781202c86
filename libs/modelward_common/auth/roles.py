"""Roles, the permissions each grants, and the rule that decides a call.

A binding gives a principal a role globally, on every model of a team, or on one model (kept
by the model's uid, so it follows renames). A model's `owner` also has the contributor
permissions on that model.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelward_common.principals import canonical_principal


class Permission(enum.StrEnum):
    MODELS_READ = "models.read"
    MODELS_CREATE = "models.create"
    MODELS_WRITE = "models.write"
    MODELS_ARCHIVE = "models.archive"
    MODELS_DELETE = "models.delete"
    PROMOTIONS_DECIDE = "promotions.decide"
    POLICIES_WRITE = "policies.write"
    PRINCIPALS_WRITE = "principals.write"
    MONITORING_REPORT = "monitoring.report"
    MONITORING_CONFIGURE = "monitoring.configure"
    OPERATIONS_MANAGE = "operations.manage"
    ACCESS_MANAGE = "access.manage"
    # Read the access events (ListAccessEvents), as governance does to refill lost ones.
    ACCESS_READ = "access.read"
    AUDIT_READ = "audit.read"


class Role(enum.StrEnum):
    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    SERVING = "serving"


_VIEWER = frozenset({Permission.MODELS_READ})
_CONTRIBUTOR = _VIEWER | {
    Permission.MODELS_CREATE,
    Permission.MODELS_WRITE,
    Permission.MODELS_ARCHIVE,
    Permission.MONITORING_REPORT,
    Permission.MONITORING_CONFIGURE,
}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.CONTRIBUTOR: _CONTRIBUTOR,
    Role.REVIEWER: _VIEWER | {Permission.PROMOTIONS_DECIDE, Permission.AUDIT_READ},
    Role.ADMIN: frozenset(Permission),
    Role.SERVING: _VIEWER | {Permission.MONITORING_REPORT},
}

OWNER_PERMISSIONS = _CONTRIBUTOR


@dataclass(frozen=True)
class Binding:
    binding_id: str
    principal: str
    role: Role
    # At most one of team and model_uid is set; neither: global.
    team: str = ""
    model_uid: str = ""

    @property
    def is_global(self) -> bool:
        return not self.team and not self.model_uid


@dataclass(frozen=True)
class ModelRef:
    """The facts about a model that scoped bindings match on."""

    uid: str
    team: str
    owner: str


@dataclass(frozen=True)
class Rule:
    """The permission an RPC needs and where in its request the model or team is named."""

    permission: Permission
    # Returns the resource name the call acts on (`models/{m}`, `models/{m}/versions/{n}`,
    # or a service-specific name); None or "": the call needs the permission globally.
    resource: Callable[[Any], str] | None = None
    # Returns the team a new model would belong to, for creates.
    team: Callable[[Any], str] | None = None
    # True for calls that return items of many models (lists, and reads of no model such as
    # GetPolicy). When the request names no model, a caller whose bindings grant the permission
    # on some teams or models is admitted with a ModelScope, and the handler returns only those
    # models' items. A request naming one model is checked against that model as usual.
    filtered: bool = False
    # Raises InvalidArgument when the first message of a client-streaming call, or the request
    # of a unary call, names no resource. The guard runs it for a caller whose bindings grant
    # the permission on some teams or models only, so that caller gets the same error as a
    # global caller gets from the handler instead of PERMISSION_DENIED.
    check_first_message: Callable[[Any], None] | None = None


# Looks up the model a resource name refers to; None when there is none.
ModelResolverFn = Callable[[str], Awaitable["ModelRef | None"]]


def model_id_in(name: str) -> str:
    """Return the model id of a name under `models/{model}`, or "" for other names and `models/-`."""
    parts = name.split("/")
    if len(parts) >= 2 and parts[0] == "models" and parts[1] not in ("", "-"):
        return parts[1]
    return ""


def grants(binding: Binding, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[binding.role]


def allowed_globally(bindings: Iterable[Binding], permission: Permission) -> bool:
    return any(binding.is_global and grants(binding, permission) for binding in bindings)


def allowed_on_model(bindings: Iterable[Binding], principals: Iterable[str], permission: Permission, model: ModelRef) -> bool:
    if permission in OWNER_PERMISSIONS and model.owner and canonical_principal(model.owner) in set(principals):
        return True
    for binding in bindings:
        if not grants(binding, permission):
            continue
        if binding.model_uid and binding.model_uid == model.uid:
            return True
        if binding.team and binding.team == model.team:
            return True
    return False


def allowed_on_team(bindings: Iterable[Binding], permission: Permission, team: str) -> bool:
    return bool(team) and any(binding.team == team and grants(binding, permission) for binding in bindings)


# The audit log service runs in both services; its methods read the whole log, so they need
# AUDIT_READ globally.
AUDIT_SERVICE = "modelward.audit.v1.AuditService"
AUDIT_RULES: dict[str, Rule] = {
    f"/{AUDIT_SERVICE}/{method}": Rule(Permission.AUDIT_READ) for method in ("VerifyAuditLog", "ExportAuditLog")
}
