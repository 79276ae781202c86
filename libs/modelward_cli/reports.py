"""`modelward findings`, `portfolio` and `compliance`: what governance found, in English or pt-BR."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType

from google.protobuf import timestamp_pb2

from modelward_cli.common import (
    Subparsers, add_command, command, governance_client, print_json, print_table,
)
from modelward_cli.l10n import LANGUAGES, Localizer, timestamp_text
from modelward_cli.reasons import finding_text, redundant_model_uids, rule_result_text
from modelward_protos.governance.v1 import resources_pb2 as gres
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_sdk import GovernanceClient
from modelward_sdk.names import enum_choices, enum_label


def register(subparsers: Subparsers) -> None:
    findings = add_command(subparsers, "findings", "list governance findings, newest first")
    findings.add_argument("--model", default="", help="only this model's findings (default: every model)")
    findings.add_argument("--kind", choices=enum_choices(gres.FindingKind), default=None,
                          help="only this kind (default: every kind)")
    findings.add_argument("--min-severity", choices=enum_choices(gres.Severity), default=None,
                          help="only findings at least this severe (default: every severity)")
    findings.add_argument("--state", choices=enum_choices(gres.FindingState), default="open",
                          help="open or resolved (default: %(default)s)")
    findings.add_argument("--all-states", action="store_true", help="list open and resolved findings (default: off)")
    _add_language(findings)
    findings.set_defaults(handler=_findings)

    portfolio = add_command(subparsers, "portfolio", "print the portfolio: every model with its compliance and findings")
    portfolio.add_argument("--filter", default="", help="filter, such as 'risk_tier = RISK_TIER_HIGH AND orphaned = true' "
                                                        "(default: every model)")
    portfolio.add_argument("--order-by", default="", help="such as 'open_findings_count desc' (default: by model)")
    _add_language(portfolio)
    portfolio.set_defaults(handler=_portfolio)

    compliance = add_command(subparsers, "compliance", "print every rule's result for one model and its versions")
    compliance.add_argument("model", metavar="MODEL", help="model id or models/<id>")
    _add_language(compliance)
    compliance.set_defaults(handler=_compliance)


def _add_language(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=LANGUAGES, default="en",
                        help="language of the table: labels, reasons, dates and numbers (default: %(default)s); "
                             "--output json is the same in every language")


@command
def _findings(args: argparse.Namespace) -> None:
    with governance_client(args) as governance:
        found = list(governance.list_findings(
            model=args.model, kind=args.kind or 0, min_severity=args.min_severity or 0,
            state=0 if args.all_states else args.state,
        ))
        rule_kinds: dict[tuple[int, str], int] = {}
        model_names: dict[str, str] = {}
        if args.output != "json":
            model_names = model_names_of(governance, redundant_model_uids(found))
            if args.lang != "en":
                rule_kinds = rule_kinds_of(governance, found)
    if args.output == "json":
        print_json(found)
        return
    if args.lang != "en":
        print_findings(found, Localizer(args.lang), rule_kinds, model_names)
        return
    print_table(
        ["FINDING", "KIND", "SEVERITY", "STATE", "SUBJECT", "RULE", "BLOCKS", "MESSAGE", "OPENED"],
        [[finding.name, enum_label(gres.FindingKind, finding.kind), enum_label(gres.Severity, finding.severity),
          enum_label(gres.FindingState, finding.state), finding.model_version or finding.model, finding.rule_id,
          finding.blocks_promotion, finding_text(finding, "en", {}, model_names), timestamp_text(finding.open_time)]
         for finding in found],
    )


# uids per ListPortfolio filter: the filter language takes at most 100 IN values and 4096
# characters, and a quoted uid with its comma is 39 characters.
_UIDS_PER_FILTER = 50
_UID = re.compile(r"[0-9A-Za-z-]{1,64}")


def model_names_of(governance: GovernanceClient, uids: Iterable[str]) -> dict[str, str]:
    """Map model uids to names such as `models/churn`. A uid of a model that the caller may not
    see, or that no longer exists, is left out."""
    # Only plain uids go into the filter, so a malformed check id cannot break its syntax.
    wanted = sorted(uid for uid in uids if _UID.fullmatch(uid))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), _UIDS_PER_FILTER):
        quoted = ", ".join(f'"{uid}"' for uid in wanted[start:start + _UIDS_PER_FILTER])
        for entry in governance.list_portfolio(filter=f"uid IN ({quoted})"):
            names[entry.model_uid] = entry.model
    return names


def rule_kinds_of(governance: GovernanceClient, found: Iterable[gres.Finding]) -> dict[tuple[int, str], int]:
    """Return the RuleKind of each (policy revision, rule id) of the policy findings, one GetPolicy per revision."""
    revisions = {finding.policy_revision for finding in found if finding.kind == gres.FINDING_KIND_POLICY_VIOLATION}
    kinds = {}
    for revision in sorted(revision for revision in revisions if revision > 0):
        policy = governance.get_policy(f"policies/{revision}")
        kinds.update({(revision, rule.id): rule.kind for rule in policy.rules})
    return kinds


def print_findings(
    found: Sequence[gres.Finding],
    text: Localizer,
    rule_kinds: Mapping[tuple[int, str], int],
    model_names: Mapping[str, str] = MappingProxyType({}),
) -> None:
    headers = ["finding", "kind", "severity", "state", "subject", "check", "blocks_promotion", "message", "opened"]
    print_table(
        [text.text(header) for header in headers],
        [[finding.name, text.enum(gres.FindingKind, finding.kind), text.enum(gres.Severity, finding.severity),
          text.enum(gres.FindingState, finding.state), finding.model_version or finding.model, finding.rule_id,
          text.yes_no(finding.blocks_promotion), finding_text(finding, text.language, rule_kinds, model_names),
          text.date(finding.open_time)]
         for finding in found],
    )


@command
def _portfolio(args: argparse.Namespace) -> None:
    with governance_client(args) as governance:
        entries = list(governance.list_portfolio(filter=args.filter, order_by=args.order_by))
    if args.output == "json":
        print_json(entries)
        return
    print_portfolio(entries, Localizer(args.lang), _now())


def print_portfolio(entries: list[gres.PortfolioEntry], text: Localizer, now: timestamp_pb2.Timestamp) -> None:
    print(text.text("portfolio_title"))
    print(f"{text.text('generated')}: {text.date(now)}")
    print()
    headers = ["model", "owner", "risk_tier", "state", "versions", "in_production", "open_findings", "max_severity",
               "compliant", "orphaned", "redundant_with", "last_activity"]
    rows = []
    for entry in entries:
        production = [str(version.version) for version in entry.versions if version.stage == res.STAGE_PRODUCTION]
        rows.append([
            entry.model.removeprefix("models/"), entry.owner or "-", text.enum(res.RiskTier, entry.risk_tier),
            text.enum(res.ModelState, entry.state), text.number(len(entry.versions) + entry.versions_omitted),
            ", ".join(production) or text.text("none"), text.number(entry.open_findings_count),
            text.enum(gres.Severity, entry.max_open_finding_severity) if entry.max_open_finding_severity else "-",
            text.yes_no(entry.compliant), text.yes_no(entry.orphaned),
            ", ".join(name.removeprefix("models/") for name in entry.redundant_with) or "-",
            text.date(entry.last_activity_time),
        ])
    print_table([text.text(header) for header in headers], rows)
    print()
    total = len(entries)
    compliant = sum(1 for entry in entries if entry.compliant)
    print(f"{text.text('total_models')}: {text.number(total)}")
    print(f"{text.text('total_compliant')}: {text.number(compliant)} ({text.percent(compliant / total if total else 0.0)})")
    print(f"{text.text('total_orphaned')}: {text.number(sum(1 for entry in entries if entry.orphaned))}")
    print(f"{text.text('total_findings')}: {text.number(sum(entry.open_findings_count for entry in entries))}")


@command
def _compliance(args: argparse.Namespace) -> None:
    with governance_client(args) as governance:
        report = governance.get_model_compliance(args.model)
        findings = [] if args.output == "json" else list(governance.list_findings(model=args.model, state="open"))
        model_names = model_names_of(governance, redundant_model_uids(findings))
    if args.output == "json":
        print_json(report)
        return
    print_compliance(report, Localizer(args.lang), findings, model_names)


def print_compliance(
    report: gres.ModelCompliance,
    text: Localizer,
    findings: Sequence[gres.Finding] = (),
    model_names: Mapping[str, str] = MappingProxyType({}),
) -> None:
    """Print every rule's result, then the open findings that are not rule results: orphaned, redundant, drift."""
    model = report.name.removesuffix("/compliance")
    print(text.text("compliance_title", model=model.removeprefix("models/")))
    print(f"{text.text('compliant')}: {text.yes_no(report.compliant)}")
    print(f"{text.text('policy_revision')}: {text.number(report.policy_revision)}")
    print(f"{text.text('evaluated')}: {text.date(report.evaluate_time)}")
    print()
    rows = [_result_row(text, model, text.text("scope_model"), "-", result) for result in report.model_results]
    for version in report.versions:
        scope = _scope(text, version.model_version)
        rows.extend(_result_row(text, model, scope, text.enum(res.Stage, version.stage), result)
                    for result in version.results)
    headers = ["scope", "stage", "rule", "result", "severity", "blocks_promotion", "message"]
    print_table([text.text(header) for header in headers], rows)

    # Policy violations are the failed rows above.
    others = [finding for finding in findings if finding.kind != gres.FINDING_KIND_POLICY_VIOLATION]
    print()
    print(f"{text.text('findings_title')}: {text.number(len(others)) if others else text.text('no_findings')}")
    if others:
        finding_rows = [
            [_scope(text, finding.model_version), text.enum(gres.FindingKind, finding.kind),
             text.enum(gres.Severity, finding.severity), finding.rule_id,
             finding_text(finding, text.language, {}, model_names),
             text.date(finding.open_time)]
            for finding in others
        ]
        headers = ["scope", "kind", "severity", "check", "message", "opened"]
        print_table([text.text(header) for header in headers], finding_rows)


def _scope(text: Localizer, model_version: str) -> str:
    if not model_version:
        return text.text("scope_model")
    return f"{text.text('version')} {model_version.rsplit('/', 1)[-1]}"


def _result_row(text: Localizer, model: str, scope: str, stage: str, result: gres.RuleResult) -> list[str]:
    if not result.applicable:
        outcome = text.text("not_applicable")
    else:
        outcome = text.text("passed" if result.passed else "failed")
    return [scope, stage, result.rule_id, outcome, text.enum(gres.Severity, result.severity),
            text.yes_no(result.blocks_promotion), rule_result_text(result, model, text.language)]


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.now(timezone.utc))
    return stamp
