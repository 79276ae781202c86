"""Keyset pagination for the List methods: order_by parsing, signed page tokens and page fetching.

Paging follows AIP-158: page_size 0 selects DEFAULT_PAGE_SIZE, a page_size above MAX_PAGE_SIZE is
lowered to it, and a page token is valid only for the query that produced it. The caller lists
the request fields that define that query (filter, order_by, parent and similar flags, but not
page_size) as `fingerprint_parts`.

Each page continues after the sort key of the previous page's last row instead of at an offset,
so rows inserted or deleted between requests do not shift later pages. A unique tiebreaker
column is always the last sort key, which makes the order total.

Every column used for ordering must be NOT NULL. PostgreSQL sorts NULL last and SQLite sorts it
first, and NULL never satisfies `<` or `>`, so the keyset predicate would skip such rows.
fetch_page raises ValueError when the last row of a page has a NULL sort key.

A page token is URL-safe base64, without padding, of a 32-byte HMAC-SHA256 tag followed by
compact JSON: `{"v": 1, "q": <query fingerprint>, "k": [[<type>, <value>], ...]}`. Floats are
stored in hexadecimal and datetimes in ISO 8601 with microseconds and any offset, so sort keys
round-trip exactly.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from modelward_common.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Byte budget of a page of portfolio entries or model versions, under the 4 MiB gRPC clients accept
# by default. A page keeps one item even when it is larger, which stays under 4 MiB because a
# version is at most 960 KiB and a portfolio entry at most 1 MB (convert.fit_portfolio_entry).
MAX_PAGE_BYTES = 3_500_000
MAX_ORDER_BY_LENGTH = 1024
"""Maximum length of an order_by value, in characters."""

_TOKEN_VERSION = 1
_MAC_SIZE = hashlib.sha256().digest_size
# Prefixed to every signed payload, so a tag made with the same key for another purpose is
# never a valid page-token tag.
_MAC_CONTEXT = b"modelward page token v1\x00"
_RESTART = "restart paging by sending the request without page_token"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_ORDER_ITEM = re.compile(
    r"\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"(?:\s+(?P<direction>\S+))?\s*"
)

RowValues = Callable[[Row[Any]], Sequence[object]]
"""Returns the sort-key values of a row, in the order of the OrderTerms."""


# --- order_by ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderTerm:
    """One sort key. The column must be NOT NULL, as the module documentation explains."""

    field: str
    column: ColumnElement[Any]
    descending: bool = False

    def clause(self) -> ColumnElement[Any]:
        """Return the ORDER BY clause for this key."""
        return self.column.desc() if self.descending else self.column.asc()


def parse_order_by(
    text: str,
    allowed: Mapping[str, ColumnElement[Any]],
    *,
    tiebreaker: ColumnElement[Any] | Sequence[ColumnElement[Any]],
    default: str = "",
) -> list[OrderTerm]:
    """Parse `field [asc|desc], ...` and append the tiebreaker columns.

    A blank `text` uses `default`, which has the same syntax. The tiebreaker is one column or
    several that together identify a row. Each takes the direction of the last term, so an
    index on (field, tiebreaker) can serve the whole order, and a column already in the order
    is not appended again. Raises InvalidArgument naming `order_by` for syntax errors and
    unknown or repeated fields.
    """
    if len(text) > MAX_ORDER_BY_LENGTH:
        raise InvalidArgument(
            "order_by",
            text,
            "list fewer fields",
            problem=f"has {len(text)} characters, over the maximum of {MAX_ORDER_BY_LENGTH}",
        )
    source = text if text.strip() else default
    terms = _parse_order_items(source, allowed) if source.strip() else []
    descending = terms[-1].descending if terms else False
    columns = [tiebreaker] if isinstance(tiebreaker, ColumnElement) else list(tiebreaker)
    for column in columns:
        if not any(term.column is column for term in terms):
            name = getattr(column, "key", None) or "tiebreaker"
            terms.append(OrderTerm(str(name), column, descending))
    return terms


def _parse_order_items(text: str, allowed: Mapping[str, ColumnElement[Any]]) -> list[OrderTerm]:
    terms: list[OrderTerm] = []
    start = 0
    for item in text.split(","):
        term = _parse_order_item(text, item, start, allowed)
        if any(existing.field == term.field for existing in terms):
            raise _order_by_error(
                text,
                _item_position(item, start),
                f"field {term.field!r} appears twice",
                "list each field once",
            )
        terms.append(term)
        start += len(item) + 1
    return terms


def _parse_order_item(
    text: str, item: str, start: int, allowed: Mapping[str, ColumnElement[Any]]
) -> OrderTerm:
    """Parse one comma-separated item, which starts at the 0-based offset `start` of `text`."""
    position = _item_position(item, start)
    match = _ORDER_ITEM.fullmatch(item)
    if match is None:
        found = "nothing" if not item.strip() else repr(item.strip())
        raise _order_by_error(
            text,
            position,
            f"expected a field name, optionally followed by asc or desc, but found {found}",
            "separate fields with commas, for example 'create_time desc, name'",
        )
    field = match.group("field")
    direction = (match.group("direction") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise _order_by_error(
            text,
            start + 1 + match.start("direction"),
            f"expected asc or desc after {field!r} but found {match.group('direction')!r}",
            "write the direction as asc or desc",
        )
    if field not in allowed:
        raise _order_by_error(
            text, position, f"unknown field {field!r}", "order by one of: " + ", ".join(allowed)
        )
    return OrderTerm(field, allowed[field], direction == "desc")


def _item_position(item: str, start: int) -> int:
    """Return the 1-based position of the first non-blank character of an item."""
    return start + 1 + len(item) - len(item.lstrip())


def _order_by_error(text: str, position: int, problem: str, fix: str) -> InvalidArgument:
    return InvalidArgument("order_by", text, f"{problem} at position {position}; {fix}")


# --- page_size -----------------------------------------------------------------------------


def normalize_page_size(page_size: int) -> int:
    """Return the page size to use: 0 means DEFAULT_PAGE_SIZE, and MAX_PAGE_SIZE is the cap."""
    if page_size < 0:
        raise InvalidArgument(
            "page_size",
            page_size,
            f"send 0 for the default of {DEFAULT_PAGE_SIZE}, or a size up to {MAX_PAGE_SIZE}",
            problem="is negative",
        )
    if page_size == 0:
        return DEFAULT_PAGE_SIZE
    return min(page_size, MAX_PAGE_SIZE)


# --- Page tokens ---------------------------------------------------------------------------


def query_fingerprint(parts: Sequence[str]) -> str:
    """Return a digest of the request fields that define a query, such as filter and order_by."""
    encoded = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


@dataclass(frozen=True)
class PageToken:
    """The position after which the next page starts, bound to one query by its fingerprint."""

    fingerprint: str
    last_values: tuple[object, ...]

    def encode(self, key: bytes) -> str:
        """Serialize and sign the token with HMAC-SHA256 under `key`."""
        payload = json.dumps(
            {
                "v": _TOKEN_VERSION,
                "q": self.fingerprint,
                "k": [_encode_value(value) for value in self.last_values],
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        signed = _mac(key, payload) + payload
        return base64.urlsafe_b64encode(signed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, token: str, key: bytes, *, fingerprint: str, value_count: int) -> PageToken:
        """Verify and parse a token made by encode for the query with this fingerprint.

        Raises InvalidArgument naming `page_token` when the token was altered, truncated, signed
        with another key, or made for another query.
        """
        content = _verified_content(token, key)
        if content.get("v") != _TOKEN_VERSION or not isinstance(content.get("k"), list):
            raise _token_error(token, "is not a valid page token from this service")
        if content.get("q") != fingerprint or len(content["k"]) != value_count:
            raise _token_error(
                token, "was issued for a different query (filter, order_by, parent or similar)"
            )
        try:
            values = tuple(_decode_value(item) for item in content["k"])
        except (TypeError, ValueError, InvalidOperation):
            raise _token_error(token, "is not a valid page token from this service") from None
        return cls(fingerprint, values)


def _mac(key: bytes, payload: bytes) -> bytes:
    if not key:
        raise ValueError("the page token key is empty; pass a secret key such as 32 random bytes")
    return hmac.new(key, _MAC_CONTEXT + payload, hashlib.sha256).digest()


def _verified_content(token: str, key: bytes) -> dict[str, Any]:
    """Decode the base64, check the tag and parse the JSON, raising InvalidArgument on failure."""
    invalid = _token_error(token, "is not a valid page token from this service")
    if not _BASE64URL.fullmatch(token):
        raise invalid
    try:
        signed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    tag, payload = signed[:_MAC_SIZE], signed[_MAC_SIZE:]
    if len(tag) < _MAC_SIZE or not hmac.compare_digest(tag, _mac(key, payload)):
        raise invalid
    try:
        content = json.loads(payload)
    except ValueError:
        raise invalid from None
    if not isinstance(content, dict):
        raise invalid
    return content


def _token_error(token: str, problem: str) -> InvalidArgument:
    return InvalidArgument("page_token", token, _RESTART, problem=problem)


def _encode_value(value: object) -> list[object]:
    """Tag a sort-key value with its type so that decoding restores it exactly."""
    if value is None:
        raise ValueError(
            "a sort key of the last row is NULL; columns used for ordering must be NOT NULL"
        )
    # bool before int, and datetime before date, because each is a subclass of the other.
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", int(value)]
    if isinstance(value, float):
        return ["f", value.hex()]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, dt.datetime):
        return ["t", value.isoformat(timespec="microseconds")]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    raise TypeError(f"cannot store a sort key of type {type(value).__name__} in a page token")


def _decode_value(item: object) -> object:
    if not isinstance(item, list) or len(item) != 2:
        raise ValueError(f"not a tagged value: {item!r}")
    tag, raw = item
    if tag == "b" and isinstance(raw, bool):
        return raw
    if tag == "i" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if not isinstance(raw, str):
        raise TypeError(f"unexpected value for tag {tag!r}: {raw!r}")
    parsers: dict[str, Callable[[str], object]] = {
        "f": float.fromhex,
        "s": str,
        "t": dt.datetime.fromisoformat,
        "d": dt.date.fromisoformat,
        "n": Decimal,
        "u": uuid.UUID,
    }
    if tag not in parsers:
        raise ValueError(f"unknown tag {tag!r}")
    return parsers[tag](raw)


# --- Queries -------------------------------------------------------------------------------


def keyset_predicate(
    order_terms: Sequence[OrderTerm], last_values: Sequence[object]
) -> ColumnElement[bool]:
    """Build the condition for rows that sort after `last_values` in the given order.

    Mixed directions rule out a row-value comparison, so this is the expanded form
    `k1 > v1 OR (k1 = v1 AND k2 < v2) OR ...`, with `<` for descending keys.
    """
    if len(order_terms) != len(last_values) or not order_terms:
        raise ValueError(
            f"got {len(last_values)} values for {len(order_terms)} order terms; "
            "the counts must match and be at least one"
        )
    alternatives = []
    for index, term in enumerate(order_terms):
        ties = [
            earlier.column == value
            for earlier, value in zip(order_terms[:index], last_values[:index])
        ]
        beyond = _beyond(term, last_values[index])
        alternatives.append(sa.and_(*ties, beyond))
    return sa.or_(*alternatives)


def _beyond(term: OrderTerm, value: object) -> ColumnElement[bool]:
    """Build the condition for values that sort strictly after `value` in the term's direction."""
    if isinstance(value, bool):
        # SQLAlchemy rejects < and > with True and False. Both backends sort false before true,
        # so only the other value can follow, and nothing follows the last one.
        return term.column == (not value) if value == term.descending else sa.false()
    return term.column < value if term.descending else term.column > value


