"""The filter grammar: structure, precedence, literals, escapes, error positions and limits."""

from __future__ import annotations

import pytest

from modelward_common.errors import InvalidArgument
from modelward_common.filtering import (
    MAX_FILTER_LENGTH,
    MAX_IN_VALUES,
    MAX_NESTING_DEPTH,
    MAX_TERMS,
    And,
    Comparison,
    FieldPath,
    InList,
    IsNull,
    Like,
    LikePattern,
    Not,
    Operator,
    Or,
    Value,
    ValueKind,
    Wildcard,
    parse_filter,
)

ANY = Wildcard.ANY_SEQUENCE
ONE = Wildcard.ANY_CHARACTER


def path(*segments: str) -> FieldPath:
    return FieldPath(segments)


def equals(field: str, value: int) -> Comparison:
    return Comparison(path(field), Operator.EQUAL, Value(ValueKind.INTEGER, value))


def string(text: str) -> Value:
    return Value(ValueKind.STRING, text)


def parse_error(text: str) -> str:
    with pytest.raises(InvalidArgument) as caught:
        parse_filter(text)
    assert caught.value.field == "filter"
    return caught.value.message


# --- Structure and precedence --------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\t\n "])
def test_blank_filter_is_none(text: str) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    ("text", "operator"),
    [
        ("a = 1", Operator.EQUAL),
        ("a != 1", Operator.NOT_EQUAL),
        ("a < 1", Operator.LESS),
        ("a <= 1", Operator.LESS_OR_EQUAL),
        ("a > 1", Operator.GREATER),
        ("a >= 1", Operator.GREATER_OR_EQUAL),
        ("a>=1", Operator.GREATER_OR_EQUAL),
    ],
)
def test_comparison_operators(text: str, operator: Operator) -> None:
    assert parse_filter(text) == Comparison(path("a"), operator, Value(ValueKind.INTEGER, 1))


def test_and_binds_tighter_than_or() -> None:
    assert parse_filter("a = 1 OR b = 2 AND c = 3") == Or(
        (equals("a", 1), And((equals("b", 2), equals("c", 3))))
    )


def test_not_binds_tighter_than_and() -> None:
    assert parse_filter("NOT a = 1 AND b = 2") == And((Not(equals("a", 1)), equals("b", 2)))


def test_parentheses_override_precedence() -> None:
    assert parse_filter("(a = 1 OR b = 2) AND c = 3") == And(
        (Or((equals("a", 1), equals("b", 2))), equals("c", 3))
    )


def test_not_applies_to_parenthesised_group() -> None:
    assert parse_filter("NOT (a = 1 OR b = 2)") == Not(Or((equals("a", 1), equals("b", 2))))


def test_chains_are_flat() -> None:
    assert parse_filter("a = 1 AND b = 2 AND c = 3") == And(
        (equals("a", 1), equals("b", 2), equals("c", 3))
    )


def test_keywords_are_case_insensitive() -> None:
    expected = Or((Not(equals("a", 1)), And((equals("b", 2), equals("c", 3)))))
    assert parse_filter("not a = 1 or b = 2 and c = 3") == expected
    assert parse_filter("Not a = 1 oR b = 2 AnD c = 3") == expected


def test_double_not() -> None:
    assert parse_filter("NOT NOT a = 1") == Not(Not(equals("a", 1)))


# --- Terms ---------------------------------------------------------------------------------


def test_like_and_not_like() -> None:
    assert parse_filter('name LIKE "ab%"') == Like(path("name"), LikePattern(("ab", ANY)))
    assert parse_filter("name not like 'a_'") == Like(
        path("name"), LikePattern(("a", ONE)), negated=True
    )


def test_in_and_not_in() -> None:
    assert parse_filter('owner IN ("x", "y")') == InList(path("owner"), (string("x"), string("y")))
    assert parse_filter("tier NOT IN (HIGH, LOW)") == InList(
        path("tier"),
        (Value(ValueKind.NAME, "HIGH"), Value(ValueKind.NAME, "LOW")),
        negated=True,
    )


def test_is_null_and_is_not_null() -> None:
    assert parse_filter("owner IS NULL") == IsNull(path("owner"))
    assert parse_filter("owner is not null") == IsNull(path("owner"), negated=True)


# --- Field paths ---------------------------------------------------------------------------


