"""`modelward models ...` and `modelward history`: models in the registry and their events."""

from __future__ import annotations

import argparse

from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_common.arguments import positive_int
from modelward_cli.common import (
    Subparsers, add_actions, add_command, command, key_value, print_fields, print_json,
    print_table, registry_client,
)
from modelward_cli.l10n import timestamp_text
from modelward_sdk.names import enum_choices, enum_label

RISK_TIERS = enum_choices(res.RiskTier)


def register(subparsers: Subparsers) -> None:
    actions = add_actions(subparsers, "models", "create, show, list and change models in the registry")

    create = add_command(actions, "create", "register a new model")
    create.add_argument("model_id", metavar="MODEL", help="the new model's id: 1-128 letters, digits, '.', '_', '-'")
    _add_model_fields(create)
    create.add_argument("--request-id", help="idempotency key: a rerun with the same key returns the first result "
                                             "(default: a random key per run)")
    create.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
    create.set_defaults(handler=_create)

    get = add_command(actions, "get", "show one model")
    get.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    get.set_defaults(handler=_get)

    listing = add_command(actions, "list", "list models")
    listing.add_argument("--filter", default="", help="filter expression, such as 'owner = \"team:fraud\"' (default: none)")
    listing.add_argument("--order-by", default="", help="fields with optional 'desc', such as 'update_time desc' "
                                                        "(default: the service's order, by name)")
    listing.add_argument("--show-deleted", action="store_true", help="include DELETED models (default: left out)")
    listing.add_argument("--page-size", type=positive_int, default=100, metavar="N",
                         help="models fetched per call; all pages are listed (default: %(default)s)")
    listing.set_defaults(handler=_list)

    update = add_command(actions, "update", "change a model's fields; fields not given keep their value")
    update.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    _add_model_fields(update, defaults=False)
    update.add_argument("--etag", default="", help="fail when the model changed since this etag (default: no check)")
    update.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
    update.set_defaults(handler=_update)

    rename = add_command(actions, "rename", "give a model a new id; its uid and history stay")
    rename.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    rename.add_argument("new_model_id", metavar="NEW_MODEL", help="the new id")
    rename.add_argument("--etag", default="", help="fail when the model changed since this etag (default: no check)")
    rename.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
    rename.set_defaults(handler=_rename)

    for name, help_text, handler in (
        ("archive", "archive a model: its versions stop serving", _archive),
        ("delete", "mark a model DELETED; its name stays reserved and its history readable", _delete),
    ):
        parser = add_command(actions, name, help_text)
        parser.add_argument("model", metavar="MODEL", help="model id or models/<id>")
        parser.add_argument("--etag", default="", help="fail when the model changed since this etag (default: no check)")
        parser.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
        parser.set_defaults(handler=handler)

    history = add_command(subparsers, "history", "list a model's events, oldest first")
    history.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    history.add_argument("--after", type=int, default=0, metavar="STREAM_VERSION",
                         help="only events after this stream version (default: %(default)s, every event)")
    history.set_defaults(handler=_history)


def _add_model_fields(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    empty = "" if defaults else None
    parser.add_argument("--owner", default=empty, help="accountable principal: user:<email>, team:<slug> or "
                                                       "service:<slug> (default: none)")
    parser.add_argument("--team", default=empty, help="team name (default: none)")
    parser.add_argument("--description", default=empty, help="free text (default: none)")
    parser.add_argument("--risk-tier", choices=RISK_TIERS, default=None,
                        help="selects policy thresholds and approvals (default: unspecified)")
    parser.add_argument("--task-type", default=empty, help="such as binary_classification or regression (default: none)")
    parser.add_argument("--tag", type=key_value, action="append", metavar="KEY=VALUE",
                        help="a tag; repeat for more (default: none). On update the given tags replace all tags")


@command
def _create(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        model = registry.create_model(
            args.model_id, owner=args.owner, team=args.team, description=args.description,
            risk_tier=args.risk_tier or 0, task_type=args.task_type, tags=dict(args.tag or []),
            request_id=args.request_id, reason=args.reason,
        )
    _show(model, args.output)


@command
def _get(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        _show(registry.get_model(args.model), args.output)


@command
def _list(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        models = list(registry.list_models(
            filter=args.filter, order_by=args.order_by, show_deleted=args.show_deleted, page_size=args.page_size,
        ))
    if args.output == "json":
        print_json(models)
        return
    print_table(
        ["MODEL", "OWNER", "RISK", "STATE", "LATEST", "ALIASES", "UPDATED"],
        [
            [model.model_id, model.owner, enum_label(res.RiskTier, model.risk_tier),
             enum_label(res.ModelState, model.state), model.latest_version,
             [f"{alias}={version}" for alias, version in sorted(model.aliases.items())],
             timestamp_text(model.update_time)]
            for model in models
        ],
    )


@command
def _update(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        model = registry.update_model(
            args.model, owner=args.owner, team=args.team, description=args.description, risk_tier=args.risk_tier,
            task_type=args.task_type, tags=None if args.tag is None else dict(args.tag),
            etag=args.etag, reason=args.reason,
        )
    _show(model, args.output)


@command
def _rename(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        _show(registry.rename_model(args.model, args.new_model_id, etag=args.etag, reason=args.reason), args.output)


@command
def _archive(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        _show(registry.archive_model(args.model, etag=args.etag, reason=args.reason), args.output)


@command
def _delete(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        _show(registry.delete_model(args.model, etag=args.etag, reason=args.reason), args.output)


@command
def _history(args: argparse.Namespace) -> None:
    with registry_client(args) as registry:
        entries = list(registry.history(args.model, after_stream_version=args.after))
    if args.output == "json":
        print_json(entries)
        return
    print_table(
        ["#", "TIME", "EVENT", "ACTOR", "SUBJECT", "REASON"],
        [[entry.stream_version, timestamp_text(entry.time), entry.type, entry.actor, entry.subject, entry.reason]
         for entry in entries],
    )


def _show(model: res.Model, output: str) -> None:
    if output == "json":
        print_json(model)
        return
    print_fields([
        ("name", model.name),
        ("uid", model.uid),
        ("owner", model.owner),
        ("team", model.team),
        ("description", model.description),
        ("risk tier", enum_label(res.RiskTier, model.risk_tier)),
        ("task type", model.task_type),
        ("state", enum_label(res.ModelState, model.state)),
        ("latest version", model.latest_version),
        ("aliases", [f"{alias}={version}" for alias, version in sorted(model.aliases.items())]),
        ("tags", [f"{key}={value}" for key, value in sorted(model.tags.items())]),
        ("created", timestamp_text(model.create_time)),
        ("updated", timestamp_text(model.update_time)),
        ("etag", model.etag),
    ])
