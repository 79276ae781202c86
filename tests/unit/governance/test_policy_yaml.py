from __future__ import annotations

import textwrap

import pytest

from modelward_governance.domain.alerts import AlertKind
from modelward_governance.domain.policy import (
    ApprovalsRequiredRule,
    DriftRequiresReviewRule,
    ForbiddenFeaturesRule,
    LineageRequiredRule,
    MetricThresholdRule,
    RequiredMetadataRule,
    RuleKind,
)
from modelward_governance.domain.policy_yaml import (
    MAX_POLICY_BYTES,
    InvalidPolicy,
    default_policy_text,
    parse_policy,
    policy_sha256,
    validate_policy,
)
from modelward_governance.domain.portfolio import RiskTier, Stage
from modelward_governance.domain.severity import Severity


def policy_text(rules: str) -> str:
    header = "format_version: 1\nname: test\nrules:\n"
    return header + textwrap.indent(textwrap.dedent(rules), "  ")


def problem_texts(text: str) -> list[str]:
    return [problem.text for problem in validate_policy(text)]


def test_default_policy_parses() -> None:
    policy = parse_policy(default_policy_text(), revision=3)

    assert policy.name == "default"
    assert policy.revision == 3
    assert policy.sha256 == policy_sha256(default_policy_text())
    assert {rule.kind for rule in policy.rules} == set(RuleKind)


def test_metric_rule_fields_and_defaults() -> None:
    policy = parse_policy(
        policy_text(
            """\
            - id: auc-high
              kind: metric_threshold
              severity: error
              risk_tiers: [high, critical]
              metric: auc
              operator: ">="
              threshold: 0.75
              dataset_split: test
            """
        )
    )
    rule = policy.rules[0]

    assert isinstance(rule, MetricThresholdRule)
    assert rule.metric == "auc"
    assert rule.operator == ">="
    assert rule.threshold == 0.75
    assert rule.dataset_split == "test"
    assert rule.risk_tiers == frozenset({RiskTier.HIGH, RiskTier.CRITICAL})
    assert rule.blocks_promotion is True
    assert rule.line == 4


def test_blocks_promotion_defaults_by_severity() -> None:
    policy = parse_policy(
        policy_text(
            """\
            - {id: warn, kind: owner_required, severity: warning}
            - {id: crit, kind: owner_required, severity: critical}
            - {id: info-blocking, kind: owner_required, severity: info, blocks_promotion: true}
            """
        )
    )

    assert [rule.blocks_promotion for rule in policy.rules] == [False, True, True]


