"""`modelward access`: role bindings and API tokens, through the registry's AccessService.

Only admins may run these actions. With `modelward up`, the admin token in the data folder is
used unless --token or MODELWARD_TOKEN names another.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from modelward_common.arguments import positive_float, positive_int
from modelward_cli.common import (
    Subparsers, add_actions, add_command, command, escape_controls, print_item, print_json,
    print_table,
)
from modelward_cli.l10n import timestamp_text
from modelward_protos.access.v1 import access_service_pb2 as access_pb
from modelward_sdk import AccessClient
from modelward_sdk.names import enum_choices, enum_label

PRINCIPAL_HELP = "user:<email>, group:<slug>, team:<slug> or service:<slug>"


def register(subparsers: Subparsers) -> None:
    access = add_actions(subparsers, "access", "grant roles and create API tokens (admins only)")

    grant = add_command(access, "grant", "bind a role to a principal, everywhere or on one team's or model's models")
    grant.add_argument("principal", metavar="PRINCIPAL", help=PRINCIPAL_HELP)
    grant.add_argument("role", metavar="ROLE", choices=enum_choices(access_pb.Role),
                       help="one of " + ", ".join(enum_choices(access_pb.Role)))
    scope = grant.add_mutually_exclusive_group()
    scope.add_argument("--team", help="only the models of this team, such as fraud (default: every model)")
    scope.add_argument("--model", help="only this model, such as churn or models/churn (default: every model)")
    grant.add_argument("--reason", required=True, help="required: why, kept in the registry's events")
    grant.set_defaults(handler=_grant)

    revoke = add_command(access, "revoke", "delete a role binding")
    revoke.add_argument("name", metavar="BINDING_NAME", help="roleBindings/<id>, as 'bindings' prints it")
    revoke.add_argument("--reason", default="", help="why, kept in the registry's events (default: none)")
    revoke.set_defaults(handler=_revoke)

    bindings = add_command(access, "bindings", "list role bindings, oldest first")
    _add_principal_filter(bindings, "bindings")
    _add_limit(bindings, "bindings")
    bindings.set_defaults(handler=_list_bindings)

    token = add_actions(access, "token", "create and revoke API tokens")
    create = add_command(token, "create", "create an API token for a principal and print its secret, "
                                          "which is shown only this once")
    create.add_argument("principal", metavar="PRINCIPAL", help=f"identity the token authenticates as: {PRINCIPAL_HELP}")
    create.add_argument("--display-name", default="", help="label shown in 'tokens', at most 200 characters "
                                                           "(default: none)")
    create.add_argument("--expires-in", type=positive_float, metavar="SECONDS",
                        help="seconds until the token expires (default: it does not expire)")
    create.add_argument("--reason", default="", help="why, kept in the registry's events (default: none)")
    create.set_defaults(handler=_create_token)

    revoke_token = add_command(token, "revoke", "revoke an API token; calls with it fail from then on")
    revoke_token.add_argument("name", metavar="NAME", help="apiTokens/<id>, as 'tokens' prints it")
    revoke_token.add_argument("--reason", default="", help="why, kept in the registry's events (default: none)")
    revoke_token.set_defaults(handler=_revoke_token)

    tokens = add_command(access, "tokens", "list API tokens without their secrets, oldest first")
    _add_principal_filter(tokens, "tokens")
    tokens.add_argument("--show-revoked", action="store_true", help="include revoked tokens (default: leave them out)")
    _add_limit(tokens, "tokens")
    tokens.set_defaults(handler=_list_tokens)


def _add_principal_filter(parser: argparse.ArgumentParser, what: str) -> None:
    listing = parser.add_argument_group("listing")
    listing.add_argument("--principal", dest="of_principal", metavar="PRINCIPAL",
                         help=f"only the {what} of this principal (default: every principal)")


def _add_limit(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--limit", type=positive_int, default=100,
                        help=f"print at most this many {what} (default: %(default)s)")


def access_client(args: argparse.Namespace) -> AccessClient:
    # The AccessService is served by the registry, so --registry names its address.
    return AccessClient(args.registry, token=args.token, timeout=args.timeout)


def scope_text(scope: access_pb.Scope) -> str:
    if scope.team:
        return f"team:{scope.team}"
    if scope.model or scope.model_uid:
        return scope.model or f"model uid {scope.model_uid}"
    return "every model"


def _binding_fields(binding: access_pb.RoleBinding) -> list[tuple[str, object]]:
    return [
        ("name", binding.name),
        ("principal", binding.principal),
        ("role", enum_label(access_pb.Role, binding.role)),
        ("scope", scope_text(binding.scope)),
        ("created", timestamp_text(binding.create_time)),
        ("created by", binding.created_by),
    ]


def _token_fields(token: access_pb.ApiToken) -> list[tuple[str, object]]:
    return [
        ("name", token.name),
        ("principal", token.principal),
        ("display name", token.display_name),
        ("created", timestamp_text(token.create_time)),
        ("expires", timestamp_text(token.expire_time) if token.HasField("expire_time") else "never"),
        ("revoked", timestamp_text(token.revoke_time)),
        ("created by", token.created_by),
    ]


@command
def _grant(args: argparse.Namespace) -> int:
    with access_client(args) as access:
        binding = access.create_role_binding(
            args.principal, args.role, team=args.team or "", model=args.model or "", reason=args.reason,
        )
    print_item(args.output, binding, _binding_fields)
    return 0


@command
def _revoke(args: argparse.Namespace) -> int:
    with access_client(args) as access:
        binding = access.delete_role_binding(args.name, reason=args.reason)
    if args.output == "json":
        print_json(binding)
    else:
        print(f"deleted {binding.name}: {binding.principal} is no longer "
              f"{enum_label(access_pb.Role, binding.role)} on {scope_text(binding.scope)}")
    return 0


@command
def _list_bindings(args: argparse.Namespace) -> int:
    with access_client(args) as access:
        bindings = []
        for binding in access.list_role_bindings(principal=args.of_principal or "", page_size=min(args.limit, 1000)):
            bindings.append(binding)
            if len(bindings) >= args.limit:
                break
    if args.output == "json":
        print_json(bindings)
        return 0
    print_table(
        ["name", "principal", "role", "scope", "created", "created by"],
        [[value for _, value in _binding_fields(binding)] for binding in bindings],
    )
    return 0


@command
def _create_token(args: argparse.Namespace) -> int:
    expires = dt.timedelta(seconds=args.expires_in) if args.expires_in is not None else None
    with access_client(args) as access:
        created = access.create_api_token(
            args.principal, display_name=args.display_name, expire_time=expires, reason=args.reason,
        )
    # The secret alone goes to stdout, so `TOKEN=$(modelward access token create ...)` captures it.
    print(f"modelward: the secret of {created.api_token.name} is shown only now; store it, "
          "it cannot be read again", file=sys.stderr)
    if args.output == "json":
        print_json(created)
        return 0
    for label, value in _token_fields(created.api_token):
        if label not in ("revoked", "created by"):
            print(f"  {label}: {escape_controls(str(value or '-'))}", file=sys.stderr)
    print(created.secret)
    return 0


@command
def _revoke_token(args: argparse.Namespace) -> int:
    with access_client(args) as access:
        token = access.revoke_api_token(args.name, reason=args.reason)
    print_item(args.output, token, _token_fields)
    return 0


@command
def _list_tokens(args: argparse.Namespace) -> int:
    with access_client(args) as access:
        tokens = []
        listing = access.list_api_tokens(
            principal=args.of_principal or "", show_revoked=args.show_revoked, page_size=min(args.limit, 1000),
        )
        for token in listing:
            tokens.append(token)
            if len(tokens) >= args.limit:
                break
    if args.output == "json":
        print_json(tokens)
        return 0
    columns = ["name", "principal", "display name", "created", "expires", "revoked"]
    print_table(columns, [[dict(_token_fields(token))[column] for column in columns] for token in tokens])
    return 0
