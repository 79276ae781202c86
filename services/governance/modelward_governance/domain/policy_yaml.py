"""Load a policy from YAML, reporting every problem with its line and field.

The text is composed into PyYAML nodes (`yaml.compose`) rather than loaded into Python objects,
because nodes keep their position: each problem names the 1-based line of the node at fault and
its path, as in `policy.yaml line 12: rules[3].threshold: expected a number, got 'high'`. List
indexes in paths start at 0. default_policy.yaml beside this module documents the format.
"""

from __future__ import annotations

import hashlib
from importlib import resources
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import ComposerError

from modelward_common.errors import InvalidArgument, ModelwardError
from modelward_governance.domain.alerts import AlertKind
from modelward_governance.domain.policy import (
    COMPARISONS,
    DEFAULT_LINEAGE_FIELDS,
    LINEAGE_FIELDS,
    MODEL_METADATA_FIELDS,
    VERSION_METADATA_FIELDS,
    ApprovalsRequiredRule,
    DriftRequiresReviewRule,
    ForbiddenFeaturesRule,
    LineageRequiredRule,
    MaxDaysWithoutReviewRule,
    MetricThresholdRule,
    OwnerRequiredRule,
    Policy,
    RequiredMetadataRule,
    Rule,
    RuleKind,
)
from modelward_governance.domain.portfolio import RiskTier, Stage
from modelward_governance.domain.severity import Severity

FORMAT_VERSION = 1
MAX_APPROVALS = 20
MAX_REVIEW_DAYS = 3650
# A valid policy nests four collections deep (rules, a rule, a list inside it), and PyYAML's
# composer recurses once per level, so deeper text is rejected before it can exhaust the stack.
MAX_NESTING_DEPTH = 16
# The default policy is about 5 kB. Parsing is pure Python on the event loop, so this bound keeps
# one request from holding the service for long. A 230 kB policy of 4,000 rules took 0.57 s to
# validate on a 2-core machine, so 128 KiB should take about 0.3 s there (an estimate).
MAX_POLICY_BYTES = 128 * 1024
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

_TOP_LEVEL_FIELDS = ("format_version", "name", "description", "rules")
_COMMON_RULE_FIELDS = ("id", "kind", "severity", "blocks_promotion", "description", "risk_tiers")
_KIND_FIELDS: dict[RuleKind, tuple[str, ...]] = {
    RuleKind.REQUIRED_METADATA: ("model_fields", "version_fields", "model_tags", "version_tags"),
    RuleKind.OWNER_REQUIRED: (),
    RuleKind.METRIC_THRESHOLD: ("metric", "operator", "threshold", "dataset_split"),
    RuleKind.LINEAGE_REQUIRED: ("fields",),
    RuleKind.FORBIDDEN_FEATURES: ("features",),
    RuleKind.APPROVALS_REQUIRED: ("approvals", "stages"),
    RuleKind.MAX_DAYS_WITHOUT_REVIEW: ("days",),
    RuleKind.DRIFT_REQUIRES_REVIEW: ("alert_kinds", "min_alert_severity"),
}
_TIERS = {tier.value: tier for tier in RiskTier if tier is not RiskTier.UNSPECIFIED}
_SEVERITIES = {severity.label: severity for severity in Severity}
_APPROVAL_STAGES = {"staging": Stage.STAGING, "production": Stage.PRODUCTION}
_ALERT_KINDS = {kind.value: kind for kind in AlertKind}

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class PolicyProblem:
    """One problem in a policy's YAML text."""

    source: str
    # 1-based line and column of the node at fault, or 0 when the problem is about the whole text.
    line: int
    column: int
    # Path such as `rules[3].threshold`, or empty for a YAML syntax error.
    field: str
    message: str

    @property
    def text(self) -> str:
        """The problem on one line, such as `policy.yaml line 12: rules[3].threshold: ...`."""
        where = f"{self.source} line {self.line}" if self.line else self.source
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class InvalidPolicy(InvalidArgument):
    """The policy text has problems; `problems` lists each one with its line and field."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        # InvalidArgument's message shows one value, but a policy has many problems, so the message
        # is built here and the root class is initialised directly.
        listed = "\n".join(problem.text for problem in problems)
        ModelwardError.__init__(
            self,
            f"policy is invalid, fix these {len(problems)} problem(s) and send it again:\n{listed}",
            field="yaml_text",
            reason="INVALID_POLICY",
        )
        self.value = None
        self.problems = tuple(problems)
        self.violations = (self,)


def policy_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def validate_policy(text: str, *, source: str = "policy.yaml") -> tuple[PolicyProblem, ...]:
    """Return every problem of the policy text. An empty tuple means it is valid."""
    reader = _PolicyReader(source)
    reader.read(text)
    return reader.sorted_problems()


def parse_policy(text: str, *, source: str = "policy.yaml", revision: int = 0) -> Policy:
    """Parse and validate a policy's YAML text, raising InvalidPolicy with every problem."""
    reader = _PolicyReader(source)
    policy = reader.read(text)
    if reader.problems or policy is None:
        raise InvalidPolicy(reader.sorted_problems())
    return policy.with_revision(revision)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that raises a ComposerError past MAX_NESTING_DEPTH nested collections."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_sequence_node(self, anchor: str | None) -> yaml.Node:
        return self._compose_nested(super().compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor: str | None) -> yaml.Node:
        return self._compose_nested(super().compose_mapping_node, anchor)

    def _compose_nested(self, compose: Callable[[str | None], yaml.Node], anchor: str | None) -> yaml.Node:
        start = self.peek_event().start_mark
        if self._depth >= MAX_NESTING_DEPTH:
            raise ComposerError(
                None,
                None,
                f"lists and mappings nest more than {MAX_NESTING_DEPTH} levels deep here; "
                "a policy needs at most 4",
                start,
            )
        self._depth += 1
        try:
            return compose(anchor)
        finally:
            self._depth -= 1


