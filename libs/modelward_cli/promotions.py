"""`modelward promote`, `approve`, `reject` and `check-deployment`: the promotion workflow."""

from __future__ import annotations

import argparse
import time

from modelward_common.arguments import non_negative_float, positive_int
from modelward_cli.common import (
    EXIT_PRECONDITION, Subparsers, add_command, command, governance_client, print_fields,
    print_json, print_table, registry_client,
)
from modelward_cli.l10n import timestamp_text
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_sdk import GovernanceClient, NotFoundError, version_name
from modelward_sdk.names import enum_choices, enum_label

STAGES = [stage for stage in enum_choices(res.Stage) if stage != "none"]
# Seconds between two reads of a promotion while --wait waits for governance's checks.
POLL_INTERVAL = 0.5


def register(subparsers: Subparsers) -> None:
    promote = add_command(subparsers, "promote", "move a version to a stage; into a governed stage this requests a "
                                                 "promotion that governance checks and reviewers approve")
    _add_version_arguments(promote)
    promote.add_argument("--stage", choices=STAGES, default="production", help="target stage (default: %(default)s)")
    promote.add_argument("--keep-existing", action="store_true",
                         help="do not archive the version that served before (default: archive it)")
    promote.add_argument("--wait", type=non_negative_float, default=0.0, metavar="SECONDS",
                         help="wait up to this long for governance's automatic checks and exit 6 when they reject "
                              "the promotion (default: %(default)s, do not wait)")
    promote.add_argument("--reason", default="", help="why, kept in the model's history (default: none)")
    promote.set_defaults(handler=_promote)

    approve = add_command(subparsers, "approve", "approve the pending promotion of a version as the calling reviewer")
    _add_version_arguments(approve)
    approve.add_argument("--comment", default="", help="what the review checked (default: none)")
    approve.set_defaults(handler=_approve)

    reject = add_command(subparsers, "reject", "reject the pending promotion of a version")
    _add_version_arguments(reject)
    reject.add_argument("--comment", required=True, help="required: why the version may not be promoted")
    reject.set_defaults(handler=_reject)

    check = add_command(subparsers, "check-deployment", "tell whether a version may serve; exits 6 when it may not")
    check.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    target = check.add_mutually_exclusive_group(required=True)
    target.add_argument("--version", type=positive_int, help="version number to check")
    target.add_argument("--alias", help="alias to resolve and check, such as champion")
    check.add_argument("--stage", choices=STAGES, default="production",
                       help="stage the version must be in (default: %(default)s)")
    check.set_defaults(handler=_check_deployment)


def _add_version_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model id, models/<id>, or a full version name")
    parser.add_argument("version", metavar="VERSION", type=positive_int, nargs="?",
                        help="version number, unless MODEL is a full version name")


@command
def _promote(args: argparse.Namespace) -> int:
    name = version_name(args.model, args.version)
    with registry_client(args) as registry:
        version = registry.transition_stage(
            name, args.stage, archive_existing=not args.keep_existing, reason=args.reason,
        )
    if not version.pending_stage or args.wait <= 0:
        _show_version_stage(version, args.output)
        return 0
    with governance_client(args) as governance:
        promotion = _wait_for_checks(governance, name, args.wait)
    if promotion is None:
        _show_version_stage(version, args.output)
        return 0
    show_promotion(promotion, args.output)
    return EXIT_PRECONDITION if promotion.state == gres.PROMOTION_STATE_REJECTED else 0


def _wait_for_checks(governance: GovernanceClient, name: str, seconds: float) -> gres.Promotion | None:
    deadline = time.monotonic() + seconds
    promotion = None
    while time.monotonic() < deadline:
        try:
            promotion = governance.get_promotion(name)
        except NotFoundError:
            promotion = None
        if promotion is not None and promotion.state != gres.PROMOTION_STATE_REQUESTED:
            return promotion
        rejected = _latest_rejection(governance, name)
        if rejected is not None:
            return rejected
        time.sleep(POLL_INTERVAL)
    return promotion


def _latest_rejection(governance: GovernanceClient, name: str) -> gres.Promotion | None:
    """Find the version's rejected promotion in the model's list, because a rejected one is no longer open."""
    model = name.split("/versions/")[0]
    for promotion in governance.list_promotions(model=model):
        if promotion.model_version == name:
            return promotion if promotion.state == gres.PROMOTION_STATE_REJECTED else None
    return None


@command
def _approve(args: argparse.Namespace) -> None:
    with governance_client(args) as governance:
        show_promotion(governance.approve_version(version_name(args.model, args.version), comment=args.comment),
                       args.output)


@command
def _reject(args: argparse.Namespace) -> None:
    with governance_client(args) as governance:
        show_promotion(governance.reject_version(version_name(args.model, args.version), comment=args.comment),
                       args.output)


@command
def _check_deployment(args: argparse.Namespace) -> int:
    with governance_client(args) as governance:
        decision = governance.check_deployment(
            args.model, version=args.version, alias=args.alias, required_stage=args.stage,
        )
    if args.output == "json":
        print_json(decision)
    elif decision.allowed:
        print(f"allowed: {decision.model_version} may serve in {args.stage} (policy revision {decision.policy_revision})")
    else:
        print(f"blocked: {decision.model_version} may not serve in {args.stage}")
        print_table(["REASON", "RULE", "MESSAGE"], [
            [enum_label(gres.DenialCode, reason.code), reason.rule_id, reason.message] for reason in decision.reasons
        ])
    return 0 if decision.allowed else EXIT_PRECONDITION


def _show_version_stage(version: res.ModelVersion, output: str) -> None:
    if output == "json":
        print_json(version)
    elif version.pending_stage:
        print(f"{version.name}: promotion to {enum_label(res.Stage, version.pending_stage)} requested; "
              "governance checks it and reviewers approve it")
    else:
        print(f"{version.name} is now in {enum_label(res.Stage, version.stage)}")


def _decision_text(decision: gres.ReviewerDecision) -> str:
    text = f"{decision.reviewer} {enum_label(gres.DecisionOutcome, decision.outcome)}"
    return f"{text} ({decision.comment})" if decision.comment else text


def show_promotion(promotion: gres.Promotion, output: str) -> None:
    if output == "json":
        print_json(promotion)
        return
    approvals = sum(1 for decision in promotion.decisions if decision.outcome == gres.DECISION_OUTCOME_APPROVE)
    print_fields([
        ("promotion", promotion.name),
        ("version", promotion.model_version),
        ("target stage", enum_label(res.Stage, promotion.target_stage)),
        ("state", enum_label(gres.PromotionState, promotion.state)),
        ("approvals", f"{approvals} of {promotion.required_approvals}"),
        ("reviewers", [_decision_text(decision) for decision in promotion.decisions]),
        ("failing rules", list(promotion.failing_rule_ids)),
        ("outcome", promotion.outcome_message),
        ("requested by", promotion.requested_by),
        ("requested", timestamp_text(promotion.request_time)),
    ])
