"""Keyset paging on PostgreSQL and SQLite: complete walks, mixed orders, tokens and counts."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from modelward_common.db import text_column
from modelward_common.errors import InvalidArgument
from modelward_common.filtering import FieldType, FilterField, FilterSchema, filter_clause
from modelward_common.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_ORDER_BY_LENGTH,
    MAX_PAGE_SIZE,
    OrderTerm,
    PageToken,
    count_rows,
    fetch_page,
    items_within,
    keyset_predicate,
    normalize_page_size,
    parse_order_by,
    query_fingerprint,
)
from modelward_common.timeutil import UtcDateTime

KEY = b"k" * 32
METADATA = sa.MetaData()
ITEMS = sa.Table(
    "items",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", text_column(100), nullable=False),
    sa.Column("score", sa.Double, nullable=False),
    sa.Column("grp", sa.Integer, nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    # A plain DateTime reads back naive on SQLite, and UtcDateTime reads back aware on both.
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", UtcDateTime(), nullable=False),
)
ALLOWED = {
    "name": ITEMS.c.name,
    "score": ITEMS.c.score,
    "grp": ITEMS.c.grp,
    "flag": ITEMS.c.flag,
    "created": ITEMS.c.created,
    "updated": ITEMS.c.updated,
}
SCHEMA = FilterSchema(
    fields={
        "name": FilterField(ITEMS.c.name, FieldType.STRING),
        "grp": FilterField(ITEMS.c.grp, FieldType.INTEGER),
    }
)

# Few distinct values per column, so every order has many ties for the later keys to break.
# 0.1 + 0.2 and 0.3 differ only in the last bit, and the times differ by one microsecond.
NAMES = ["b", "a", "A", "é", "模型", "a+b", "a.b", "ab"]
SCORES = [0.1 + 0.2, 0.3, 1 / 3, 1e-300]
BASE_TIME = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
ROWS: list[dict[str, Any]] = [
    {
        "id": item_id,
        "name": NAMES[item_id % len(NAMES)],
        "score": SCORES[item_id % len(SCORES)],
        "grp": item_id % 3,
        "flag": item_id % 2 == 0,
        "created": BASE_TIME + dt.timedelta(microseconds=item_id % 5),
        "updated": BASE_TIME + dt.timedelta(seconds=item_id % 4, microseconds=7),
    }
    for item_id in range(1, 24)
]
ORDERS = [
    "",
    "name",
    "score desc",
    "grp, score desc",
    "grp desc, created",
    "flag desc, name asc, score",
    "created desc, flag, grp desc",
    "updated, created desc",
]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
        await connection.execute(sa.insert(ITEMS), ROWS)
    yield engine
    await engine.dispose()


def expected_ids(order_by: str, rows: Sequence[Mapping[str, Any]] = ROWS) -> list[int]:
    """Sort in Python: str order is code-point order, which is also UTF-8 byte order."""
    terms = parse_order_by(order_by, ALLOWED, tiebreaker=ITEMS.c.id)
    ordered = list(rows)
    # Stable sorts from the last key to the first give a multi-key sort with mixed directions.
    for term in reversed(terms):
        column_name = "id" if term.column is ITEMS.c.id else term.field
        ordered.sort(key=lambda row: row[column_name], reverse=term.descending)
    return [row["id"] for row in ordered]


async def walk(
    connection: AsyncConnection,
    order_by: str,
    page_size: int,
    filter_text: str = "",
) -> tuple[list[int], int]:
    """Fetch every page; return the ids in the order seen and the number of pages."""
    terms = parse_order_by(order_by, ALLOWED, tiebreaker=ITEMS.c.id)
    statement = sa.select(ITEMS)
    clause = filter_clause(filter_text, SCHEMA)
    if clause is not None:
        statement = statement.where(clause)
    seen: list[int] = []
    token = ""
    pages = 0
    while True:
        page = await fetch_page(
            connection,
            statement,
            terms,
            page_size=page_size,
            page_token=token,
            key=KEY,
            fingerprint_parts=[filter_text, order_by],
        )
        pages += 1
        seen += [row.id for row in page.rows]
        token = page.next_page_token
        if not token:
            return seen, pages
        assert pages <= len(ROWS), "paging did not end"


async def first_token(
    connection: AsyncConnection, order_by: str = "name", filter_text: str = ""
) -> str:
    terms = parse_order_by(order_by, ALLOWED, tiebreaker=ITEMS.c.id)
    page = await fetch_page(
        connection,
        sa.select(ITEMS),
        terms,
        page_size=3,
        page_token="",
        key=KEY,
        fingerprint_parts=[filter_text, order_by],
    )
    assert page.next_page_token
    return page.next_page_token


async def fetch_with(
    connection: AsyncConnection,
    token: str,
    *,
    order_by: str = "name",
    filter_text: str = "",
    key: bytes = KEY,
) -> None:
    terms = parse_order_by(order_by, ALLOWED, tiebreaker=ITEMS.c.id)
    await fetch_page(
        connection,
        sa.select(ITEMS),
        terms,
        page_size=3,
        page_token=token,
        key=key,
        fingerprint_parts=[filter_text, order_by],
    )


# --- Walking all pages ---------------------------------------------------------------------


@pytest.mark.parametrize("order_by", ORDERS)
async def test_page_size_one_visits_each_row_once(engine: AsyncEngine, order_by: str) -> None:
    async with engine.connect() as connection:
        seen, pages = await walk(connection, order_by, page_size=1)
    assert seen == expected_ids(order_by)
    assert pages == len(ROWS)


@pytest.mark.parametrize(("page_size", "pages"), [(2, 12), (5, 5), (22, 2), (23, 1), (24, 1)])
async def test_page_sizes_split_rows(engine: AsyncEngine, page_size: int, pages: int) -> None:
    async with engine.connect() as connection:
        seen, page_count = await walk(connection, "grp desc, created", page_size)
    assert seen == expected_ids("grp desc, created")
    assert page_count == pages


@pytest.mark.parametrize("budget", [1, 25, 75, 10_000])
async def test_byte_cut_pages_visit_rows_once(engine: AsyncEngine, budget: int) -> None:
    # Each row counts as len(name) + 10 bytes, and a page ends where the budget runs out.
    terms = parse_order_by("name", ALLOWED, tiebreaker=ITEMS.c.id)
    seen: list[int] = []
    token = ""
    async with engine.connect() as connection:
        for _ in range(len(ROWS) + 1):
            page = await fetch_page(
                connection, sa.select(ITEMS), terms, page_size=10, page_token=token, key=KEY, fingerprint_parts=["name"],
            )
            page = page.first(items_within((len(row.name) + 10 for row in page.rows), budget))
            seen += [row.id for row in page.rows]
            token = page.next_page_token
            if not token:
                break
    assert seen == expected_ids("name")


def test_items_within_budget() -> None:
    assert items_within([]) == 0
    assert items_within([10, 20], budget=25) == 1
    assert items_within([10, 10, 10], budget=25) == 2
    assert items_within([30, 5], budget=25) == 1
    assert items_within([10, 10], budget=100) == 2


async def test_last_page_has_no_token(engine: AsyncEngine) -> None:
    terms = parse_order_by("", ALLOWED, tiebreaker=ITEMS.c.id)
    async with engine.connect() as connection:
        page = await fetch_page(
            connection,
            sa.select(ITEMS),
            terms,
            page_size=0,
            page_token="",
            key=KEY,
            fingerprint_parts=[],
        )
    assert len(page.rows) == len(ROWS)
    assert page.next_page_token == ""


async def test_filter_pages_and_total_count(engine: AsyncEngine) -> None:
    filter_text = 'grp = 1 OR name LIKE "a%"'
    matching = [row for row in ROWS if row["grp"] == 1 or row["name"].startswith("a")]
    statement = sa.select(ITEMS).where(filter_clause(filter_text, SCHEMA))
    async with engine.connect() as connection:
        seen, _ = await walk(connection, "score desc", 2, filter_text)
        total = await count_rows(connection, statement)
        everything = await count_rows(connection, sa.select(ITEMS).order_by(ITEMS.c.name).limit(3))
    assert seen == expected_ids("score desc", matching)
    assert total == len(matching)
    assert everything == len(ROWS)


async def test_rows_inserted_before_cursor_do_not_repeat(engine: AsyncEngine) -> None:
    terms = parse_order_by("name", ALLOWED, tiebreaker=ITEMS.c.id)
    arguments: dict[str, Any] = {"key": KEY, "fingerprint_parts": ["", "name"], "page_size": 10}
    async with engine.connect() as connection:
        first = await fetch_page(connection, sa.select(ITEMS), terms, page_token="", **arguments)
        await connection.execute(sa.insert(ITEMS), [{**ROWS[0], "id": 100, "name": "0"}])
        rest = await fetch_page(
            connection, sa.select(ITEMS), terms, page_token=first.next_page_token, **arguments
        )
    first_ids = {row.id for row in first.rows}
    rest_ids = {row.id for row in rest.rows}
    assert first_ids.isdisjoint(rest_ids)
    assert 100 not in rest_ids


async def test_session_with_row_values(engine: AsyncEngine) -> None:
    """An AsyncSession works too, with row_values reading keys the select does not name."""
    terms = parse_order_by("score desc", ALLOWED, tiebreaker=ITEMS.c.id)
    by_id = {row["id"]: row for row in ROWS}
    seen: list[int] = []
    token = ""
    async with AsyncSession(engine) as session:
        while True:
            page = await fetch_page(
                session,
                sa.select(ITEMS.c.id),
                terms,
                page_size=4,
                page_token=token,
                key=KEY,
                fingerprint_parts=["score desc"],
                row_values=lambda row: (by_id[row.id]["score"], row.id),
            )
            seen += [row.id for row in page.rows]
            token = page.next_page_token
            if not token:
                break
    assert seen == expected_ids("score desc")


# --- Rejected tokens -----------------------------------------------------------------------


def flip_character(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


async def test_tampered_tokens_are_rejected(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        token = await first_token(connection)
        await fetch_with(connection, token)
        signed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        resigned_payload = base64.urlsafe_b64encode(bytes(32) + signed[32:]).decode().rstrip("=")
        tampered = {
            "first character flipped": flip_character(token, 0),
            "middle character flipped": flip_character(token, len(token) // 2),
            "last character flipped": flip_character(token, len(token) - 1),
            "last four characters cut": token[:-4],
            "cut to ten characters": token[:10],
            "cut to one character": token[:1],
            "padding added": token + "==",
            "not base64": "not a token!",
            "base64 of random bytes": base64.urlsafe_b64encode(uuid.uuid4().bytes * 3).decode(),
            "zero tag": resigned_payload,
        }
        for label, bad_token in tampered.items():
            with pytest.raises(InvalidArgument) as caught:
                await fetch_with(connection, bad_token)
            assert caught.value.field == "page_token", label
            assert "restart paging" in caught.value.message, label


async def test_token_for_other_query_is_rejected(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        token = await first_token(connection, order_by="name", filter_text="grp = 1")
        for order_by, filter_text in [("name", "grp = 2"), ("name", ""), ("name desc", "grp = 1")]:
            with pytest.raises(InvalidArgument) as caught:
                await fetch_with(connection, token, order_by=order_by, filter_text=filter_text)
            message = caught.value.message
            assert "different query" in message, (order_by, filter_text)


async def test_token_signed_with_other_key_is_rejected(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        token = await first_token(connection)
        with pytest.raises(InvalidArgument) as caught:
            await fetch_with(connection, token, key=b"other key")
    assert caught.value.message.startswith("page_token '")
    assert "is not a valid page token from this service" in caught.value.message


def test_token_with_wrong_value_count_is_rejected() -> None:
    short = PageToken("fp", ("a",)).encode(KEY)
    with pytest.raises(InvalidArgument) as caught:
        PageToken.decode(short, KEY, fingerprint="fp", value_count=2)
    assert caught.value.field == "page_token"


async def test_order_is_part_of_fingerprint(engine: AsyncEngine) -> None:
    """A token is rejected under another order even when order_by is not a fingerprint part."""
    terms = parse_order_by("name", ALLOWED, tiebreaker=ITEMS.c.id)
    other_terms = parse_order_by("name desc", ALLOWED, tiebreaker=ITEMS.c.id)
    arguments: dict[str, Any] = {"key": KEY, "fingerprint_parts": [], "page_size": 3}
    async with engine.connect() as connection:
        first = await fetch_page(connection, sa.select(ITEMS), terms, page_token="", **arguments)
        with pytest.raises(InvalidArgument) as caught:
            await fetch_page(
                connection,
                sa.select(ITEMS),
                other_terms,
                page_token=first.next_page_token,
                **arguments,
            )
    assert "different query" in caught.value.message


# --- page_size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "used"),
    [(0, DEFAULT_PAGE_SIZE), (1, 1), (MAX_PAGE_SIZE, MAX_PAGE_SIZE), (10**9, MAX_PAGE_SIZE)],
)
def test_page_size_normalized(requested: int, used: int) -> None:
    assert normalize_page_size(requested) == used


def test_negative_page_size_rejected() -> None:
    with pytest.raises(InvalidArgument) as caught:
        normalize_page_size(-1)
    assert caught.value.field == "page_size"
    assert caught.value.message.startswith("page_size -1 is negative: send 0 for the default")


# --- order_by ------------------------------------------------------------------------------


def test_order_by_terms_and_tiebreaker() -> None:
    terms = parse_order_by(" grp DESC ,name ", ALLOWED, tiebreaker=ITEMS.c.id)
    assert [(term.field, term.descending) for term in terms] == [
        ("grp", True),
        ("name", False),
        ("id", False),
    ]
    assert terms[0].column is ITEMS.c.grp
    assert terms[2].column is ITEMS.c.id


def test_tiebreaker_follows_last_direction() -> None:
    terms = parse_order_by("name, score desc", ALLOWED, tiebreaker=ITEMS.c.id)
    assert terms[-1] == OrderTerm("id", ITEMS.c.id, descending=True)


def test_several_tiebreaker_columns() -> None:
    terms = parse_order_by("name desc", ALLOWED, tiebreaker=[ITEMS.c.grp, ITEMS.c.id])
    assert [(term.field, term.descending) for term in terms] == [
        ("name", True),
        ("grp", True),
        ("id", True),
    ]
    repeated = parse_order_by("grp", ALLOWED, tiebreaker=[ITEMS.c.grp, ITEMS.c.id])
    assert [(term.field, term.descending) for term in repeated] == [("grp", False), ("id", False)]


def test_tiebreaker_not_repeated() -> None:
    terms = parse_order_by("id desc", {"id": ITEMS.c.id}, tiebreaker=ITEMS.c.id)
    assert [(term.field, term.descending) for term in terms] == [("id", True)]


def test_blank_order_by_uses_default() -> None:
    terms = parse_order_by("  ", ALLOWED, tiebreaker=ITEMS.c.id, default="created desc")
    assert [(term.field, term.descending) for term in terms] == [("created", True), ("id", True)]


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("nme", 1, "unknown field 'nme'"),
        ("name, scroe desc", 7, "unknown field 'scroe'"),
        ("name up", 6, "expected asc or desc after 'name' but found 'up'"),
        ("name desc desc", 1, "expected a field name, optionally followed by asc or desc"),
        ("name,,grp", 6, "but found nothing"),
        ("name,", 6, "but found nothing"),
        ("-name", 1, "but found '-name'"),
        ("name, name desc", 7, "field 'name' appears twice"),
        ("Name", 1, "unknown field 'Name'"),
    ],
)
def test_order_by_errors(text: str, position: int, problem: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_order_by(text, ALLOWED, tiebreaker=ITEMS.c.id)
    message = caught.value.message
    assert caught.value.field == "order_by"
    assert message.startswith(f"order_by {text!r} is invalid: ")
    assert problem in message
    assert f"at position {position};" in message


def test_unknown_order_field_lists_allowed() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_order_by("size", ALLOWED, tiebreaker=ITEMS.c.id)
    assert "order by one of: name, score, grp, flag, created, updated" in caught.value.message


def test_order_by_length_limit() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_order_by("name" + " " * MAX_ORDER_BY_LENGTH, ALLOWED, tiebreaker=ITEMS.c.id)
    assert f"over the maximum of {MAX_ORDER_BY_LENGTH}" in caught.value.message


# --- Token encoding ------------------------------------------------------------------------


def test_token_values_round_trip_exactly() -> None:
    values = (
        0.1 + 0.2,
        -0.0,
        1e-300,
        2**70,
        True,
        '模型 "quoted" \\',
        dt.datetime(2024, 5, 1, 12, 30, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
        dt.datetime(2024, 5, 1, 12, 30, 0, 999_999),
        dt.date(2024, 2, 29),
        Decimal("12.3400"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
    )
    decoded = PageToken.decode(
        PageToken("fp", values).encode(KEY), KEY, fingerprint="fp", value_count=len(values)
    )
    assert decoded.last_values == values
    assert [type(value) for value in decoded.last_values] == [type(value) for value in values]
    assert decoded.last_values[6].utcoffset() == dt.timedelta(hours=-3)
    assert str(decoded.last_values[1]) == "-0.0"


def test_token_is_url_safe() -> None:
    token = PageToken("fp", ("?/+&=" * 20,)).encode(KEY)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_null_sort_key_cannot_be_stored() -> None:
    with pytest.raises(ValueError, match="must be NOT NULL"):
        PageToken("fp", ("a", None)).encode(KEY)


def test_empty_key_rejected() -> None:
    with pytest.raises(ValueError, match="key is empty"):
        PageToken("fp", ("a",)).encode(b"")


def test_fingerprint_separates_parts() -> None:
    assert query_fingerprint(["a,b", "c"]) != query_fingerprint(["a", "b,c"])
    assert query_fingerprint(["x"]) == query_fingerprint(["x"])


def test_keyset_predicate_needs_matching_values() -> None:
    terms = parse_order_by("name", ALLOWED, tiebreaker=ITEMS.c.id)
    with pytest.raises(ValueError, match="must match"):
        keyset_predicate(terms, ["a"])
