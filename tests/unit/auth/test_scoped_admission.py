"""CallGuard on filtered rules: which callers a list admits, and the ModelScope it hands on."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from modelward_common.auth.guard import Authenticator, CallGuard
from modelward_common.auth.identity import Identity
from modelward_common.auth.jwt import JwtSettings
from modelward_common.auth.roles import Binding, ModelRef, Permission, Role, Rule
from modelward_common.auth.scope import ModelScope
from modelward_common.errors import InvalidArgument, PermissionDenied
from tests.support.auth import AUDIENCE, ISSUER, issuer
from tests.unit.auth.test_guard import Context, Directory

def _require_version(request: dict[str, str]) -> None:
    if not request["model_version"]:
        raise InvalidArgument("model_version", "", "set it in the first message")


MODELS = {"models/churn": ModelRef("uid-churn", "growth", "user:olga@example.com")}
RULES = {
    "/svc/List": Rule(Permission.MODELS_READ, lambda request: request.get("parent", ""), filtered=True),
    "/svc/ListWrites": Rule(Permission.MODELS_WRITE, filtered=True),
    "/svc/Upload": Rule(Permission.MONITORING_REPORT, lambda request: request["model_version"]),
    "/svc/UploadChecked": Rule(
        Permission.MONITORING_REPORT, lambda request: request["model_version"], check_first_message=_require_version,
    ),
}


def guard(*bindings: Binding) -> CallGuard:
    directory = Directory(list(bindings))
    settings = JwtSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(issuer().jwks_file))

    async def resolve(name: str) -> ModelRef | None:
        return MODELS.get(name.split("/versions/")[0])

    return CallGuard(RULES, Authenticator(directory, jwt=settings), directory, resolve)  # type: ignore[arg-type]


async def admit(guard: CallGuard, method: str, principal: str, request: dict[str, str] | None) -> Identity:
    identity = await guard.admit(method, request, Context(issuer().mint(principal)))  # type: ignore[arg-type]
    assert identity is not None
    return identity


async def test_scoped_viewer_admitted_with_scope() -> None:
    scoped = guard(
        Binding("b1", "user:vera@example.com", Role.VIEWER, team="fraud"),
        Binding("b2", "user:vera@example.com", Role.VIEWER, model_uid="uid-churn"),
    )
    identity = await admit(scoped, "/svc/List", "user:vera@example.com", {})
    assert identity.model_scope == ModelScope(
        model_uids=frozenset({"uid-churn"}), teams=frozenset({"fraud"}), owners=frozenset({"user:vera@example.com"})
    )
    listed_any = await admit(scoped, "/svc/List", "user:vera@example.com", {"parent": "models/-"})
    assert listed_any.model_scope == identity.model_scope


async def test_global_binding_needs_no_scope() -> None:
    everywhere = guard(Binding("b1", "user:gus@example.com", Role.VIEWER))
    assert (await admit(everywhere, "/svc/List", "user:gus@example.com", {})).model_scope is None


async def test_named_model_checked_not_scoped() -> None:
    scoped = guard(Binding("b1", "user:vera@example.com", Role.VIEWER, model_uid="uid-churn"))
    identity = await admit(scoped, "/svc/List", "user:vera@example.com", {"parent": "models/churn"})
    assert identity.model_scope is None
    with pytest.raises(PermissionDenied, match="models/other"):
        await admit(scoped, "/svc/List", "user:vera@example.com", {"parent": "models/other"})


@pytest.mark.parametrize(
    ("bindings", "method"),
    [
        ((), "/svc/List"),
        ((Binding("b1", "user:vera@example.com", Role.VIEWER, team="fraud"),), "/svc/ListWrites"),
    ],
    ids=["no-binding", "binding-without-permission"],
)
async def test_list_denied_without_granting_binding(bindings: tuple[Binding, ...], method: str) -> None:
    with pytest.raises(PermissionDenied, match="user:vera@example.com lacks permission"):
        await admit(guard(*bindings), method, "user:vera@example.com", {})


async def test_owner_scope_only_for_owner_permissions() -> None:
    scoped = guard(Binding("b1", "user:rita@example.com", Role.REVIEWER, team="fraud"))
    decide = Rule(Permission.PROMOTIONS_DECIDE, filtered=True)
    scoped.rules["/svc/ListDecisions"] = decide
    identity = await admit(scoped, "/svc/ListDecisions", "user:rita@example.com", {})
    assert identity.model_scope == ModelScope(teams=frozenset({"fraud"}))


async def test_stream_checked_against_first_message() -> None:
    serving = guard(Binding("b1", "service:scorer", Role.SERVING, team="growth"))
    await admit(serving, "/svc/Upload", "service:scorer", {"model_version": "models/churn/versions/1"})
    with pytest.raises(PermissionDenied, match="models/fraud/versions/1"):
        await admit(serving, "/svc/Upload", "service:scorer", {"model_version": "models/fraud/versions/1"})
    with pytest.raises(PermissionDenied):
        await admit(serving, "/svc/Upload", "service:scorer", None)


async def test_versionless_first_message_invalid_for_scoped() -> None:
    serving = guard(
        Binding("b1", "service:scorer", Role.SERVING, team="growth"),
        Binding("b2", "user:vera@example.com", Role.VIEWER, team="growth"),
    )
    with pytest.raises(InvalidArgument, match="model_version '' is invalid: set it in the first message"):
        await admit(serving, "/svc/UploadChecked", "service:scorer", {"model_version": ""})
    # Without the permission anywhere, the caller learns nothing about the request.
    for principal in ("service:stranger", "user:vera@example.com"):
        with pytest.raises(PermissionDenied):
            await admit(serving, "/svc/UploadChecked", principal, {"model_version": ""})
    # A rule without the check keeps PERMISSION_DENIED.
    with pytest.raises(PermissionDenied):
        await admit(serving, "/svc/Upload", "service:scorer", {"model_version": ""})


def test_empty_scope_matches_nothing() -> None:
    table = sa.table("models", sa.column("uid"), sa.column("team"), sa.column("owner"))
    condition = ModelScope().condition(table.c.uid, table.c.team, table.c.owner)
    assert str(condition.compile(compile_kwargs={"literal_binds": True})) in {"false", "0 = 1"}