def test_dotted_field_path() -> None:
    parsed = parse_filter('artifact.format = "onnx"')
    assert isinstance(parsed, Comparison)
    assert parsed.field == path("artifact", "format")


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ('tags.domain = "x"', ("tags", "domain")),
        ('tags."team-x" = "x"', ("tags", "team-x")),
        ("tags.'a.b:c' = \"x\"", ("tags", "a.b:c")),
        (r'tags."say \"hi\"" = "x"', ("tags", 'say "hi"')),
        ('tags.not = "x"', ("tags", "not")),
        ("metrics.auc > 0.5", ("metrics", "auc")),
    ],
)
def test_map_keys(text: str, segments: tuple[str, ...]) -> None:
    parsed = parse_filter(text)
    assert isinstance(parsed, Comparison)
    assert parsed.field.segments == segments


def test_field_path_shows_quoted_keys() -> None:
    assert str(path("tags", "team-x")) == 'tags."team-x"'
    assert str(path("metrics", "auc")) == "metrics.auc"


# --- Values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ('"team:fraud"', Value(ValueKind.STRING, "team:fraud")),
        ("'team:fraud'", Value(ValueKind.STRING, "team:fraud")),
        ('""', Value(ValueKind.STRING, "")),
        (r'"say \"hi\""', Value(ValueKind.STRING, 'say "hi"')),
        (r"'it\'s'", Value(ValueKind.STRING, "it's")),
        (r'"back\\slash"', Value(ValueKind.STRING, "back\\slash")),
        ('"it\'s"', Value(ValueKind.STRING, "it's")),
        ('"模型 ü"', Value(ValueKind.STRING, "模型 ü")),
        ("42", Value(ValueKind.INTEGER, 42)),
        ("-7", Value(ValueKind.INTEGER, -7)),
        ("0.8", Value(ValueKind.FLOAT, 0.8)),
        ("-0.25", Value(ValueKind.FLOAT, -0.25)),
        ("1e3", Value(ValueKind.FLOAT, 1000.0)),
        ("2.5E-2", Value(ValueKind.FLOAT, 0.025)),
        ("-1e+2", Value(ValueKind.FLOAT, -100.0)),
        ("true", Value(ValueKind.BOOL, True)),
        ("FALSE", Value(ValueKind.BOOL, False)),
        ("HIGH", Value(ValueKind.NAME, "HIGH")),
        ('"2024-05-01T00:00:00Z"', Value(ValueKind.STRING, "2024-05-01T00:00:00Z")),
    ],
)
def test_value_literals(literal: str, expected: Value) -> None:
    parsed = parse_filter(f"a = {literal}")
    assert isinstance(parsed, Comparison)
    assert parsed.value == expected
    assert type(parsed.value.value) is type(expected.value)
    assert parsed.value.text == literal
    assert parsed.value.position == 5


def test_int64_bounds_are_accepted() -> None:
    for number in (2**63 - 1, -(2**63)):
        parsed = parse_filter(f"a = {number}")
        assert isinstance(parsed, Comparison)
        assert parsed.value.value == number


# --- LIKE patterns -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "parts"),
    [
        ("'a+b%'", ("a+b", ANY)),
        ("'a.b'", ("a.b",)),
        ("'%a_b%'", (ANY, "a", ONE, "b", ANY)),
        (r"'a\%b'", ("a%b",)),
        (r"'a\_b'", ("a_b",)),
        (r"'a\\b'", ("a\\b",)),
        (r"'a\\%'", ("a\\", ANY)),
        (r"'it\'s%'", ("it's", ANY)),
        ("'模_'", ("模", ONE)),
        ("''", ()),
    ],
)
def test_like_pattern_escapes(pattern: str, parts: tuple[str | Wildcard, ...]) -> None:
    parsed = parse_filter(f"name LIKE {pattern}")
    assert isinstance(parsed, Like)
    assert parsed.pattern.parts == parts


@pytest.mark.parametrize(
    ("parts", "sql", "glob"),
    [
        (("a+b", ANY), "a+b%", "a+b*"),
        (("a%b_c\\",), r"a\%b\_c\\", "a%b_c\\"),
        ((ANY, "x*y?[z]", ONE), r"%x*y?[z]_", "*x[*]y[?][[]z]?"),
    ],
)
def test_like_pattern_rendering(parts: tuple[str | Wildcard, ...], sql: str, glob: str) -> None:
    pattern = LikePattern(parts)
    assert pattern.sql_pattern() == sql
    assert pattern.glob_pattern() == glob


def test_like_pattern_parse_uses_sql_escapes() -> None:
    assert LikePattern.parse(r"a\%b%") == LikePattern(("a%b", ANY))
    with pytest.raises(ValueError):
        LikePattern.parse(r"a\b")
    with pytest.raises(ValueError):
        LikePattern.parse("a\\")


