"""The active and inactive principals, as governance records them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from modelward_common.errors import FailedPrecondition, InvalidArgument, NotFound
from modelward_common.principals import canonical_principal, is_valid_principal

# `user:<email>`, `team:<slug>` or `service:<slug>`, the same forms the registry accepts as owner.
_PRINCIPAL = re.compile(
    r"^(user:[^@\s]+@[^@\s]+|team:[a-z0-9][a-z0-9._-]*|service:[a-z0-9][a-z0-9._-]*)$"
)


def validate_principal(principal: str, field: str = "principal") -> None:
    """Raise InvalidArgument unless `principal` has the form `user:<email>`, `team:<slug>` or
    `service:<slug>`, with at most 320 characters and no control characters."""
    if not _PRINCIPAL.match(principal) or not is_valid_principal(principal):
        raise InvalidArgument(
            field,
            principal,
            "use user:<email>, team:<slug> or service:<slug>, for example user:ana@example.com",
        )


@dataclass(frozen=True)
class PrincipalDirectory:
    """The principals marked inactive, in canonical form. Every principal not listed is active."""

    inactive: frozenset[str] = frozenset()

    def is_active(self, principal: str) -> bool:
        return canonical_principal(principal) not in self.inactive

    def with_active(self, principal: str, active: bool) -> PrincipalDirectory:
        """Return a copy with `principal` marked active or inactive."""
        validate_principal(principal)
        principal = canonical_principal(principal)
        if active:
            return PrincipalDirectory(self.inactive - {principal})
        return PrincipalDirectory(self.inactive | {principal})


def check_admin_remains(principal: str, admins: Iterable[str], directory: PrincipalDirectory) -> None:
    """Raise FailedPrecondition when deactivating `principal` leaves no active global admin.

    `admins` are the principals with a global admin binding. A group counts as active, because
    groups are never deactivated.
    """
    holders = {canonical_principal(admin) for admin in admins}
    principal = canonical_principal(principal)
    if principal not in holders:
        return
    if any(directory.is_active(other) for other in holders - {principal}):
        return
    raise FailedPrecondition(
        f"{principal} is the last active principal with a global admin role binding, and this service has no "
        "bootstrap admin token (--admin-token-file), so deactivating it would leave nobody able to reactivate "
        "principals: bind the admin role to another principal first",
        field="principal",
        reason="LAST_ADMIN",
    )


def never_deactivated(principal: str) -> NotFound:
    return NotFound(
        f"principal {principal} was never deactivated, so there is nothing to reactivate: check the name",
        field="principal",
        reason="PRINCIPAL_NOT_FOUND",
    )
