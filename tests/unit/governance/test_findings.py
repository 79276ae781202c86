from __future__ import annotations

import dataclasses
import textwrap

from modelward_governance.domain.evaluation import evaluate_model
from modelward_governance.domain.findings import (
    Finding,
    FindingChanges,
    FindingDraft,
    FindingKey,
    FindingKind,
    finding_id_for,
    reconcile_findings,
    reconcile_policy_findings,
)
from modelward_governance.domain.policy import Policy
from modelward_governance.domain.policy_yaml import parse_policy
from modelward_governance.domain.portfolio import ModelState, PortfolioModel, Stage
from modelward_governance.domain.severity import Severity
from tests.unit.governance.builders import T0, days, make_model, make_version

POLICY_TEXT = """\
format_version: 1
name: findings
rules:
  - {id: owner, kind: owner_required, severity: error}
  - {id: lineage, kind: lineage_required, severity: warning}
"""


def policy(text: str = POLICY_TEXT, revision: int = 1) -> Policy:
    return parse_policy(textwrap.dedent(text), revision=revision)


def run(
    previous: list[Finding], model: PortfolioModel, at_day: int, current: Policy | None = None
) -> FindingChanges:
    evaluation = evaluate_model(current or policy(), model, now=T0 + days(at_day))
    return reconcile_policy_findings(previous, evaluation)


def keys(findings: tuple[Finding, ...]) -> set[tuple[int, str]]:
    return {(finding.key.version, finding.key.check_id) for finding in findings}


def test_failures_open_findings() -> None:
    model = make_model(make_version(1, code_commit=""), owner="")

    changes = run([], model, 1)

    assert keys(changes.opened) == {(0, "owner"), (1, "lineage")}
    assert changes.resolved == ()
    owner = next(finding for finding in changes.opened if finding.key.check_id == "owner")
    assert owner.is_open
    assert owner.severity is Severity.ERROR
    assert owner.opened_at == T0 + days(1)
    assert owner.policy_revision == 1


def test_corrected_owner_resolves_finding() -> None:
    opened = run([], make_model(make_version(1), owner=""), 1).opened

    changes = run(list(opened), make_model(make_version(1)), 2)

    assert changes.opened == ()
    assert keys(changes.resolved) == {(0, "owner")}
    resolved = changes.resolved[0]
    assert resolved.resolved_at == T0 + days(2)
    assert resolved.resolution.startswith(
        "rule owner passes under policy revision 1: owner is user:owner@example.com"
    )


def test_still_failing_finding_is_kept() -> None:
    model = make_model(make_version(1), owner="")
    opened = run([], model, 1).opened

    changes = run(list(opened), model, 2)

    assert changes.opened == ()
    assert changes.resolved == ()
    assert [finding.finding_id for finding in changes.kept] == [opened[0].finding_id]
    assert not changes.changed


def test_new_version_supersedes_draft_findings() -> None:
    first = make_model(make_version(1, code_commit=""))
    opened = run([], first, 1).opened
    second = dataclasses.replace(first, versions={**first.versions, 2: make_version(2)})

    changes = run(list(opened), second, 2)

    assert changes.opened == ()
    assert keys(changes.resolved) == {(1, "lineage")}
    assert "version 1 is no longer evaluated" in changes.resolved[0].resolution


def test_new_policy_opens_and_resolves() -> None:
    model = make_model(make_version(1, code_commit=""), owner="")
    opened = run([], model, 1).opened
    stricter = policy(
        """\
        format_version: 1
        name: findings
        rules:
          - {id: owner, kind: owner_required, severity: error}
          - {id: team, kind: required_metadata, severity: info, model_fields: [team]}
        """,
        revision=2,
    )
    no_team = dataclasses.replace(model, team="")

    changes = run(list(opened), no_team, 2, stricter)

    assert keys(changes.opened) == {(0, "team")}
    assert keys(changes.resolved) == {(1, "lineage")}
    assert changes.resolved[0].resolution == "rule lineage is not in policy revision 2"
    assert keys(changes.kept) == {(0, "owner")}


def test_severity_change_replaces_finding() -> None:
    model = make_model(make_version(1), owner="")
    opened = run([], model, 1).opened
    critical = policy(POLICY_TEXT.replace("severity: error", "severity: critical"), revision=2)

    changes = run(list(opened), model, 2, critical)

    assert keys(changes.resolved) == {(0, "owner")}
    assert keys(changes.opened) == {(0, "owner")}
    assert changes.opened[0].severity is Severity.CRITICAL
    assert changes.opened[0].finding_id != opened[0].finding_id
    assert (
        changes.resolved[0].resolution
        == "replaced by a new finding: severity error became critical"
    )


def test_archived_model_resolves_everything() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION, code_commit=""), owner="")
    opened = run([], model, 1).opened

    changes = run(list(opened), dataclasses.replace(model, state=ModelState.ARCHIVED), 2)

    assert keys(changes.resolved) == {(0, "owner"), (1, "lineage")}
    assert changes.opened == ()


def test_other_kinds_and_models_are_ignored() -> None:
    other = Finding(
        finding_id="x",
        key=FindingKey("uid-churn", 0, FindingKind.ORPHANED_MODEL, "orphaned.no_owner"),
        severity=Severity.ERROR,
        blocks_promotion=False,
        message="",
        evidence={},
        policy_revision=0,
        opened_at=T0,
    )
    foreign = dataclasses.replace(
        other, finding_id="y", key=FindingKey("uid-other", 0, FindingKind.POLICY_VIOLATION, "owner")
    )

    changes = run([other, foreign], make_model(make_version(1)), 1)

    assert changes == FindingChanges()


def test_generic_reconcile_and_deterministic_ids() -> None:
    key = FindingKey("uid-churn", 0, FindingKind.DRIFT, "alert-7")
    draft = FindingDraft(key, Severity.CRITICAL, False, "psi 0.4", {"psi": 0.4})

    opened = reconcile_findings(
        [], [draft, draft], now=T0, resolution_for=lambda finding: "gone"
    ).opened
    resolved = reconcile_findings(
        opened, [], now=T0 + days(1), resolution_for=lambda finding: "gone"
    ).resolved

    assert len(opened) == 1
    assert opened[0].finding_id == finding_id_for(key, T0)
    assert resolved[0].resolution == "gone"
    assert not resolved[0].is_open
