"""`modelward dead-letters` and `modelward principals`: commands for operators of governance."""

from __future__ import annotations

import argparse

from modelward_common.arguments import positive_int
from modelward_cli.common import (
    Subparsers, add_actions, add_command, command, governance_client, print_fields, print_item, print_json,
    print_table,
)
from google.protobuf import timestamp_pb2

from modelward_cli.l10n import timestamp_text
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_sdk.names import enum_choices, enum_label


def register(subparsers: Subparsers) -> None:
    letters = add_actions(subparsers, "dead-letters",
                          "list the registry events governance parked after repeated failures, and retry them")
    listing = add_command(letters, "list", "list parked events, oldest failure first")
    listing.add_argument("--state", choices=enum_choices(gres.DeadLetterState),
                         help="only this state: parked (waiting) or applied (retried) (default: every state)")
    listing.add_argument("--limit", type=positive_int, default=100,
                         help="print at most this many dead letters (default: %(default)s)")
    listing.set_defaults(handler=_list_dead_letters)

    retry = add_command(letters, "retry", "apply a parked event again, once its cause is fixed")
    retry.add_argument("name", metavar="NAME", help="dead letter name, deadLetters/<id>, as 'list' prints it")
    retry.add_argument("--reason", default="",
                       help="why the event is retried; governance writes it to its log with your principal "
                            "(default: none)")
    retry.set_defaults(handler=_retry_dead_letter)

    principals = add_actions(subparsers, "principals",
                             "mark people and teams inactive when they leave, so their models count as orphaned")
    for action, active, text in (
        ("deactivate", False, "mark a principal inactive; the models it owns are flagged orphaned"),
        ("activate", True, "mark a principal active again; its models' orphan flags clear"),
    ):
        parser = add_command(principals, action, text)
        parser.add_argument("principal", metavar="PRINCIPAL", help="such as user:ana@example.com or team:fraud")
        parser.add_argument("--reason", required=True, help="required: why, kept in governance's events")
        parser.set_defaults(handler=_set_principal_active, active=active)


def _show_dead_letter(letter: gres.DeadLetter) -> list[tuple[str, object]]:
    return [
        ("name", letter.name),
        ("state", enum_label(gres.DeadLetterState, letter.state)),
        ("event", f"{letter.event_type} {letter.event_id}"),
        ("subject", letter.subject),
        ("stream", f"{letter.stream} #{letter.stream_sequence}"),
        ("attempts", letter.attempts),
        ("first failure", timestamp_text(letter.first_failure_time)),
        ("last failure", timestamp_text(letter.last_failure_time)),
        ("applied", timestamp_text(letter.apply_time)),
        ("error", letter.error),
    ]


@command
def _list_dead_letters(args: argparse.Namespace) -> int:
    with governance_client(args) as governance:
        letters = []
        for letter in governance.list_dead_letters(state=args.state or 0, page_size=min(args.limit, 1000)):
            letters.append(letter)
            if len(letters) >= args.limit:
                break
    if args.output == "json":
        print_json(letters)
        return 0
    print_table(
        ["name", "state", "event type", "attempts", "last failure", "error"],
        [
            (letter.name, enum_label(gres.DeadLetterState, letter.state), letter.event_type.rsplit(".", 1)[-1],
             letter.attempts, timestamp_text(letter.last_failure_time), letter.error)
            for letter in letters
        ],
    )
    return 0


@command
def _retry_dead_letter(args: argparse.Namespace) -> int:
    with governance_client(args) as governance:
        letter = governance.retry_dead_letter(args.name, reason=args.reason)
    print_item(args.output, letter, _show_dead_letter)
    return 0


@command
def _set_principal_active(args: argparse.Namespace) -> int:
    with governance_client(args) as governance:
        principal = governance.set_principal_active(args.principal, args.active, reason=args.reason)
    if args.output == "json":
        print_json(principal)
    else:
        # Every field, not only those ListFields returns, so `active` shows `no` as well as `yes`.
        values = [(field.name, getattr(principal, field.name)) for field in principal.DESCRIPTOR.fields]
        print_fields([
            (name, timestamp_text(value) if isinstance(value, timestamp_pb2.Timestamp) else value)
            for name, value in values
        ])
    return 0
