"""The models a caller with only team or model bindings may see in a list.

A list RPC (ListModels, ListPortfolio, ListFindings without a model and the like) admits a
caller whose bindings grant the permission on some models only. The CallGuard then attaches a
`ModelScope` to the caller's identity, and the handler adds `ModelScope.condition` to its query,
so paging, page sizes and `total_size` count only the models the caller may read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from modelward_common.auth.identity import current_identity
from modelward_common.auth.roles import OWNER_PERMISSIONS, Binding, Permission, grants


@dataclass(frozen=True)
class ModelScope:
    """The models a scoped caller may read: by uid, by team, or because it owns them."""

    model_uids: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    # The caller's principals, when the permission is one that owners hold on their models.
    owners: frozenset[str] = frozenset()

    def condition(self, uid: ColumnElement[Any], team: ColumnElement[Any], owner: ColumnElement[Any]) -> ColumnElement[bool]:
        """Return a WHERE condition on a table's model uid, team and owner columns."""
        clauses: list[ColumnElement[bool]] = []
        if self.model_uids:
            clauses.append(uid.in_(sorted(self.model_uids)))
        if self.teams:
            clauses.append(team.in_(sorted(self.teams)))
        if self.owners:
            clauses.append(owner.in_(sorted(self.owners)))
        return sa.or_(*clauses) if clauses else sa.false()


def scope_of(bindings: Iterable[Binding], principals: Iterable[str], permission: Permission) -> ModelScope | None:
    """Return the models the scoped bindings grant `permission` on, or None when none does.

    Global bindings are left out: the guard admits those callers without a scope.
    """
    granting = [binding for binding in bindings if not binding.is_global and grants(binding, permission)]
    if not granting:
        return None
    return ModelScope(
        model_uids=frozenset(binding.model_uid for binding in granting if binding.model_uid),
        teams=frozenset(binding.team for binding in granting if binding.team),
        owners=frozenset(principals) if permission in OWNER_PERMISSIONS else frozenset(),
    )


def current_model_scope() -> ModelScope | None:
    """Return the calling RPC's scope; None means every model (global binding, admin, or auth off)."""
    identity = current_identity()
    return identity.model_scope if identity is not None else None