def test_kind_specific_fields_parse() -> None:
    policy = parse_policy(
        policy_text(
            """\
            - id: meta
              kind: required_metadata
              severity: warning
              model_fields: [team]
              version_tags: [approved_dataset]
            - id: lineage
              kind: lineage_required
              severity: error
            - id: protected
              kind: forbidden_features
              severity: critical
              features: [Gender, AGE]
            - id: approvals
              kind: approvals_required
              severity: error
              approvals: 2
              stages: [staging, production]
            - id: drift
              kind: drift_requires_review
              severity: critical
              alert_kinds: [concept_drift]
              min_alert_severity: warning
            """
        )
    )
    meta, lineage, protected, approvals, drift = policy.rules

    assert isinstance(meta, RequiredMetadataRule)
    assert meta.model_fields == ("team",)
    assert meta.version_tags == ("approved_dataset",)
    assert isinstance(lineage, LineageRequiredRule)
    assert lineage.fields == ("training_dataset_sha256", "code_commit")
    assert isinstance(protected, ForbiddenFeaturesRule)
    assert protected.features == frozenset({"gender", "age"})
    assert isinstance(approvals, ApprovalsRequiredRule)
    assert approvals.stages == frozenset({Stage.STAGING, Stage.PRODUCTION})
    assert isinstance(drift, DriftRequiresReviewRule)
    assert drift.alert_kinds == frozenset({AlertKind.CONCEPT_DRIFT})
    assert drift.min_alert_severity is Severity.WARNING


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            """\
            - id: auc
              kind: metric_threshold
              severity: error
              metric: auc
              operator: ">="
              threshold: high
            """,
            ["policy.yaml line 9: rules[0].threshold: expected a number, got 'high'"],
        ),
        (
            """\
            - id: approvals
              kind: approvals_required
              severity: error
              approvals: 2.5
            """,
            ["policy.yaml line 7: rules[0].approvals: expected an integer, got 2.5"],
        ),
        (
            """\
            - id: owner
              kind: owner_required
              severity: fatal
            """,
            [
                "policy.yaml line 6: rules[0].severity: expected one of info, warning, error, "
                "critical, got 'fatal'"
            ],
        ),
        (
            """\
            - id: owner
              kind: owner_required
              severity: error
              risk_tiers: [high, extreme]
            """,
            [
                "policy.yaml line 7: rules[0].risk_tiers[1]: expected one of low, medium, high, "
                "critical, got 'extreme'"
            ],
        ),
        (
            """\
            - id: owner
              kind: owner_required
              severity: error
              blocks_promotion: maybe
            """,
            ["policy.yaml line 7: rules[0].blocks_promotion: expected true or false, got 'maybe'"],
        ),
        (
            """\
            - id: days
              kind: max_days_without_review
              severity: error
              days: 0
            """,
            ["policy.yaml line 7: rules[0].days: expected an integer from 1 to 3650, got 0"],
        ),
        (
            """\
            - id: features
              kind: forbidden_features
              severity: error
              features: []
            """,
            ["policy.yaml line 7: rules[0].features: expected a non-empty list"],
        ),
        (
            """\
            - id: meta
              kind: required_metadata
              severity: error
              model_fields: [owner, colour]
            """,
            [
                "policy.yaml line 7: rules[0].model_fields[1]: expected one of description, "
                "owner, team, risk_tier, task_type, got 'colour'"
            ],
        ),
        (
            """\
            - id: auc
              kind: metric_threshold
              severity: error
              metric: auc
              operator: "=>"
              threshold: 0.7
            """,
            ["policy.yaml line 8: rules[0].operator: expected one of >=, >, <=, <, got '=>'"],
        ),
    ],
)
def test_invalid_value_names_line_and_field(rules: str, expected: list[str]) -> None:
    assert problem_texts(policy_text(rules)) == expected


def test_every_problem_is_reported_in_line_order() -> None:
    text = policy_text(
        """\
        - id: same
          kind: owner_required
          severity: error
        - id: same
          kind: bogus
          severity: error
          colour: red
        - kind: owner_required
          severity: error
        """
    )

    assert problem_texts(text) == [
        "policy.yaml line 7: rules[1].id: duplicate rule id 'same', first used on line 4",
        "policy.yaml line 8: rules[1].kind: expected one of required_metadata, owner_required, "
        "metric_threshold, lineage_required, forbidden_features, approvals_required, "
        "max_days_without_review, drift_requires_review, got 'bogus'",
        "policy.yaml line 10: rules[1].colour: unknown field; expected one of id, kind, "
        "severity, blocks_promotion, description, risk_tiers, model_fields, version_fields, "
        "model_tags, version_tags, metric, operator, threshold, dataset_split, fields, "
        "features, approvals, stages, days, alert_kinds, min_alert_severity",
        "policy.yaml line 11: rules[2]: missing required field 'id'",
    ]


def test_unknown_field_for_the_kind() -> None:
    text = policy_text(
        """\
        - id: owner
          kind: owner_required
          severity: error
          threshold: 0.5
        """
    )

    assert problem_texts(text) == [
        "policy.yaml line 7: rules[0].threshold: unknown field; expected one of id, kind, "
        "severity, blocks_promotion, description, risk_tiers"
    ]


def test_missing_kind_fields_point_at_the_rule() -> None:
    text = policy_text(
        """\
        - id: auc
          kind: metric_threshold
          severity: error
          metric: auc
        """
    )

    assert problem_texts(text) == [
        "policy.yaml line 4: rules[0]: missing required field 'operator' for kind metric_threshold",
        "policy.yaml line 4: rules[0]: missing required field 'threshold' for kind metric_threshold",
    ]


def test_duplicate_field_in_one_rule() -> None:
    text = policy_text(
        """\
        - id: owner
          kind: owner_required
          severity: error
          severity: warning
        """
    )

    assert problem_texts(text) == [
        "policy.yaml line 7: rules[0].severity: duplicate field, first set on line 6"
    ]


def test_top_level_problems() -> None:
    text = "format_version: 2\nrules: {}\nowner: me\n"

    assert problem_texts(text) == [
        "policy.yaml line 1: policy: missing required field 'name'",
        "policy.yaml line 1: format_version: unsupported format_version 2; this release reads "
        "format_version 1",
        "policy.yaml line 2: rules: expected a list, got a mapping",
        "policy.yaml line 3: owner: unknown field; expected one of format_version, name, "
        "description, rules",
    ]