@dataclass(frozen=True)
class Page:
    rows: tuple[Row[Any], ...]
    next_page_token: str
    """Empty on the last page."""
    # The next page token of the page cut after row `index`.
    token_after: Callable[[int], str] = dataclass_field(repr=False, compare=False)

    def first(self, count: int) -> Page:
        """Return the page cut to its first `count` rows (at least one), its token continuing after them."""
        count = max(count, 1)
        if count >= len(self.rows):
            return self
        return Page(self.rows[:count], self.token_after(count - 1), self.token_after)


def items_within(sizes: Iterable[int], budget: int = MAX_PAGE_BYTES) -> int:
    """Return how many of the leading items fit in `budget` bytes together: at least one, unless there are none."""
    total = count = 0
    for size in sizes:
        total += size
        if total > budget:
            return max(count, 1)
        count += 1
    return count


async def fetch_page(
    executor: AsyncConnection | AsyncSession,
    statement: sa.Select[Any],
    order_terms: Sequence[OrderTerm],
    *,
    page_size: int,
    page_token: str,
    key: bytes,
    fingerprint_parts: Sequence[str],
    row_values: RowValues | None = None,
) -> Page:
    """Run `statement` for one page, replacing its ORDER BY and LIMIT.

    The statement carries the caller's filter. One row more than the page size is fetched to
    learn whether another page follows, so the last page has an empty next_page_token.
    `row_values` extracts the sort keys from a row. By default each order column is looked up
    in the row, so the statement must select those columns. Raises InvalidArgument for a
    negative page_size or an invalid page_token.
    """
    size = normalize_page_size(page_size)
    # The parsed order joins the fingerprint too, so a caller that leaves order_by out of
    # fingerprint_parts still cannot apply one order's token to another order.
    order = ",".join(f"{term.field} {'desc' if term.descending else 'asc'}" for term in order_terms)
    fingerprint = query_fingerprint([*fingerprint_parts, order])
    query = statement.order_by(None).order_by(*(term.clause() for term in order_terms))
    if page_token:
        token = PageToken.decode(
            page_token, key, fingerprint=fingerprint, value_count=len(order_terms)
        )
        query = query.where(keyset_predicate(order_terms, token.last_values))
    rows = tuple((await executor.execute(query.limit(size + 1))).all())
    extract = row_values or _column_lookup(order_terms)

    def token_after(index: int) -> str:
        return PageToken(fingerprint, tuple(extract(rows[index]))).encode(key)

    if len(rows) <= size:
        return Page(rows, "", token_after)
    return Page(rows[:size], token_after(size - 1), token_after)


def _column_lookup(order_terms: Sequence[OrderTerm]) -> RowValues:
    def lookup(row: Row[Any]) -> Sequence[object]:
        try:
            return [row._mapping[term.column] for term in order_terms]
        except KeyError as error:
            raise ValueError(
                "an order column is missing from the selected columns; select it or pass "
                "row_values to fetch_page"
            ) from error

    return lookup


async def count_rows(executor: AsyncConnection | AsyncSession, statement: sa.Select[Any]) -> int:
    """Return how many rows `statement` selects over all pages, for a response's total_size."""
    counted = sa.select(sa.func.count()).select_from(
        statement.order_by(None).limit(None).offset(None).subquery()
    )
    return int((await executor.execute(counted)).scalar_one())
