"""The active and inactive principals, as governance records them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelward_common.errors import InvalidArgument

# `user:<email>`, `team:<slug>` or `service:<slug>`, the same forms the registry accepts as owner.
_PRINCIPAL = re.compile(
    r"^(user:[^@\s]+@[^@\s]+|team:[a-z0-9][a-z0-9._-]*|service:[a-z0-9][a-z0-9._-]*)$"
)


def validate_principal(principal: str, field: str = "principal") -> None:
    """Raise InvalidArgument unless `principal` has the form `user:<email>`, `team:<slug>` or
    `service:<slug>`."""
    if not _PRINCIPAL.match(principal):
        raise InvalidArgument(
            field,
            principal,
            "use user:<email>, team:<slug> or service:<slug>, for example user:ana@example.com",
        )


@dataclass(frozen=True)
class PrincipalDirectory:
    """The principals marked inactive. Every principal not listed is active."""

    inactive: frozenset[str] = frozenset()

    def is_active(self, principal: str) -> bool:
        return principal not in self.inactive

    def with_active(self, principal: str, active: bool) -> PrincipalDirectory:
        """Return a copy with `principal` marked active or inactive."""
        validate_principal(principal)
        if active:
            return PrincipalDirectory(self.inactive - {principal})
        return PrincipalDirectory(self.inactive | {principal})
