"""Compiled filters return the same rows on PostgreSQL and SQLite.

Each expected result below is written by hand, and every case runs on both backends through
the `database_url` fixture, so a case that passes on both gives identical results on both.
The tables mirror the services' storage: byte-ordered strings, a UtcDateTime, an integer enum
and key/value tables for tags and metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from modelward_common.db import text_column
from modelward_common.errors import InvalidArgument
from modelward_common.filtering import (
    FieldType,
    FilterField,
    FilterSchema,
    MapField,
    case_sensitive_like,
    filter_clause,
    key_value_predicate,
)
from modelward_common.timeutil import UtcDateTime

METADATA = sa.MetaData()
MODELS = sa.Table(
    "models",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", text_column(200), nullable=False),
    sa.Column("owner", text_column(200), nullable=True),
    sa.Column("risk_tier", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False),
    sa.Column("create_time", UtcDateTime(), nullable=False),
)
TAGS = sa.Table(
    "tags",
    METADATA,
    sa.Column("model_id", sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("key", text_column(200), primary_key=True),
    sa.Column("value", text_column(200), nullable=False),
)
METRICS = sa.Table(
    "metrics",
    METADATA,
    sa.Column("model_id", sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("name", text_column(200), primary_key=True),
    sa.Column("value", sa.Double, nullable=False),
)

# Principals as the services store them: user names in lowercase and composed (NFC).
OWNED = sa.Table(
    "owned",
    METADATA,
    sa.Column("name", text_column(200), primary_key=True),
    sa.Column("owner", text_column(200), nullable=True),
)
OWNED_ROWS = {
    "ana": "user:ana@example.com",
    "lea": "user:l\u00e9a@example.com",
    "fraud": "team:Fraud",
    "nobody": None,
}
OWNED_SCHEMA = FilterSchema(fields={"owner": FilterField.of_principal(OWNED.c.owner)})

RISK_TIERS = {
    "RISK_TIER_UNSPECIFIED": 0,
    "RISK_TIER_LOW": 1,
    "RISK_TIER_MEDIUM": 2,
    "RISK_TIER_HIGH": 3,
    "RISK_TIER_CRITICAL": 4,
}
SCHEMA = FilterSchema(
    fields={
        "name": FilterField(MODELS.c.name, FieldType.STRING),
        "owner": FilterField(MODELS.c.owner, FieldType.STRING),
        "risk_tier": FilterField.enum(MODELS.c.risk_tier, RISK_TIERS, alias_prefix="RISK_TIER_"),
        "version": FilterField(MODELS.c.version, FieldType.INTEGER),
        "archived": FilterField(MODELS.c.archived, FieldType.BOOL),
        "create_time": FilterField(MODELS.c.create_time, FieldType.TIMESTAMP),
    },
    maps={
        "tags": MapField(
            FieldType.STRING,
            key_value_predicate(
                link=TAGS.c.model_id == MODELS.c.id,
                key_column=TAGS.c.key,
                value_column=TAGS.c.value,
            ),
        ),
        "metrics": MapField(
            FieldType.FLOAT,
            key_value_predicate(
                link=METRICS.c.model_id == MODELS.c.id,
                key_column=METRICS.c.name,
                value_column=METRICS.c.value,
            ),
            key_label="name",
        ),
    },
)


def utc(month: int, day: int = 1, hour: int = 0, microsecond: int = 0) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, microsecond=microsecond, tzinfo=dt.UTC)


# id, name, owner, risk tier, archived, create time, tags, metrics. The version is the id.
ROWS: list[tuple[int, str, str | None, int, bool, dt.datetime, dict[str, str], dict[str, float]]] = [
    (1, "a+b1", "team:fraud", 3, False, utc(1), {"team-x": "yes", "domain": "payments"}, {"auc": 0.85}),
    (2, "a.b", "team:risk", 1, False, utc(2, 1, 12, 250_000), {"domain": "pay.ments"}, {"auc": 0.75, "f1": 0.6}),
    (3, "axb", "team:fraud", 2, True, utc(3), {"a.b:c": "dotted"}, {"auc": 0.8}),
    (4, "A.B", None, 4, False, utc(4), {}, {}),
    (5, "a_b", "Team:Fraud", 1, False, utc(5), {"domain": "Payments"}, {"auc": 0.9}),
    (6, "a%b", "team:fraud", 2, False, utc(6), {}, {"auc": 0.81}),
    (7, "a\\b", "team:risk", 3, False, utc(7), {}, {}),
    (8, "模型-ü", "团队", 2, False, utc(8), {"语言": "中文"}, {"auc": 0.95}),
    (9, "ab", "team:fraud", 1, True, utc(9), {}, {"auc": 0.5}),
    (10, "a+bc", "team:fraud", 3, False, utc(10), {}, {"auc": 0.8000000000000002}),
    (11, "é", None, 0, False, utc(11), {}, {}),
    (12, "a+b", "team:ops", 1, False, utc(12), {"team-x": "no"}, {"auc": -1.5e-3}),
]  # fmt: skip
ALL_NAMES = {row[1] for row in ROWS}

# Filter text and the names it must select. Raw strings keep backslashes as typed by a user.
CASES: list[tuple[str, set[str]]] = [
    ('owner = "team:fraud" AND metrics.auc > 0.8', {"a+b1", "a%b", "a+bc"}),
    # Case-sensitive equality, NULL handling and NOT.
    ('owner = "team:fraud"', {"a+b1", "axb", "a%b", "ab", "a+bc"}),
    ('owner != "team:fraud"', {"a.b", "a_b", "a\\b", "模型-ü", "a+b"}),
    ('NOT owner = "team:fraud"', {"a.b", "a_b", "a\\b", "模型-ü", "a+b", "A.B", "é"}),
    ("owner IS NULL", {"A.B", "é"}),
    ("owner IS NOT NULL", ALL_NAMES - {"A.B", "é"}),
    ('owner IN ("团队", "team:ops")', {"模型-ü", "a+b"}),
    ('owner NOT IN ("team:fraud", "team:risk")', {"a_b", "模型-ü", "a+b"}),
    ('NOT owner IN ("team:fraud", "team:risk")', {"a_b", "模型-ü", "a+b", "A.B", "é"}),
    # LIKE: only % and _ are wildcards, escapes work, and case matters.
    ("name LIKE 'a.b'", {"a.b"}),
    ("name LIKE 'a+b%'", {"a+b1", "a+bc", "a+b"}),
    ("name LIKE 'a_b'", {"a.b", "axb", "a_b", "a%b", "a\\b", "a+b"}),
    (r"name LIKE 'a\_b'", {"a_b"}),
    (r"name LIKE 'a\%b'", {"a%b"}),
    (r"name LIKE 'a\\b'", {"a\\b"}),
    ("name LIKE 'A%'", {"A.B"}),
    ("name LIKE 'A.b'", set()),
    ("name LIKE '_'", {"é"}),
    ("name LIKE '模型%'", {"模型-ü"}),
    ("name LIKE '%ü'", {"模型-ü"}),
    ("name LIKE '%'", ALL_NAMES),
    ("name NOT LIKE 'a%'", {"A.B", "模型-ü", "é"}),
    (r'name = "a\\b"', {"a\\b"}),
    ("name = 'a.b' OR name = \"A.B\"", {"a.b", "A.B"}),
    # String order compares bytes: "A" < "a" < "é" < "模".
    ('name < "a"', {"A.B"}),
    ('name > "z"', {"é", "模型-ü"}),
    ('name >= "a+b" AND name < "a.b"', {"a+b", "a+b1", "a+bc"}),
    # Enums, integers and bools.
    ("risk_tier = HIGH", {"a+b1", "a\\b", "a+bc"}),
    ("risk_tier = RISK_TIER_HIGH", {"a+b1", "a\\b", "a+bc"}),
    ('risk_tier = "HIGH"', {"a+b1", "a\\b", "a+bc"}),
    ("risk_tier >= HIGH", {"a+b1", "a\\b", "a+bc", "A.B"}),
    ("risk_tier IN (LOW, CRITICAL)", {"a.b", "a_b", "ab", "a+b", "A.B"}),
    ("version = 3", {"axb"}),
    ("version > 10", {"é", "a+b"}),
    ("archived = true", {"axb", "ab"}),
    ("archived != TRUE", ALL_NAMES - {"axb", "ab"}),
    # Timestamps, with offsets and microseconds.
    ('create_time >= "2024-11-01T00:00:00Z"', {"é", "a+b"}),
    ('create_time > "2024-02-01T12:00:00.25Z"', ALL_NAMES - {"a+b1", "a.b"}),
    ('create_time = "2024-02-01T13:00:00.250+01:00"', {"a.b"}),
    ('create_time < "2024-02-01T12:00:00.250001Z"', {"a+b1", "a.b"}),
    ('create_time <= "2024-02-01T12:00:00.250000000Z"', {"a+b1", "a.b"}),
    # Tags: quoted keys, presence, and the two-valued rule for missing keys.
    ('tags."team-x" = "yes"', {"a+b1"}),
    ("tags.`team-x` IS NOT NULL".replace("`", '"'), {"a+b1", "a+b"}),
    ('tags.domain LIKE "pay%"', {"a+b1", "a.b"}),
    ('tags.domain NOT LIKE "pay%"', {"a_b"}),
    ('tags.domain != "payments"', {"a.b", "a_b"}),
    ('NOT tags.domain = "payments"', ALL_NAMES - {"a+b1"}),
    ('tags.domain IN ("payments", "Payments")', {"a+b1", "a_b"}),
    ("tags.domain IS NULL", ALL_NAMES - {"a+b1", "a.b", "a_b"}),
    ("tags.'a.b:c' = \"dotted\"", {"axb"}),
    ('tags."语言" = "中文"', {"模型-ü"}),
    # Metrics compare as floats.
    ("metrics.auc >= 0.8 AND metrics.auc <= 0.85", {"a+b1", "axb", "a%b", "a+bc"}),
    ("metrics.auc > 8e-1", {"a+b1", "a_b", "a%b", "模型-ü", "a+bc"}),
    ("metrics.auc < 0", {"a+b"}),
    ("metrics.auc > -0.01", {"a+b1", "a.b", "axb", "a_b", "a%b", "模型-ü", "ab", "a+bc", "a+b"}),
    ("metrics.f1 = 0.6", {"a.b"}),
    ("metrics.auc = 1", set()),
    # Precedence.
    (
        'owner = "team:fraud" OR owner = "team:risk" AND risk_tier = LOW',
        {"a+b1", "axb", "a%b", "ab", "a+bc", "a.b"},
    ),
    ('(owner = "team:fraud" OR owner = "team:risk") AND risk_tier = LOW', {"a.b", "ab"}),
    ("NOT (archived = true OR metrics.auc > 0.8)", {"a.b", "A.B", "a\\b", "é", "a+b"}),
]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
        await connection.execute(sa.insert(MODELS), [model_values(row) for row in ROWS])
        tag_rows = [
            {"model_id": row[0], "key": key, "value": value}
            for row in ROWS
            for key, value in row[6].items()
        ]
        await connection.execute(sa.insert(TAGS), tag_rows)
        metric_rows = [
            {"model_id": row[0], "name": name, "value": value}
            for row in ROWS
            for name, value in row[7].items()
        ]
        await connection.execute(sa.insert(METRICS), metric_rows)
        owned_rows = [{"name": name, "owner": owner} for name, owner in OWNED_ROWS.items()]
        await connection.execute(sa.insert(OWNED), owned_rows)
    yield engine
    await engine.dispose()


def model_values(row: tuple[object, ...]) -> dict[str, object]:
    model_id, name, owner, risk_tier, archived, create_time = row[:6]
    return {
        "id": model_id,
        "name": name,
        "owner": owner,
        "risk_tier": risk_tier,
        "version": model_id,
        "archived": archived,
        "create_time": create_time,
    }


async def names_matching(engine: AsyncEngine, clause: sa.ColumnElement[bool] | None) -> set[str]:
    statement = sa.select(MODELS.c.name)
    if clause is not None:
        statement = statement.where(clause)
    async with engine.connect() as connection:
        return set((await connection.execute(statement)).scalars())


async def test_filter_example_from_the_api(engine: AsyncEngine) -> None:
    clause = filter_clause('owner = "team:fraud" AND metrics.auc > 0.8', SCHEMA)
    assert await names_matching(engine, clause) == {"a+b1", "a%b", "a+bc"}


async def test_filter_cases_match_expected(engine: AsyncEngine) -> None:
    mismatches = {}
    for text, expected in CASES:
        found = await names_matching(engine, filter_clause(text, SCHEMA))
        if found != expected:
            mismatches[text] = {"missing": expected - found, "unexpected": found - expected}
    assert mismatches == {}


# Literals are put in canonical_principal's form; LIKE patterns only when they start with user:.
PRINCIPAL_CASES: list[tuple[str, set[str]]] = [
    ('owner = "user:Ana@Example.COM"', {"ana"}),
    ('owner != "user:ANA@example.com"', {"lea", "fraud"}),
    ('owner IN ("user:L\u00c9A@example.com", "team:Fraud")', {"lea", "fraud"}),
    ('owner = "user:le\u0301a@example.com"', {"lea"}),
    ('owner = "team:fraud"', set()),
    ('owner LIKE "user:ANA%"', {"ana"}),
    ('owner LIKE "user:L_A@%"', {"lea"}),
    ('owner LIKE "user:%@EXAMPLE.com"', {"ana", "lea"}),
    ('owner NOT LIKE "user:ANA%"', {"lea", "fraud"}),
    ('owner LIKE "%@Example.com"', set()),
    ('owner LIKE "%@example.com"', {"ana", "lea"}),
    ('owner LIKE "team:F%"', {"fraud"}),
]


async def test_principal_literals_canonical(engine: AsyncEngine) -> None:
    mismatches = {}
    for text, expected in PRINCIPAL_CASES:
        statement = sa.select(OWNED.c.name).where(filter_clause(text, OWNED_SCHEMA))
        async with engine.connect() as connection:
            found = set((await connection.execute(statement)).scalars())
        if found != expected:
            mismatches[text] = {"missing": expected - found, "unexpected": found - expected}
    assert mismatches == {}


async def test_empty_filter_selects_everything(engine: AsyncEngine) -> None:
    assert filter_clause("  ", SCHEMA) is None
    assert await names_matching(engine, None) == ALL_NAMES


async def test_case_sensitive_like_with_sql_pattern(engine: AsyncEngine) -> None:
    assert await names_matching(engine, case_sensitive_like(MODELS.c.name, r"a\%b")) == {"a%b"}
    assert await names_matching(engine, case_sensitive_like(MODELS.c.name, "a.%")) == {"a.b"}
    assert await names_matching(engine, case_sensitive_like(MODELS.c.name, "a[%")) == set()


async def test_like_needs_no_sqlite_pragma(engine: AsyncEngine) -> None:
    """Case-sensitivity must not depend on connection settings that a caller could forget."""
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            await connection.exec_driver_sql("PRAGMA case_sensitive_like = OFF")
        clause = filter_clause("name LIKE 'a.b'", SCHEMA)
        found = set((await connection.execute(sa.select(MODELS.c.name).where(clause))).scalars())
    assert found == {"a.b"}


# --- Compile errors ------------------------------------------------------------------------


def compile_error(text: str) -> str:
    with pytest.raises(InvalidArgument) as caught:
        filter_clause(text, SCHEMA)
    assert caught.value.field == "filter"
    return caught.value.message


def test_unknown_field_lists_allowed_fields() -> None:
    message = compile_error('ownr = "x"')
    assert message.startswith(
        "filter 'ownr = \"x\"' is invalid: unknown field 'ownr' at position 1; use one of: "
    )
    assert (
        "archived, create_time, name, owner, risk_tier, version, metrics.<name>, tags.<key>"
        in message
    )


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ('metrics.auc > "high"', 15, 'metrics.auc has type float, so "high" is not a valid value'),
        ('version = "x"', 11, 'version has type integer, so "x" is not a valid value'),
        ("version = 1.5", 11, "version has type integer, so 1.5 is not a valid value"),
        ("name = HIGH", 8, "name has type string, so HIGH is not a valid value"),
        ("archived = 1", 12, "archived has type bool, so 1 is not a valid value"),
        ("archived < true", 12, "archived has type bool and supports only = and !="),
        ("metrics.auc > nan", 15, "NaN and infinity are rejected"),
        ("metrics.auc > Infinity", 15, "NaN and infinity are rejected"),
        ("metrics.auc > -inf", 15, "unexpected character '-'"),
        ('create_time > "yesterday"', 15, "not a valid RFC 3339 timestamp"),
        ('create_time > "2024-05-01T00:00:00"', 15, "not a valid RFC 3339 timestamp"),
        ('create_time > "2024-02-30T00:00:00Z"', 15, "not a valid RFC 3339 timestamp"),
        ('create_time > "2024-05-01T00:00:00.0000001Z"', 15, "microsecond precision"),
        ("create_time > 5", 15, "create_time has type timestamp, so 5 is not a valid value"),
        ("risk_tier = EXTREME", 13, "EXTREME is not a value of risk_tier"),
        ("risk_tier = 3", 13, "3 is not a value of risk_tier"),
        ('version LIKE "1%"', 1, "LIKE works on strings only, and version has type integer"),
        ('metrics.auc LIKE "0.8%"', 1, "LIKE works on strings only"),
        ('tags = "x"', 1, "expected tags.<key> with a single key but found 'tags'"),
        ('tags.a.b = "x"', 1, "with a single key but found 'tags.a.b'"),
        ("metrics = 1", 1, "expected metrics.<name> with a single name"),
        ('owner."x" = "y"', 1, "unknown field 'owner.x'"),
    ],
)
def test_compile_errors(text: str, position: int, problem: str) -> None:
    message = compile_error(text)
    assert problem in message
    assert f"at position {position};" in message


def test_enum_error_lists_names() -> None:
    message = compile_error("risk_tier = EXTREME")
    assert "use one of: CRITICAL, HIGH, LOW, MEDIUM, RISK_TIER_CRITICAL" in message


def test_quoted_dotted_key_is_suggested() -> None:
    assert 'write tags."a.b"' in compile_error('tags.a.b = "x"')
