"""The authenticated caller of the current RPC."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelward_common.auth.scope import ModelScope


@dataclass(frozen=True)
class Identity:
    """The caller of an RPC, as proven by a credential."""

    # `user:<email>`, `service:<slug>` and so on: recorded as the actor of every change.
    principal: str
    # `group:<slug>` principals taken from the JWT's groups claim; bindings to them apply too.
    groups: tuple[str, ...] = ()
    # How the caller authenticated: "jwt", "api_token", "certificate" or "bootstrap".
    method: str = "jwt"
    # Bootstrap admins hold every permission without a binding.
    superuser: bool = False
    # Set by the CallGuard on a list call admitted through team or model bindings: the models
    # the handler may return. None: every model.
    model_scope: ModelScope | None = None

    def principals(self) -> tuple[str, ...]:
        return (self.principal, *self.groups)


identity_var: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("identity", default=None)


def current_identity() -> Identity | None:
    return identity_var.get()


# The caller of every RPC when authentication is turned off.
ANONYMOUS_ADMIN = Identity("user:anonymous", method="none", superuser=True)
