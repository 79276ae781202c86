"""Authenticate every call and check the permission its RPC declares.

The error interceptor in grpc_server.py runs `CallGuard.admit` before each handler, so a
rejected call becomes UNAUTHENTICATED or PERMISSION_DENIED like any other ModelwardError.
Health checking and reflection need no credentials.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hmac
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc

from modelward_common.auth import api_tokens
from modelward_common.auth.identity import Identity
from modelward_common.auth.jwt import JwtSettings, JwtVerifier, token_error
from modelward_common.auth.roles import (
    OWNER_PERMISSIONS,
    ROLE_PERMISSIONS,
    ModelResolverFn,
    Permission,
    Rule,
    allowed_globally,
    allowed_on_model,
    allowed_on_team,
    grants,
    model_id_in,
)
from modelward_common.auth.scope import scope_of
from modelward_common.auth.store import AccessDirectory
from modelward_common.errors import PermissionDenied, Unauthenticated
from modelward_common.principals import PRINCIPAL_RULE, canonical_principal, is_group, is_valid_principal

logger = logging.getLogger(__name__)

AUTHORIZATION_HEADER = "authorization"
BOOTSTRAP_PRINCIPAL = "service:bootstrap-admin"
EXEMPT_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
# Shortest bootstrap token accepted: 32 characters carry at least 128 bits when random.
MIN_BOOTSTRAP_TOKEN = 32

ModelResolver = ModelResolverFn

def is_exempt(method: str) -> bool:
    return method.startswith(EXEMPT_METHOD_PREFIXES)


def read_bootstrap_token(path: str) -> str:
    """Read a bootstrap admin token file; raise ValueError when it is unusable."""
    token = Path(path).read_text(encoding="utf-8").strip()
    if len(token) < MIN_BOOTSTRAP_TOKEN:
        raise ValueError(f"admin token file {path} holds {len(token)} characters; write at least {MIN_BOOTSTRAP_TOKEN}")
    return token


# JWT identities the Authenticator keeps; the oldest goes first.
_JWT_IDENTITIES_KEPT = 10_000


class Authenticator:
    """Turn a call's bearer token or client certificate into an Identity."""

    def __init__(
        self,
        directory: AccessDirectory,
        *,
        jwt: JwtSettings | None = None,
        bootstrap_tokens: tuple[str, ...] = (),
        certificate_principals: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.jwt_settings = jwt
        self.jwt = JwtVerifier(jwt) if jwt is not None else None
        self._bootstrap_digests = tuple(api_tokens.digest(token) for token in bootstrap_tokens)
        self.certificate_principals = dict(certificate_principals or {})
        # Identities of JWTs seen lately, so that each token's claims are interpreted once.
        self._jwt_identities: collections.OrderedDict[str, Identity] = collections.OrderedDict()

    async def authenticate(self, context: grpc.aio.ServicerContext) -> Identity:
        headers = [str(item.value) for item in context.invocation_metadata() or () if item.key == AUTHORIZATION_HEADER]
        if len(headers) > 1:
            # Picking one would make the caller's identity depend on header order, which proxies
            # may change, so a call with several credentials is rejected whatever they contain.
            raise Unauthenticated(
                f"the call sent {len(headers)} 'authorization' metadata entries; "
                "send exactly one 'authorization: Bearer <token>'",
                field=AUTHORIZATION_HEADER, reason="CREDENTIALS_DUPLICATED",
            )
        header = headers[0] if headers else ""
        if header:
            return await self.from_authorization(header)
        identity = self.from_certificate(context.auth_context())
        if identity is not None:
            return identity
        raise Unauthenticated(
            "missing credentials: send the metadata 'authorization: Bearer <token>' with a JWT or an API token",
            field=AUTHORIZATION_HEADER, reason="CREDENTIALS_MISSING",
        )

    async def from_authorization(self, header: str) -> Identity:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise token_error("CREDENTIALS_MALFORMED", "the authorization metadata must be 'Bearer <token>'")
        if self._is_bootstrap(token):
            return Identity(BOOTSTRAP_PRINCIPAL, method="bootstrap", superuser=True)
        if api_tokens.looks_like_api_token(token):
            return await self._from_api_token(token)
        if self.jwt is None:
            raise token_error(
                "TOKEN_NOT_ACCEPTED", "this service accepts no JWTs (no issuer is configured); send an API token"
            )
        claims = self.jwt.verify(token)
        # verify() checks expiry on every call; the identity a token's claims give never changes.
        identity = self._jwt_identities.get(token)
        if identity is None:
            identity = self._from_claims(claims)
            self._jwt_identities[token] = identity
            if len(self._jwt_identities) > _JWT_IDENTITIES_KEPT:
                self._jwt_identities.popitem(last=False)
        return identity

    def _is_bootstrap(self, token: str) -> bool:
        if not self._bootstrap_digests:
            return False
        digest = api_tokens.digest(token)
        # Compare with every digest, so timing reveals neither a match nor its position.
        matches = [hmac.compare_digest(digest, known) for known in self._bootstrap_digests]
        return any(matches)

    async def _from_api_token(self, token: str) -> Identity:
        token_id = api_tokens.token_id_of(token)
        if token_id is None:
            raise token_error("TOKEN_MALFORMED", "the API token is not of the form mwt_<32 hex digits>_<43 characters>")
        record = await self.directory.token(token_id)
        if record is None or not api_tokens.digests_equal(token, record.secret_sha256):
            raise token_error("TOKEN_UNKNOWN", f"API token {token_id} is not known or its secret does not match")
        if record.revoke_time is not None:
            raise token_error("TOKEN_REVOKED", f"API token {token_id} was revoked at {record.revoke_time.isoformat()}")
        if record.expire_time is not None and record.expire_time <= dt.datetime.now(dt.UTC):
            raise token_error("TOKEN_EXPIRED", f"API token {token_id} expired at {record.expire_time.isoformat()}")
        if is_group(record.principal):
            # CreateApiToken rejects groups now; a token stored before that still authenticates no one.
            raise token_error(
                "PRINCIPAL_INVALID",
                f"API token {token_id} acts as {record.principal}, and a group cannot be deactivated: "
                "revoke it and create a token for a user: or service: principal",
            )
        return Identity(canonical_principal(record.principal), method="api_token")

    def _from_claims(self, claims: dict[str, Any]) -> Identity:
        assert self.jwt_settings is not None
        claim = self.jwt_settings.principal_claim
        value = claims.get(claim)
        if not isinstance(value, str) or not value:
            raise token_error("PRINCIPAL_INVALID", f"JWT claim {claim!r} is missing or not a string")
        sent = value if ":" in value else f"user:{value}"
        shown = sent if len(sent) <= 80 else sent[:77] + "..."
        principal = canonical_principal(sent)
        if not is_valid_principal(principal):
            raise token_error("PRINCIPAL_INVALID", f"JWT claim {claim} {shown!r} is invalid: use {PRINCIPAL_RULE}")
        if is_group(principal):
            raise token_error(
                "PRINCIPAL_INVALID",
                f"JWT claim {claim} {shown!r} names a group, which cannot be deactivated: the issuer must put a "
                f"user:, service: or team: principal in {claim} and group slugs in the {self.jwt_settings.groups_claim} claim",
            )
        groups = claims.get(self.jwt_settings.groups_claim, [])
        members = tuple(
            f"group:{group}" for group in (groups if isinstance(groups, list) else [])
            if isinstance(group, str) and is_valid_principal(f"group:{group}")
        )
        return Identity(principal, groups=members, method="jwt")

    def from_certificate(self, auth_context: Mapping[str, Any]) -> Identity | None:
        if not self.certificate_principals:
            return None
        names = [*auth_context.get("x509_common_name", ()), *auth_context.get("x509_subject_alternative_name", ())]
        for raw in names:
            name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            principal = self.certificate_principals.get(name)
            if principal is not None:
                return Identity(principal, method="certificate")
        return None


class CallGuard:
    """Authenticate a call and check the permission of its RPC from one table per service."""

    def __init__(
        self,
        rules: Mapping[str, Rule],
        authenticator: Authenticator,
        directory: AccessDirectory,
        resolve_model: ModelResolver,
    ) -> None:
        self.rules = dict(rules)
        self.authenticator = authenticator
        self.directory = directory
        self.resolve_model = resolve_model

    async def admit(self, method: str, request: Any | None, context: grpc.aio.ServicerContext) -> Identity | None:
        """Return the caller's identity, or None for exempt methods; raise when not allowed.

        `request` is the first message of a client-streaming call, or None when the stream sent
        none, and then the call needs the permission globally. A request or first message that
        names no resource gets the rule's `check_first_message` error when the caller's bindings grant the
        permission on some models. On a filtered rule the returned identity may carry a ModelScope.
        """
        if is_exempt(method):
            return None
        rule = self.rules.get(method)
        if rule is None:
            # Fail closed: an RPC without a declared permission is callable by no one.
            raise PermissionDenied(f"{method} declares no permission, so no caller may use it", reason="NO_PERMISSION_DECLARED")
        identity = await self.authenticator.authenticate(context)
        await self.reject_inactive(identity)
        return await self.authorize(identity, rule, request, method)

    async def reject_inactive(self, identity: Identity) -> None:
        """Raise PermissionDenied when governance marked the caller's principal inactive.

        The status is PERMISSION_DENIED, not UNAUTHENTICATED, because the credential is valid and
        a new token for the same principal would be rejected as well. The bootstrap admin is never
        inactive, so it can always reactivate a principal.
        """
        if identity.superuser or not await self.directory.is_inactive(identity.principal):
            return
        raise PermissionDenied(
            f"{identity.principal} is deactivated, so every token and certificate of it is rejected; "
            f"an admin can reactivate it with 'modelward principals activate {identity.principal} --reason ...' "
            "(governance's SetPrincipalActive)",
            reason="PRINCIPAL_INACTIVE",
        )

    async def authorize(self, identity: Identity, rule: Rule, request: Any | None, method: str) -> Identity:
        """Return the identity, with a ModelScope when only scoped bindings admit a filtered call."""
        if identity.superuser:
            return identity
        permission = rule.permission
        bindings = await self.directory.bindings_for(identity.principals())
        if allowed_globally(bindings, permission):
            return identity
        target = ""
        if request is not None and rule.team is not None:
            team = rule.team(request)
            if allowed_on_team(bindings, permission, team):
                return identity
            target = f" for team {team!r}" if team else ""
        if request is not None and rule.filtered and not (rule.resource is not None and model_id_in(rule.resource(request))):
            scope = scope_of(bindings, identity.principals(), permission)
            if scope is not None:
                return dataclasses.replace(identity, model_scope=scope)
        if request is not None and rule.resource is not None:
            name = rule.resource(request)
            scoped = any(not binding.is_global and grants(binding, permission) for binding in bindings)
            if not name and scoped and rule.check_first_message is not None:
                rule.check_first_message(request)
            if name and (scoped or permission in OWNER_PERMISSIONS):
                model = await self.resolve_model(name)
                if model is not None and allowed_on_model(bindings, identity.principals(), permission, model):
                    return identity
            target = f" on {name!r}" if name else ""
        raise denied(identity, permission, method, target)


def denied(identity: Identity, permission: Permission, method: str, target: str) -> PermissionDenied:
    roles = ", ".join(role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted)
    return PermissionDenied(
        f"{identity.principal} lacks permission {permission.value}{target} needed by {method.rsplit('/', 1)[-1]}; "
        f"ask an admin for a role binding with one of the roles {roles}",
        reason="PERMISSION_DENIED",
    )