def test_yaml_syntax_error_names_the_line() -> None:
    text = "format_version: 1\nname: test\nrules:\n  - id: a\n    kind: [owner_required\n"

    problems = validate_policy(text, source="team.yaml")

    assert len(problems) == 1
    assert problems[0].line == 6
    assert problems[0].text.startswith("team.yaml line 6: invalid YAML: ")


def test_empty_text_is_invalid() -> None:
    assert problem_texts("") == [
        "policy.yaml: the policy is empty; expected a mapping with format_version, name and rules"
    ]


def test_parse_raises_invalid_policy_with_every_problem() -> None:
    text = policy_text(
        """\
        - {id: a, kind: owner_required, severity: loud}
        - {id: b, kind: approvals_required, severity: error, approvals: many}
        """
    )

    with pytest.raises(InvalidPolicy) as raised:
        parse_policy(text)

    assert raised.value.field == "yaml_text"
    assert raised.value.reason == "INVALID_POLICY"
    assert [problem.line for problem in raised.value.problems] == [4, 5]
    assert "policy.yaml line 5: rules[1].approvals: expected an integer, got 'many'" in str(
        raised.value
    )


def test_numbers_reject_booleans_and_infinity() -> None:
    text = policy_text(
        """\
        - {id: a, kind: metric_threshold, severity: error, metric: auc, operator: ">", threshold: true}
        - {id: b, kind: metric_threshold, severity: error, metric: auc, operator: ">", threshold: .inf}
        """
    )

    assert problem_texts(text) == [
        "policy.yaml line 4: rules[0].threshold: expected a number, got true",
        "policy.yaml line 5: rules[1].threshold: expected a finite number, got .inf",
    ]


def test_required_approvals_takes_the_largest_applicable() -> None:
    policy = parse_policy(
        policy_text(
            """\
            - {id: all, kind: approvals_required, severity: error, approvals: 1}
            - {id: high, kind: approvals_required, severity: error, approvals: 2, risk_tiers: [high]}
            - id: staging
              kind: approvals_required
              severity: error
              approvals: 3
              stages: [staging]
            """
        )
    )

    assert policy.required_approvals(RiskTier.HIGH, Stage.PRODUCTION).count == 2
    assert policy.required_approvals(RiskTier.HIGH, Stage.PRODUCTION).rule_ids == ("high",)
    assert policy.required_approvals(RiskTier.LOW, Stage.PRODUCTION).count == 1
    assert policy.required_approvals(RiskTier.LOW, Stage.STAGING).count == 3


@pytest.mark.parametrize("depth", [17, 900, 20_000])
def test_deep_flow_nesting_names_line_and_limit(depth: int) -> None:
    text = "format_version: 1\nname: test\nrules:\n  - " + "[" * depth + "]" * depth + "\n"

    problems = problem_texts(text)

    assert problems == [
        "policy.yaml line 4: invalid YAML: lists and mappings nest more than 16 levels deep here; "
        "a policy needs at most 4"
    ]


def test_deep_block_nesting_names_line_and_limit() -> None:
    lines = ["format_version: 1", "name: test", "rules:"]
    lines += ["  " * level + f"  key{level}:" for level in range(40)]
    lines.append("  " * 41 + "value")

    problems = validate_policy("\n".join(lines) + "\n")

    assert len(problems) == 1
    assert problems[0].line == 19
    assert "more than 16 levels deep" in problems[0].message


def test_nesting_at_the_limit_is_only_a_field_problem() -> None:
    # The root mapping and `rules` are two levels, so 14 more reach the limit exactly.
    text = "format_version: 1\nname: test\nrules: " + "[" * 14 + "]" * 14 + "\n"

    problems = problem_texts(text)

    assert len(problems) == 1
    assert "levels deep" not in problems[0]


def test_oversize_policy_names_size_and_limit() -> None:
    text = default_policy_text() + "#" + "x" * MAX_POLICY_BYTES + "\n"

    problems = problem_texts(text)

    assert problems == [
        f"policy.yaml: the policy is {len(text.encode())} bytes, more than the limit of "
        f"{MAX_POLICY_BYTES}; split long descriptions or remove unused rules"
    ]