class _PolicyReader:
    """Walks the node tree once, building the policy and collecting problems."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[PolicyProblem] = []
        # Only used to convert scalar nodes, with YAML 1.1's rules for ints, floats and bools.
        self._constructor = yaml.SafeLoader("")

    # Problems and scalar conversion.

    def sorted_problems(self) -> tuple[PolicyProblem, ...]:
        return tuple(sorted(self.problems, key=lambda problem: (problem.line, problem.column)))

    def problem(self, node: yaml.Node | None, field: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 0
        column = node.start_mark.column + 1 if node is not None else 0
        self.problems.append(PolicyProblem(self.source, line, column, field, message))

    def describe(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        if node.tag == _STR_TAG:
            return repr(node.value)
        return str(node.value) if node.value not in ("", "~") else "null"

    def string(self, node: yaml.Node, field: str, *, allow_empty: bool = False) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR_TAG:
            self.problem(node, field, f"expected a string, got {self.describe(node)}")
            return None
        value = str(node.value)
        if not value.strip() and not allow_empty:
            self.problem(node, field, "expected a non-empty string")
            return None
        return value

    def number(self, node: yaml.Node, field: str) -> float | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_INT_TAG, _FLOAT_TAG):
            self.problem(node, field, f"expected a number, got {self.describe(node)}")
            return None
        value = float(self._constructor.construct_object(node))
        if not math.isfinite(value):
            self.problem(node, field, f"expected a finite number, got {node.value}")
            return None
        return value

    def integer(self, node: yaml.Node, field: str, low: int, high: int) -> int | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _INT_TAG:
            self.problem(node, field, f"expected an integer, got {self.describe(node)}")
            return None
        value = int(self._constructor.construct_object(node))
        if not low <= value <= high:
            self.problem(node, field, f"expected an integer from {low} to {high}, got {value}")
            return None
        return value

    def boolean(self, node: yaml.Node, field: str) -> bool | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _BOOL_TAG:
            self.problem(node, field, f"expected true or false, got {self.describe(node)}")
            return None
        return bool(self._constructor.construct_object(node))

    def choice(self, node: yaml.Node, field: str, choices: dict[str, Any]) -> Any | None:
        value = self.string(node, field)
        if value is None:
            return None
        if value not in choices:
            self.problem(node, field, f"expected one of {', '.join(choices)}, got {value!r}")
            return None
        return choices[value]

    def items(
        self, node: yaml.Node, field: str, read: Callable[[yaml.Node, str], Any | None]
    ) -> list[Any] | None:
        """Read a non-empty list with `read` per item, or return None when any item is invalid."""
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, field, f"expected a list, got {self.describe(node)}")
            return None
        if not node.value:
            self.problem(node, field, "expected a non-empty list")
            return None
        values = [read(item, f"{field}[{index}]") for index, item in enumerate(node.value)]
        if any(value is None for value in values):
            return None
        duplicates = sorted({str(value) for value in values if values.count(value) > 1})
        if duplicates:
            self.problem(node, field, f"lists {', '.join(duplicates)} more than once")
            return None
        return values

    def mapping(
        self, node: yaml.Node, field: str, allowed: Sequence[str], required: Sequence[str]
    ) -> dict[str, yaml.Node] | None:
        """Read a mapping with string keys, reporting unknown, duplicate and missing keys."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, field or "policy", f"expected a mapping, got {self.describe(node)}")
            return None
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            path = f"{field}.{key}" if field else str(key)
            if key is None or key_node.tag != _STR_TAG:
                self.problem(
                    key_node,
                    field or "policy",
                    f"expected a field name, got {self.describe(key_node)}",
                )
            elif key in fields:
                first_line = fields[key].start_mark.line + 1
                self.problem(key_node, path, f"duplicate field, first set on line {first_line}")
            elif key not in allowed:
                self.problem(key_node, path, f"unknown field; expected one of {', '.join(allowed)}")
            else:
                fields[key] = value_node
        for key in required:
            if key not in fields:
                self.problem(node, field or "policy", f"missing required field {key!r}")
        return fields

    # The document.

    def read(self, text: str) -> Policy | None:
        size = len(text.encode("utf-8"))
        if size > MAX_POLICY_BYTES:
            self.problems.append(
                PolicyProblem(
                    self.source,
                    0,
                    0,
                    "",
                    f"the policy is {size} bytes, more than the limit of {MAX_POLICY_BYTES}; "
                    "split long descriptions or remove unused rules",
                )
            )
            return None
        try:
            root = yaml.compose(text, Loader=_BoundedLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark is not None else 0
            column = mark.column + 1 if mark is not None else 0
            self.problems.append(
                PolicyProblem(self.source, line, column, "", f"invalid YAML: {error.problem}")
            )
            return None
        except yaml.YAMLError as error:
            self.problems.append(PolicyProblem(self.source, 0, 0, "", f"invalid YAML: {error}"))
            return None
        if root is None:
            self.problems.append(
                PolicyProblem(
                    self.source,
                    0,
                    0,
                    "",
                    "the policy is empty; expected a mapping with format_version, name and rules",
                )
            )
            return None

        fields = self.mapping(root, "", _TOP_LEVEL_FIELDS, ("format_version", "name", "rules"))
        if fields is None:
            return None
        if "format_version" in fields:
            self.format_version(fields["format_version"])
        name = self.string(fields["name"], "name") if "name" in fields else None
        description = ""
        if "description" in fields:
            description = self.string(fields["description"], "description", allow_empty=True) or ""
        rules = self.rules(fields["rules"]) if "rules" in fields else []
        if self.problems or name is None:
            return None
        return Policy(
            name=name, rules=tuple(rules), sha256=policy_sha256(text), description=description
        )

    def format_version(self, node: yaml.Node) -> None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _INT_TAG:
            self.problem(node, "format_version", f"expected an integer, got {self.describe(node)}")
        elif int(self._constructor.construct_object(node)) != FORMAT_VERSION:
            self.problem(
                node,
                "format_version",
                f"unsupported format_version {node.value}; "
                f"this release reads format_version {FORMAT_VERSION}",
            )

    def rules(self, node: yaml.Node) -> list[Rule]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, "rules", f"expected a list, got {self.describe(node)}")
            return []
        rules: list[Rule] = []
        first_line_of_id: dict[str, int] = {}
        for index, rule_node in enumerate(node.value):
            path = f"rules[{index}]"
            id_node = _field_node(rule_node, "id")
            if isinstance(id_node, yaml.ScalarNode) and id_node.tag == _STR_TAG:
                line = id_node.start_mark.line + 1
                first_line = first_line_of_id.setdefault(id_node.value, line)
                if first_line != line:
                    self.problem(
                        id_node,
                        f"{path}.id",
                        f"duplicate rule id {id_node.value!r}, first used on line {first_line}",
                    )
            rule = self.rule(rule_node, path)
            if rule is not None:
                rules.append(rule)
        return rules

    def rule(self, node: yaml.Node, path: str) -> Rule | None:
        """Read one rule. Common fields are checked even when the kind is invalid."""
        kind_node = _field_node(node, "kind")
        kind = None
        if kind_node is not None:
            kind = self.choice(kind_node, f"{path}.kind", {kind.value: kind for kind in RuleKind})
        if kind is not None:
            allowed = _COMMON_RULE_FIELDS + _KIND_FIELDS[kind]
        else:
            # Without a valid kind, fields of any kind are accepted so only real typos show.
            allowed = _COMMON_RULE_FIELDS + tuple(
                name for names in _KIND_FIELDS.values() for name in names
            )
        fields = self.mapping(node, path, allowed, ("id", "kind", "severity"))
        if fields is None:
            return None
        problems_before = len(self.problems)

        rule_id = self.string(fields["id"], f"{path}.id") if "id" in fields else None
        if rule_id is not None and not _RULE_ID.match(rule_id):
            self.problem(
                fields["id"],
                f"{path}.id",
                "expected 1-64 lowercase letters, digits, '.', '_' or '-' starting with a letter "
                f"or digit, got {rule_id!r}",
            )
        severity = None
        if "severity" in fields:
            severity = self.choice(fields["severity"], f"{path}.severity", _SEVERITIES)
        blocks = None
        if "blocks_promotion" in fields:
            blocks = self.boolean(fields["blocks_promotion"], f"{path}.blocks_promotion")
        description = ""
        if "description" in fields:
            description = (
                self.string(fields["description"], f"{path}.description", allow_empty=True) or ""
            )
        tiers: list[RiskTier] = []
        if "risk_tiers" in fields:
            read_tier = lambda item, field: self.choice(item, field, _TIERS)  # noqa: E731
            tiers = self.items(fields["risk_tiers"], f"{path}.risk_tiers", read_tier) or []
        if kind is None:
            return None

        specific = _KIND_READERS[kind](self, fields, path, node)
        if (
            len(self.problems) > problems_before
            or rule_id is None
            or severity is None
            or specific is None
        ):
            return None
        common = {
            "id": rule_id,
            "severity": severity,
            # Without blocks_promotion in the rule, error and critical rules stop a promotion.
            "blocks_promotion": blocks if blocks is not None else severity >= Severity.ERROR,
            "description": description,
            "risk_tiers": frozenset(tiers),
            "line": node.start_mark.line + 1,
        }
        rule: Rule = specific(**common)
        return rule

    # Kind-specific fields. Each returns a constructor that takes the common fields.

    def required_metadata(
        self, fields: dict[str, yaml.Node], path: str, node: yaml.Node
    ) -> Callable[..., Rule] | None:
        model_fields = self.optional_list(
            fields, "model_fields", path, _names(MODEL_METADATA_FIELDS)
        )
        version_fields = self.optional_list(
            fields, "version_fields", path, _names(VERSION_METADATA_FIELDS)
        )
        model_tags = self.optional_list(fields, "model_tags", path, None)
        version_tags = self.optional_list(fields, "version_tags", path, None)
        if not any(name in fields for name in _KIND_FIELDS[RuleKind.REQUIRED_METADATA]):
            self.problem(
                node,
                path,
                "required_metadata needs at least one of model_fields, version_fields, "
                "model_tags, version_tags",
            )
            return None
        if None in (model_fields, version_fields, model_tags, version_tags):
            return None

        def build(**common: Any) -> Rule:
            return RequiredMetadataRule(
                model_fields=tuple(model_fields or ()),
                version_fields=tuple(version_fields or ()),
                model_tags=tuple(model_tags or ()),
                version_tags=tuple(version_tags or ()),
                **common,
            )

        return build

    def optional_list(
        self, fields: dict[str, yaml.Node], name: str, path: str, choices: dict[str, Any] | None
    ) -> list[str] | None:
        """Read an optional list of strings, or of `choices` when given, or return [] when absent."""
        if name not in fields:
            return []
        field = f"{path}.{name}"
        if choices is None:
            return self.items(fields[name], field, self.string)
        return self.items(
            fields[name],
            field,
            lambda n, f: None if self.choice(n, f, choices) is None else n.value,
        )

    def owner_required(
        self, fields: dict[str, yaml.Node], path: str, node: yaml.Node
    ) -> Callable[..., Rule] | None:
        return lambda **common: OwnerRequiredRule(**common)

    def metric_threshold(
        self, fields: dict[str, yaml.Node], path: str, node: yaml.Node
    ) -> Callable[..., Rule] | None:
        for name in ("metric", "operator", "threshold"):
            if name not in fields:
                self.problem(
                    node, path, f"missing required field {name!r} for kind metric_threshold"
                )
        metric = self.string(fields["metric"], f"{path}.metric") if "metric" in fields else None
        comparison = None
        if "operator" in fields:
            comparison = self.choice(
                fields["operator"], f"{path}.operator", {op: op for op in COMPARISONS}
            )
        threshold = (
            self.number(fields["threshold"], f"{path}.threshold") if "threshold" in fields else None
        )
        split = ""
        if "dataset_split" in fields:
            split = self.string(fields["dataset_split"], f"{path}.dataset_split") or ""
        if metric is None or comparison is None or threshold is None:
            return None
        return lambda **common: MetricThresholdRule(
            metric=metric, operator=comparison, threshold=threshold, dataset_split=split, **common
        )

    def lineage_required(
        self, fields: dict[str, yaml.Node], path: str, node: yaml.Node
    ) -> Callable[..., Rule] | None:
        required = self.optional_list(fields, "fields", path, _names(LINEAGE_FIELDS))
        if required is None:
            return None
        chosen = tuple(required) or DEFAULT_LINEAGE_FIELDS
        return lambda **common: LineageRequiredRule(fields=chosen, **common)

    def forbidden_features(
        self, fields: dict[str, yaml.Node], path: str, node: yaml.Node
    ) -> Callable[..., Rule] | None:
        if "features" not in fields:
            self.problem(
                node, path, "missing required field 'features' for kind forbidden_features"
            )
            return None
        names = self.items(fields["features"], f"{path}.features", self.string)
        if names is None:
            return None
        folded = frozenset(name.casefold() for name in names)
        return lambda **common: ForbiddenFeaturesRule(features=folded, **common)

    def approvals_required(
        self, fields: dict[str, yaml.Node], path: str, node: yaml.Node
    ) -> Callable[..., Rule] | None:
        if "approvals" not in fields:
            self.problem(
                node, path, "missing required field 'approvals' for kind approvals_required"
            )
            return None
        count = self.integer(fields["approvals"], f"{path}.approvals", 0, MAX_APPROVALS)
        stages = [Stage.PRODUCTION]
        if "stages" in fields:
            stages = (
                self.items(
                    fields["stages"],
                    f"{path}.stages",
                    lambda n, f: self.choice(n, f, _APPROVAL_STAGES),
                )
                or []
            )
            if not stages:
                return None
        if count is None:
            return None
        return lambda **common: ApprovalsRequiredRule(
            approvals=count, stages=frozenset(stages), **common
        )

    def max_days_without_review(
        self, fields: dict[str, yaml.Node], path: str, node: yaml.Node
    ) -> Callable[..., Rule] | None:
        if "days" not in fields:
            self.problem(
                node, path, "missing required field 'days' for kind max_days_without_review"
            )
            return None
        days = self.integer(fields["days"], f"{path}.days", 1, MAX_REVIEW_DAYS)
        if days is None:
            return None
        return lambda **common: MaxDaysWithoutReviewRule(days=days, **common)

    def drift_requires_review(
        self, fields: dict[str, yaml.Node], path: str, node: yaml.Node
    ) -> Callable[..., Rule] | None:
        kinds = list(AlertKind)
        if "alert_kinds" in fields:
            kinds = (
                self.items(
                    fields["alert_kinds"],
                    f"{path}.alert_kinds",
                    lambda n, f: self.choice(n, f, _ALERT_KINDS),
                )
                or []
            )
            if not kinds:
                return None
        min_severity = Severity.CRITICAL
        if "min_alert_severity" in fields:
            chosen = self.choice(
                fields["min_alert_severity"], f"{path}.min_alert_severity", _SEVERITIES
            )
            if chosen is None:
                return None
            min_severity = chosen
        return lambda **common: DriftRequiresReviewRule(
            alert_kinds=frozenset(kinds), min_alert_severity=min_severity, **common
        )


