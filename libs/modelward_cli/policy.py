"""`modelward policy validate|dry-run|apply`: check, try and store a governance policy."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelward_cli.common import (
    EXIT_INVALID, Subparsers, add_actions, add_command, command, escape_controls, governance_client, print_fields,
    print_json, print_table, read_text_file, to_json_value,
)
from modelward_cli.l10n import timestamp_text
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_sdk.names import enum_label


def register(subparsers: Subparsers) -> None:
    actions = add_actions(subparsers, "policy", "validate, dry-run and apply governance policies written in YAML")

    validate = add_command(actions, "validate", "check a policy file without storing it; exits 4 when it is invalid")
    validate.add_argument("file", type=Path, metavar="FILE", help="policy YAML file")
    validate.set_defaults(handler=_validate)

    dry_run = add_command(actions, "dry-run", "show what a policy would pass and fail, changing nothing")
    dry_run.add_argument("file", type=Path, metavar="FILE", help="policy YAML file")
    dry_run.add_argument("--filter", default="", help="try it on part of the portfolio, such as 'team = \"fraud\"' "
                                                      "(default: every model)")
    dry_run.add_argument("--all", action="store_true", help="list passing results too (default: failing only)")
    dry_run.set_defaults(handler=_dry_run)

    apply = add_command(actions, "apply", "store a policy as the new revision and re-evaluate every model")
    apply.add_argument("file", type=Path, metavar="FILE", help="policy YAML file")
    apply.add_argument("--etag", default="", help="fail when another revision was stored since this etag "
                                                  "(default: no check)")
    apply.add_argument("--reason", default="", help="why, kept with the revision (default: none)")
    apply.set_defaults(handler=_apply)


@command
def _validate(args: argparse.Namespace) -> int:
    yaml_text = read_text_file(args.file)
    with governance_client(args) as governance:
        checked = governance.validate_policy(yaml_text)
    if args.output == "json":
        print_json(checked)
    elif checked.valid:
        print(f"{args.file} is valid: {len(checked.rules)} rules, sha256 {checked.sha256}")
        print_table(["LINE", "RULE", "KIND", "SEVERITY", "BLOCKS"], [
            [rule.line, rule.id, enum_label(gres.RuleKind, rule.kind), enum_label(gres.Severity, rule.severity),
             rule.blocks_promotion] for rule in checked.rules
        ])
    else:
        for problem in checked.problems:
            where = f"{problem.field}: " if problem.field else ""
            print(escape_controls(f"{args.file} line {problem.line}: {where}{problem.message}"))
    return 0 if checked.valid else EXIT_INVALID


@command
def _dry_run(args: argparse.Namespace) -> None:
    yaml_text = read_text_file(args.file)
    with governance_client(args) as governance:
        summary = governance.dry_run_policy(yaml_text, filter=args.filter)
    if args.output == "json":
        print_json({
            "sha256": summary.sha256, "models_evaluated": summary.models_evaluated,
            "versions_evaluated": summary.versions_evaluated, "findings_to_open": summary.findings_to_open,
            "findings_to_resolve": summary.findings_to_resolve,
            "results": [to_json_value(result) for result in summary.results],
        })
        return
    print(f"{summary.models_evaluated} models and {summary.versions_evaluated} versions evaluated; "
          f"{summary.findings_to_open} findings would open and {summary.findings_to_resolve} would resolve")
    rows = []
    for result in summary.results:
        for rule in result.results:
            if rule.passed and not args.all:
                continue
            change = "newly failing" if rule.rule_id in result.newly_failing_rule_ids else (
                "newly passing" if rule.rule_id in result.newly_passing_rule_ids else "")
            rows.append([result.model_version or result.model, rule.rule_id, "pass" if rule.passed else "fail",
                         change, rule.message])
    print_table(["SUBJECT", "RULE", "RESULT", "CHANGE", "MESSAGE"], rows)


@command
def _apply(args: argparse.Namespace) -> None:
    yaml_text = read_text_file(args.file)
    with governance_client(args) as governance:
        policy = governance.replace_policy(yaml_text, etag=args.etag, reason=args.reason)
    if args.output == "json":
        print_json(policy)
        return
    print_fields([
        ("policy", policy.name),
        ("revision", policy.revision),
        ("sha256", policy.sha256),
        ("rules", len(policy.rules)),
        ("author", policy.author),
        ("stored", timestamp_text(policy.create_time)),
        ("etag", policy.etag),
    ])