# --- Syntax errors -------------------------------------------------------------------------


def test_missing_value_error_message() -> None:
    assert parse_error("owner = ").startswith(
        "filter 'owner = ' is invalid: expected a value after '=' at position 9; "
    )


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ('owner = "abc', 9, "unterminated string"),
        ("a = 1 b = 2", 7, "expected AND or OR"),
        ("(a = 1", 7, "expected ')'"),
        ("a = 1)", 6, "unmatched ')'"),
        ("a & b", 3, "unexpected character '&'"),
        ("a == 1", 3, "unexpected '=='"),
        ("a ! 1", 3, "unexpected character '!'"),
        ("a = 1 AND", 10, "expected a field name"),
        ("AND a = 1", 1, "expected a field name"),
        ("= 1", 1, "expected a field name"),
        ("a 1", 3, "expected an operator"),
        ("a", 2, "expected an operator"),
        ("a NOT = 1", 7, "expected LIKE or IN after NOT"),
        ("a IS 1", 6, "expected NULL after IS"),
        ("a = NULL", 5, "NULL is not a value"),
        ("a = AND", 5, "expected a value"),
        ("a LIKE 5", 8, "expected a quoted pattern"),
        ("a IN 1", 6, "expected '(' after IN"),
        ("a IN (1 2)", 9, "expected ',' or ')'"),
        ("a IN ()", 7, "expected a value"),
        ("a = 1e999", 5, "number out of range"),
        (f"a = {2**63}", 5, "integer out of range"),
        (f"a = {-(2**63) - 1}", 5, "integer out of range"),
        ("tags.-x = 1", 6, "unexpected character '-'"),
        ("tags. = 1", 7, "expected a field name or a quoted map key"),
        ("tags.2nd = 1", 6, "expected a field name or a quoted map key"),
        (r'a = "x\ny"', 7, r"invalid escape '\n'"),
        (r'a LIKE "x\y"', 10, "invalid escape in LIKE pattern"),
        ("a = 1.", 6, "expected AND or OR"),
        ("a = 1 AND (b = 2", 17, "expected ')'"),
    ],
)
def test_syntax_error_positions(text: str, position: int, problem: str) -> None:
    message = parse_error(text)
    assert problem in message
    assert f"at position {position};" in message


def test_position_counts_characters_not_bytes() -> None:
    message = parse_error('name = "模型" &')
    assert "at position 13;" in message


def test_error_message_offers_fix() -> None:
    message = parse_error("tags.team-x = 1")
    assert 'tags."team-x"' in message


# --- Limits --------------------------------------------------------------------------------


def test_filter_length_limit() -> None:
    at_limit = "a = 1" + " " * (MAX_FILTER_LENGTH - 5)
    assert parse_filter(at_limit) == equals("a", 1)
    message = parse_error(at_limit + " ")
    assert f"over the maximum of {MAX_FILTER_LENGTH}" in message


def test_nesting_depth_limit() -> None:
    nested = "(" * MAX_NESTING_DEPTH + "a = 1" + ")" * MAX_NESTING_DEPTH
    assert parse_filter(nested) == equals("a", 1)
    message = parse_error("(" + nested + ")")
    assert f"maximum depth of {MAX_NESTING_DEPTH}" in message
    assert f"at position {MAX_NESTING_DEPTH + 1};" in message


def test_not_counts_towards_depth() -> None:
    assert parse_filter("NOT " * MAX_NESTING_DEPTH + "a = 1") is not None
    message = parse_error("NOT " * (MAX_NESTING_DEPTH + 1) + "a = 1")
    assert f"maximum depth of {MAX_NESTING_DEPTH}" in message


def test_term_count_limit() -> None:
    terms = [f"a = {n}" for n in range(MAX_TERMS)]
    parsed = parse_filter(" OR ".join(terms))
    assert isinstance(parsed, Or)
    assert len(parsed.operands) == MAX_TERMS
    message = parse_error(" OR ".join(terms + ["b = 1"]))
    assert f"maximum of {MAX_TERMS} terms" in message


def test_in_list_limit() -> None:
    values = ", ".join(str(n) for n in range(MAX_IN_VALUES))
    parsed = parse_filter(f"a IN ({values})")
    assert isinstance(parsed, InList)
    assert len(parsed.values) == MAX_IN_VALUES
    message = parse_error(f"a IN ({values}, 1)")
    assert f"maximum of {MAX_IN_VALUES} values" in message
