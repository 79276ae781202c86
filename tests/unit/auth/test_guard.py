"""CallGuard decisions with an in-memory directory: scopes, owners, groups, unknown RPCs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from modelward_common.auth import api_tokens
from modelward_common.auth.guard import BOOTSTRAP_PRINCIPAL, Authenticator, CallGuard
from modelward_common.auth.jwt import JwtSettings
from modelward_common.auth.roles import Binding, ModelRef, Permission, Role, Rule
from modelward_common.auth.store import TokenRecord
from modelward_common.errors import PermissionDenied, Unauthenticated
from tests.support.auth import AUDIENCE, ISSUER, issuer

MODELS = {"models/churn": ModelRef("uid-churn", "growth", "user:olga@example.com")}
RULES = {
    "/svc/Read": Rule(Permission.MODELS_READ, lambda request: request["name"]),
    "/svc/Write": Rule(Permission.MODELS_WRITE, lambda request: request["name"]),
    "/svc/Create": Rule(Permission.MODELS_CREATE, team=lambda request: request["team"]),
    "/svc/Approve": Rule(Permission.PROMOTIONS_DECIDE, lambda request: request["name"]),
}


@dataclass
class Directory:
    bindings: list[Binding] = field(default_factory=list)
    inactive: set[str] = field(default_factory=set)

    async def bindings_for(self, principals: Any) -> list[Binding]:
        wanted = set(principals)
        return [binding for binding in self.bindings if binding.principal in wanted]

    async def token(self, token_id: str) -> TokenRecord | None:
        return None

    async def is_inactive(self, principal: str) -> bool:
        return principal in self.inactive


@dataclass
class Metadatum:
    key: str
    value: str


class Context:
    def __init__(self, token: str = "") -> None:
        self.token = token

    def invocation_metadata(self) -> list[Metadatum]:
        return [Metadatum("authorization", f"Bearer {self.token}")] if self.token else []

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}


def guard(*bindings: Binding) -> CallGuard:
    directory = Directory(list(bindings))
    settings = JwtSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(issuer().jwks_file))
    authenticator = Authenticator(directory, jwt=settings)  # type: ignore[arg-type]

    async def resolve(name: str) -> ModelRef | None:
        return MODELS.get(name)

    return CallGuard(RULES, authenticator, directory, resolve)  # type: ignore[arg-type]


async def admitted(guard: CallGuard, method: str, principal: str, request: dict[str, str], **claims: Any) -> bool:
    try:
        await guard.admit(method, request, Context(issuer().mint(principal, **claims)))  # type: ignore[arg-type]
    except PermissionDenied:
        return False
    return True


async def test_global_binding_grants_everywhere() -> None:
    allowed = guard(Binding("b1", "user:ana@example.com", Role.CONTRIBUTOR))
    assert await admitted(allowed, "/svc/Write", "user:ana@example.com", {"name": "models/churn"})
    assert await admitted(allowed, "/svc/Write", "user:ana@example.com", {"name": "models/unknown"})


async def test_team_binding_grants_on_team_models_only() -> None:
    team = guard(Binding("b1", "user:tina@example.com", Role.CONTRIBUTOR, team="growth"))
    assert await admitted(team, "/svc/Write", "user:tina@example.com", {"name": "models/churn"})
    assert await admitted(team, "/svc/Create", "user:tina@example.com", {"team": "growth"})
    assert not await admitted(team, "/svc/Create", "user:tina@example.com", {"team": "fraud"})
    assert not await admitted(team, "/svc/Write", "user:tina@example.com", {"name": "models/unknown"})


async def test_model_binding_matches_uid() -> None:
    model = guard(Binding("b1", "user:mo@example.com", Role.VIEWER, model_uid="uid-churn"))
    assert await admitted(model, "/svc/Read", "user:mo@example.com", {"name": "models/churn"})
    assert not await admitted(model, "/svc/Write", "user:mo@example.com", {"name": "models/churn"})


async def test_owner_writes_but_cannot_approve() -> None:
    nobody = guard()
    assert await admitted(nobody, "/svc/Write", "user:olga@example.com", {"name": "models/churn"})
    assert not await admitted(nobody, "/svc/Approve", "user:olga@example.com", {"name": "models/churn"})


async def test_group_claim_binding_applies() -> None:
    grouped = guard(Binding("b1", "group:reviewers", Role.REVIEWER))
    assert await admitted(grouped, "/svc/Approve", "user:rita@example.com", {"name": "models/churn"}, groups=["reviewers"])
    assert not await admitted(grouped, "/svc/Approve", "user:rita@example.com", {"name": "models/churn"})


async def test_subject_without_kind_becomes_user() -> None:
    allowed = guard(Binding("b1", "user:ana@example.com", Role.VIEWER))
    identity = await allowed.admit("/svc/Read", {"name": "models/churn"}, Context(issuer().mint("ana@example.com")))  # type: ignore[arg-type]
    assert identity is not None
    assert identity.principal == "user:ana@example.com"


async def test_undeclared_rpc_rejected_for_admin() -> None:
    admin = guard(Binding("b1", "user:root@example.com", Role.ADMIN))
    with pytest.raises(PermissionDenied) as caught:
        await admin.admit("/svc/Undeclared", {}, Context(issuer().mint("user:root@example.com")))  # type: ignore[arg-type]
    assert "declares no permission" in caught.value.message


async def test_health_needs_no_credentials() -> None:
    assert await guard().admit("/grpc.health.v1.Health/Check", {}, Context()) is None  # type: ignore[arg-type]


async def test_missing_credentials_unauthenticated() -> None:
    with pytest.raises(Unauthenticated) as caught:
        await guard().admit("/svc/Read", {"name": "models/churn"}, Context())  # type: ignore[arg-type]
    assert caught.value.reason == "CREDENTIALS_MISSING"


class CertificateContext(Context):
    """A call without a bearer token whose TLS client certificate has the given common name."""

    def __init__(self, common_name: str) -> None:
        super().__init__()
        self.common_name = common_name

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_common_name": [self.common_name.encode()]}


def inactive_guard(*inactive: str, bootstrap_token: str = "") -> CallGuard:
    directory = Directory([Binding("b1", "user:ana@example.com", Role.ADMIN)], set(inactive))
    settings = JwtSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(issuer().jwks_file))
    authenticator = Authenticator(
        directory,  # type: ignore[arg-type]
        jwt=settings,
        bootstrap_tokens=(bootstrap_token,) if bootstrap_token else (),
        certificate_principals={"scorer.internal": "user:ana@example.com"},
    )

    async def resolve(name: str) -> ModelRef | None:
        return MODELS.get(name)

    return CallGuard(RULES, authenticator, directory, resolve)  # type: ignore[arg-type]


async def test_inactive_jwt_principal_denied() -> None:
    locked = inactive_guard("user:ana@example.com")
    with pytest.raises(PermissionDenied) as caught:
        await locked.admit("/svc/Read", {"name": "models/churn"}, Context(issuer().mint("user:ana@example.com")))  # type: ignore[arg-type]
    assert caught.value.reason == "PRINCIPAL_INACTIVE"
    assert "user:ana@example.com is deactivated" in caught.value.message
    assert "modelward principals activate user:ana@example.com" in caught.value.message


async def test_inactive_certificate_principal_denied() -> None:
    open_guard = inactive_guard()
    identity = await open_guard.admit("/svc/Read", {"name": "models/churn"}, CertificateContext("scorer.internal"))  # type: ignore[arg-type]
    assert identity is not None
    assert identity.method == "certificate"

    locked = inactive_guard("user:ana@example.com")
    with pytest.raises(PermissionDenied) as caught:
        await locked.admit("/svc/Read", {"name": "models/churn"}, CertificateContext("scorer.internal"))  # type: ignore[arg-type]
    assert caught.value.reason == "PRINCIPAL_INACTIVE"


async def test_inactive_group_member_still_denied() -> None:
    # The caller's own principal decides, whatever bindings its groups carry.
    locked = inactive_guard("user:ana@example.com")
    token = issuer().mint("user:ana@example.com", groups=["admins"])
    with pytest.raises(PermissionDenied):
        await locked.admit("/svc/Read", {"name": "models/churn"}, Context(token))  # type: ignore[arg-type]


async def test_bootstrap_admin_never_inactive() -> None:
    token = "b" * 40
    locked = inactive_guard(BOOTSTRAP_PRINCIPAL, bootstrap_token=token)
    identity = await locked.admit("/svc/Write", {"name": "models/churn"}, Context(token))  # type: ignore[arg-type]
    assert identity is not None
    assert identity.principal == BOOTSTRAP_PRINCIPAL


async def test_group_subject_unauthenticated() -> None:
    grouped = guard(Binding("b1", "group:admins", Role.ADMIN))
    with pytest.raises(Unauthenticated) as caught:
        await grouped.admit("/svc/Read", {"name": "models/churn"}, Context(issuer().mint("group:admins")))  # type: ignore[arg-type]
    assert caught.value.reason == "PRINCIPAL_INVALID"
    assert "JWT claim sub 'group:admins' names a group" in caught.value.message


async def test_team_subject_admitted() -> None:
    # Teams can be deactivated, so a JWT may act as one.
    teams = guard(Binding("b1", "team:alpha", Role.VIEWER))
    assert await admitted(teams, "/svc/Read", "team:alpha", {"name": "models/churn"})


async def test_subject_case_folded() -> None:
    allowed = guard(Binding("b1", "user:ana@example.com", Role.VIEWER))
    identity = await allowed.admit("/svc/Read", {"name": "models/churn"}, Context(issuer().mint("ANA@example.COM")))  # type: ignore[arg-type]
    assert identity is not None
    assert identity.principal == "user:ana@example.com"
    # Owners compare in canonical form too.
    assert await admitted(guard(), "/svc/Write", "user:OLGA@example.com", {"name": "models/churn"})


async def test_inactive_any_case_denied() -> None:
    locked = inactive_guard("user:ana@example.com")
    with pytest.raises(PermissionDenied) as caught:
        await locked.admit("/svc/Read", {"name": "models/churn"}, Context(issuer().mint("Ana@Example.com")))  # type: ignore[arg-type]
    assert caught.value.reason == "PRINCIPAL_INACTIVE"


@dataclass
class TokenDirectory(Directory):
    """A directory that stores one API token for a group, as CreateApiToken allowed before."""

    record: TokenRecord | None = None

    async def token(self, token_id: str) -> TokenRecord | None:
        return self.record if self.record is not None and self.record.token_id == token_id else None


async def test_group_api_token_unauthenticated() -> None:
    created = api_tokens.generate_api_token()
    directory = TokenDirectory([Binding("b1", "group:admins", Role.ADMIN)])
    directory.record = TokenRecord(created.token_id, "group:admins", created.secret_sha256, None, None)
    authenticator = Authenticator(directory)  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated) as caught:
        await authenticator.from_authorization(f"Bearer {created.secret}")
    assert caught.value.reason == "PRINCIPAL_INVALID"
    assert "group:admins" in caught.value.message
    assert "revoke it" in caught.value.message