def _names(names: Sequence[str]) -> dict[str, str]:
    return {name: name for name in names}


def _field_node(node: yaml.Node, name: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == name:
            found: yaml.Node = value_node
            return found
    return None


_KindReader = Callable[
    [_PolicyReader, dict[str, yaml.Node], str, yaml.Node], Callable[..., Rule] | None
]
_KIND_READERS: dict[RuleKind, _KindReader] = {
    RuleKind.REQUIRED_METADATA: _PolicyReader.required_metadata,
    RuleKind.OWNER_REQUIRED: _PolicyReader.owner_required,
    RuleKind.METRIC_THRESHOLD: _PolicyReader.metric_threshold,
    RuleKind.LINEAGE_REQUIRED: _PolicyReader.lineage_required,
    RuleKind.FORBIDDEN_FEATURES: _PolicyReader.forbidden_features,
    RuleKind.APPROVALS_REQUIRED: _PolicyReader.approvals_required,
    RuleKind.MAX_DAYS_WITHOUT_REVIEW: _PolicyReader.max_days_without_review,
    RuleKind.DRIFT_REQUIRES_REVIEW: _PolicyReader.drift_requires_review,
}


def default_policy_text() -> str:
    """Return the YAML text of default_policy.yaml, the documented starting policy."""
    return resources.files(__package__).joinpath("default_policy.yaml").read_text(encoding="utf-8")
