"""The filter language of the List methods: a parser, and a compiler to SQLAlchemy predicates.

Grammar, in the spirit of AIP-160 with SQL words. Keywords are case-insensitive, and NOT binds
tighter than AND, which binds tighter than OR:

    filter   = [or_expr]
    or_expr  = and_expr {"OR" and_expr}
    and_expr = unary {"AND" unary}
    unary    = "NOT" unary | "(" or_expr ")" | term
    term     = path ("=" | "!=" | "<" | "<=" | ">" | ">=") value
             | path ["NOT"] "LIKE" string
             | path ["NOT"] "IN" "(" value {"," value} ")"
             | path "IS" ["NOT"] "NULL"
    path     = name {"." (name | string)}
    value    = string | number | "true" | "false" | name

- Strings use double or single quotes. Inside them a backslash escapes either quote and the
  backslash itself. In a LIKE pattern it also escapes `%` and `_`, so `\\%` is a literal percent
  sign. Any other backslash sequence is a syntax error.
- A map key that is not a plain name is written as a quoted string after the dot, as in
  `tags."team-x"` or `tags.'a.b:c'`, because tag keys may contain `-`, `.` and `:`.
- Numbers are decimal integers (64-bit) or floats with a digit before any point, such as `0.5`
  or `-1.5e-3`. NaN and infinity are rejected.
- A bare name as a value is an enum name, as in `risk_tier = HIGH`. Timestamps are RFC 3339
  strings such as `"2024-05-01T00:00:00Z"`, because the field's type decides how a string is
  read.
- LIKE treats only `%` (any run of characters) and `_` (one character) as wildcards and is
  case-sensitive on every backend.
- Fields of principals, such as `owner` and `created_by`, compare in the form that
  `canonical_principal` stores: `owner = "user:Ana@Example.com"` matches `user:ana@example.com`.
  A LIKE pattern on them is composed (NFC) run by run, and when it starts with the literal text
  `user:` its letters are also lowercased. Other patterns keep their case, so
  `owner LIKE "%@Example.com"` matches no user, whose names are stored in lowercase.

Every term is two-valued: a comparison on a NULL column or a missing map key is false, so
`owner != "x"` leaves out rows without an owner while `NOT owner = "x"` includes them.

Portability between PostgreSQL and SQLite:
- String columns must compare bytes: create them with `modelward_common.db.text_column()`,
  which adds `COLLATE "C"` on PostgreSQL. SQLite's default BINARY collation compares bytes.
- SQLite's LIKE ignores ASCII case unless each connection sets `PRAGMA case_sensitive_like`, so
  `case_sensitive_like()` renders GLOB on SQLite, which is always case-sensitive, and
  `LIKE ... ESCAPE '\\'` elsewhere. No pragma is needed.
- Timestamp columns must store UTC, as `modelward_common.timeutil.UtcDateTime` does. SQLite
  keeps them as text without an offset, so literals are converted to UTC before they are bound.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from modelward_common.errors import InvalidArgument
from modelward_common.principals import canonical_principal

MAX_FILTER_LENGTH = 4096
"""Maximum length of a filter, in characters."""

MAX_NESTING_DEPTH = 32
"""Maximum number of parentheses and NOTs enclosing any term."""

MAX_TERMS = 100
"""Maximum number of terms. Each term may become a subquery, so this bounds the SQL size."""

MAX_IN_VALUES = 100
"""Maximum number of values in one IN list."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_RESERVED_WORDS = frozenset({"AND", "OR", "NOT", "LIKE", "IN", "IS", "NULL"})
_QUOTES = "\"'"
_STRING_ESCAPES = "\"'\\"
_LIKE_ESCAPES = "\"'\\%_"


# --- Syntax tree ---------------------------------------------------------------------------


class Operator(Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    LESS = "<"
    LESS_OR_EQUAL = "<="
    GREATER = ">"
    GREATER_OR_EQUAL = ">="


class ValueKind(Enum):
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"
    NAME = "name"
    """A bare name, such as the enum name in `risk_tier = HIGH`."""


class Wildcard(Enum):
    ANY_SEQUENCE = "%"
    ANY_CHARACTER = "_"


@dataclass(frozen=True)
class LikePattern:
    """A LIKE pattern as literal text runs and wildcards, independent of any SQL dialect."""

    parts: tuple[str | Wildcard, ...]

    @classmethod
    def parse(cls, pattern: str) -> LikePattern:
        """Parse SQL LIKE syntax where `\\%`, `\\_` and `\\\\` escape; raise ValueError otherwise."""
        parts, bad_index = _split_like(pattern, escapable="\\%_")
        if bad_index is not None:
            raise ValueError(f"invalid escape at index {bad_index} of LIKE pattern {pattern!r}")
        return cls(parts)

    def sql_pattern(self) -> str:
        """Return the pattern for `LIKE ... ESCAPE '\\'`."""
        pieces = []
        for part in self.parts:
            if isinstance(part, Wildcard):
                pieces.append(part.value)
            else:
                pieces.append(re.sub(r"([\\%_])", r"\\\1", part))
        return "".join(pieces)

    def glob_pattern(self) -> str:
        """Return the pattern for SQLite's GLOB, which quotes its metacharacters in brackets."""
        pieces = []
        for part in self.parts:
            if part is Wildcard.ANY_SEQUENCE:
                pieces.append("*")
            elif part is Wildcard.ANY_CHARACTER:
                pieces.append("?")
            else:
                assert isinstance(part, str)
                pieces.append(re.sub(r"([*?\[])", r"[\1]", part))
        return "".join(pieces)


@dataclass(frozen=True)
class FieldPath:
    """A dotted field name. For a map field, the last segment is the key."""

    segments: tuple[str, ...]
    position: int = dataclasses.field(default=0, compare=False)

    def __str__(self) -> str:
        return ".".join(s if _NAME.fullmatch(s) else _quote(s) for s in self.segments)


@dataclass(frozen=True)
class Value:
    """A literal. `text` is its source text, used in error messages."""

    kind: ValueKind
    value: str | int | float | bool
    text: str = dataclasses.field(default="", compare=False)
    position: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True)
class Comparison:
    field: FieldPath
    operator: Operator
    value: Value


@dataclass(frozen=True)
class Like:
    field: FieldPath
    pattern: LikePattern
    negated: bool = False


@dataclass(frozen=True)
class InList:
    field: FieldPath
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    field: FieldPath
    negated: bool = False


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node: TypeAlias = Comparison | Like | InList | IsNull | Not | And | Or
Term: TypeAlias = Comparison | Like | InList | IsNull


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _split_like(body: str, escapable: str) -> tuple[tuple[str | Wildcard, ...], int | None]:
    """Split a LIKE pattern into parts, and return the index of the first invalid escape or None."""
    parts: list[str | Wildcard] = []
    literal: list[str] = []
    index = 0
    while index < len(body):
        character = body[index]
        if character == "\\":
            if index + 1 >= len(body) or body[index + 1] not in escapable:
                return (), index
            literal.append(body[index + 1])
            index += 2
            continue
        if character in "%_":
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Wildcard(character))
        else:
            literal.append(character)
        index += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts), None


# --- Tokenizer -----------------------------------------------------------------------------


class _Kind(Enum):
    NAME = "name"
    STRING = "string"
    NUMBER = "number"
    OPERATOR = "operator"
    LEFT_PAREN = "'('"
    RIGHT_PAREN = "')'"
    COMMA = "','"
    DOT = "'.'"
    END = "end of filter"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    position: int
    """1-based position of the first character in the filter."""

    def is_word(self, word: str) -> bool:
        return self.kind is _Kind.NAME and self.text.upper() == word

    def describe(self) -> str:
        return "the end of the filter" if self.kind is _Kind.END else repr(self.text)


_PUNCTUATION = {"(": _Kind.LEFT_PAREN, ")": _Kind.RIGHT_PAREN, ",": _Kind.COMMA, ".": _Kind.DOT}
_OPERATOR_TEXTS = ("!=", "<=", ">=", "=", "<", ">")


def _syntax_error(text: str, position: int, problem: str, fix: str) -> InvalidArgument:
    return InvalidArgument("filter", text, f"{problem} at position {position}; {fix}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        token = _read_token(text, index)
        tokens.append(token)
        index += len(token.text)
    tokens.append(_Token(_Kind.END, "", len(text) + 1))
    return tokens


def _read_token(text: str, index: int) -> _Token:
    character = text[index]
    position = index + 1
    if character in _QUOTES:
        return _read_string(text, index)
    if character in _PUNCTUATION:
        return _Token(_PUNCTUATION[character], character, position)
    for matcher, kind in ((_NUMBER, _Kind.NUMBER), (_NAME, _Kind.NAME)):
        match = matcher.match(text, index)
        if match:
            return _Token(kind, match.group(), position)
    for operator_text in _OPERATOR_TEXTS:
        if text.startswith(operator_text, index):
            if text.startswith("==", index):
                raise _syntax_error(text, position, "unexpected '=='", "write = for equality")
            return _Token(_Kind.OPERATOR, operator_text, position)
    raise _syntax_error(
        text,
        position,
        f"unexpected character {character!r}",
        'quote values and map keys that contain it, for example tags."team-x" = "a&b"',
    )


def _read_string(text: str, index: int) -> _Token:
    quote = text[index]
    cursor = index + 1
    while cursor < len(text):
        if text[cursor] == "\\":
            cursor += 2
        elif text[cursor] == quote:
            return _Token(_Kind.STRING, text[index : cursor + 1], index + 1)
        else:
            cursor += 1
    raise _syntax_error(text, index + 1, "unterminated string", f"close the string with {quote}")


# --- Parser --------------------------------------------------------------------------------


def parse_filter(text: str) -> Node | None:
    """Parse a filter into a syntax tree, or return None for an empty or blank filter.

    Raises InvalidArgument naming `filter`, with the 1-based position of a syntax error, or
    naming the limit that the filter exceeds.
    """
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument(
            "filter",
            text,
            "shorten it, for example by combining alternatives of one field with IN (...)",
            problem=f"has {len(text)} characters, over the maximum of {MAX_FILTER_LENGTH}",
        )
    if not text.strip():
        return None
    return _Parser(text, _tokenize(text)).parse()


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self._text = text
        self._tokens = tokens
        self._index = 0
        self._depth = 0
        self._terms = 0

    def parse(self) -> Node:
        node = self._or()
        token = self._peek()
        if token.kind is _Kind.RIGHT_PAREN:
            raise self._error(token, "unmatched ')'", "remove it or add the matching '('")
        if token.kind is not _Kind.END:
            raise self._error(
                token, f"expected AND or OR before {token.describe()}", "join terms with AND or OR"
            )
        return node

    # Helpers over the token list.

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _next(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind is not _Kind.END:
            self._index += 1
        return token

    def _accept_word(self, word: str) -> bool:
        if self._peek().is_word(word):
            self._index += 1
            return True
        return False

    def _error(self, token: _Token, problem: str, fix: str) -> InvalidArgument:
        return _syntax_error(self._text, token.position, problem, fix)

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING_DEPTH:
            raise self._error(
                token,
                f"nesting exceeds the maximum depth of {MAX_NESTING_DEPTH}",
                "remove redundant parentheses or NOTs",
            )

    # Boolean structure.

    def _or(self) -> Node:
        operands = [self._and()]
        while self._accept_word("OR"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Node:
        operands = [self._unary()]
        while self._accept_word("AND"):
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _unary(self) -> Node:
        token = self._peek()
        if token.is_word("NOT"):
            self._next()
            self._enter(token)
            node: Node = Not(self._unary())
            self._depth -= 1
            return node
        if token.kind is _Kind.LEFT_PAREN:
            self._next()
            self._enter(token)
            node = self._or()
            closing = self._next()
            if closing.kind is not _Kind.RIGHT_PAREN:
                raise self._error(
                    closing,
                    f"expected ')' but found {closing.describe()}",
                    f"close the '(' at position {token.position}, or join terms with AND or OR",
                )
            self._depth -= 1
            return node
        return self._term()

    # Terms.

    def _term(self) -> Term:
        field = self._path()
        self._terms += 1
        if self._terms > MAX_TERMS:
            raise _syntax_error(
                self._text,
                field.position,
                f"the filter exceeds the maximum of {MAX_TERMS} terms",
                "combine alternatives of one field with IN (...) or narrow the filter",
            )
        token = self._next()
        if token.kind is _Kind.OPERATOR:
            return Comparison(field, Operator(token.text), self._value(after=token))
        if token.is_word("LIKE"):
            return self._like(field, negated=False)
        if token.is_word("IN"):
            return self._in(field, negated=False)
        if token.is_word("IS"):
            return self._is_null(field)
        if token.is_word("NOT"):
            following = self._next()
            if following.is_word("LIKE"):
                return self._like(field, negated=True)
            if following.is_word("IN"):
                return self._in(field, negated=True)
            raise self._error(
                following, "expected LIKE or IN after NOT", "write NOT LIKE or NOT IN"
            )
        raise self._error(
            token,
            f"expected an operator after {str(field)!r} but found {token.describe()}",
            "use =, !=, <, <=, >, >=, LIKE, NOT LIKE, IN, NOT IN, IS NULL or IS NOT NULL",
        )

    def _path(self) -> FieldPath:
        token = self._next()
        if token.kind is not _Kind.NAME or token.text.upper() in _RESERVED_WORDS:
            raise self._error(
                token,
                f"expected a field name but found {token.describe()}",
                'start each term with a field, for example owner = "team:fraud"',
            )
        segments = [token.text]
        while self._peek().kind is _Kind.DOT:
            dot = self._next()
            segments.append(self._path_segment(dot))
        return FieldPath(tuple(segments), token.position)

    def _path_segment(self, dot: _Token) -> str:
        token = self._next()
        if token.kind is _Kind.NAME:
            return token.text
        if token.kind is _Kind.STRING:
            return self._decode_string(token)
        raise self._error(
            token,
            f"expected a field name or a quoted map key after '.' at position {dot.position}",
            'quote keys that are not plain names, for example tags."team-x"',
        )

    def _value(self, after: _Token) -> Value:
        token = self._next()
        if token.kind is _Kind.STRING:
            return Value(ValueKind.STRING, self._decode_string(token), token.text, token.position)
        if token.kind is _Kind.NUMBER:
            return self._number(token)
        if token.is_word("TRUE") or token.is_word("FALSE"):
            return Value(ValueKind.BOOL, token.is_word("TRUE"), token.text, token.position)
        if token.is_word("NULL"):
            raise self._error(
                token, "NULL is not a value", "test for it with IS NULL or IS NOT NULL"
            )
        if token.kind is _Kind.NAME and token.text.upper() not in _RESERVED_WORDS:
            return Value(ValueKind.NAME, token.text, token.text, token.position)
        raise self._error(
            token,
            f"expected a value after {after.text!r}",
            'write a quoted string, a number, true or false, for example owner = "team:fraud"',
        )

    def _number(self, token: _Token) -> Value:
        if "." in token.text or "e" in token.text.lower():
            number = float(token.text)
            if not math.isfinite(number):
                raise self._error(token, "number out of range", "write a finite number")
            return Value(ValueKind.FLOAT, number, token.text, token.position)
        integer = int(token.text)
        if not _INT64_MIN <= integer <= _INT64_MAX:
            raise self._error(
                token, "integer out of range", "write an integer that fits in 64 bits"
            )
        return Value(ValueKind.INTEGER, integer, token.text, token.position)

    def _like(self, field: FieldPath, negated: bool) -> Like:
        token = self._next()
        if token.kind is not _Kind.STRING:
            raise self._error(
                token,
                f"expected a quoted pattern after LIKE but found {token.describe()}",
                'write the pattern as a string, for example name LIKE "fraud%"',
            )
        parts, bad_index = _split_like(token.text[1:-1], escapable=_LIKE_ESCAPES)
        if bad_index is not None:
            raise _syntax_error(
                self._text,
                token.position + 1 + bad_index,
                "invalid escape in LIKE pattern",
                "a backslash may only precede %, _, \\ or a quote",
            )
        return Like(field, LikePattern(parts), negated)

    def _in(self, field: FieldPath, negated: bool) -> InList:
        opening = self._next()
        if opening.kind is not _Kind.LEFT_PAREN:
            raise self._error(
                opening, "expected '(' after IN", 'list the values in parentheses: IN ("a", "b")'
            )
        values = [self._value(after=opening)]
        while self._peek().kind is _Kind.COMMA:
            comma = self._next()
            values.append(self._value(after=comma))
            if len(values) > MAX_IN_VALUES:
                raise self._error(
                    comma,
                    f"the IN list exceeds the maximum of {MAX_IN_VALUES} values",
                    "split the filter into several requests",
                )
        closing = self._next()
        if closing.kind is not _Kind.RIGHT_PAREN:
            raise self._error(
                closing,
                f"expected ',' or ')' in the IN list but found {closing.describe()}",
                'separate values with commas and close the list: IN ("a", "b")',
            )
        return InList(field, tuple(values), negated)

    def _is_null(self, field: FieldPath) -> IsNull:
        negated = self._accept_word("NOT")
        token = self._next()
        if not token.is_word("NULL"):
            raise self._error(token, "expected NULL after IS", "write IS NULL or IS NOT NULL")
        return IsNull(field, negated)

    def _decode_string(self, token: _Token) -> str:
        body = token.text[1:-1]
        characters: list[str] = []
        index = 0
        while index < len(body):
            if body[index] != "\\":
                characters.append(body[index])
                index += 1
                continue
            if body[index + 1] not in _STRING_ESCAPES:
                raise _syntax_error(
                    self._text,
                    token.position + 1 + index,
                    f"invalid escape '\\{body[index + 1]}' in string",
                    "a backslash may only precede a quote or another backslash, "
                    "and also % or _ in LIKE patterns",
                )
            characters.append(body[index + 1])
            index += 2
        return "".join(characters)


# --- Schema --------------------------------------------------------------------------------


class FieldType(Enum):
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    ENUM = "enum"


ValueCondition: TypeAlias = Callable[[ColumnElement[Any]], ColumnElement[bool]]
"""Builds a condition on a given value column, such as `column > 0.8`."""

MapPredicate: TypeAlias = Callable[[str, ValueCondition], ColumnElement[bool]]
"""Builds the predicate for one map key, given the condition on that key's value column."""


@dataclass(frozen=True)
class FilterField:
    """A filterable column and how literals compared with it are read."""

    column: ColumnElement[Any]
    type: FieldType
    enum_values: Mapping[str, object] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    """For ENUM fields: each name accepted in filters, mapped to the stored value."""
    principal: bool = False
    """True for STRING fields of principals, whose literals are put in canonical form."""

    @classmethod
    def of_principal(cls, column: ColumnElement[Any]) -> FilterField:
        """Build a STRING field of principals, such as an owner, stored by canonical_principal."""
        return cls(column, FieldType.STRING, principal=True)

    @classmethod
    def enum(
        cls, column: ColumnElement[Any], values: Mapping[str, object], *, alias_prefix: str = ""
    ) -> FilterField:
        """Build an ENUM field that also accepts names without their `alias_prefix`.

        For example, with alias_prefix "RISK_TIER_" both RISK_TIER_HIGH and HIGH are accepted.
        """
        names = dict(values)
        if alias_prefix:
            for name, stored in values.items():
                if name.startswith(alias_prefix) and len(name) > len(alias_prefix):
                    names.setdefault(name[len(alias_prefix) :], stored)
        return cls(column, FieldType.ENUM, MappingProxyType(names))


@dataclass(frozen=True)
class MapField:
    """A map field such as `tags`, filtered as `tags.<key>` and usually kept in a key/value table."""

    value_type: FieldType
    predicate: MapPredicate
    key_label: str = "key"
    """Word shown for the key in error messages, as in `metrics.<name>`."""


@dataclass(frozen=True)
class FilterSchema:
    """The fields that one List method accepts in its filter."""

    fields: Mapping[str, FilterField]
    maps: Mapping[str, MapField] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def allowed_names(self) -> list[str]:
        names = sorted(self.fields)
        names += sorted(f"{prefix}.<{field.key_label}>" for prefix, field in self.maps.items())
        return names


def key_value_predicate(
    *,
    link: ColumnElement[bool],
    key_column: ColumnElement[str],
    value_column: ColumnElement[Any],
) -> MapPredicate:
    """Build a MapPredicate as an EXISTS subquery over a key/value table.

    `link` joins the key/value table to the outer row, for example
    `tags.c.model_id == models.c.id`. SQLAlchemy correlates the outer table automatically.
    """

    def predicate(key: str, condition: ValueCondition) -> ColumnElement[bool]:
        return sa.exists().where(link, key_column == key, condition(value_column))

    return predicate


# --- Portable, case-sensitive LIKE -------------------------------------------------------


class _CaseSensitiveLike(FunctionElement[bool]):
    """`column LIKE pattern ESCAPE '\\'`, rendered as GLOB on SQLite; see case_sensitive_like."""

    type = sa.Boolean()
    inherit_cache = True
    name = "case_sensitive_like"


def case_sensitive_like(
    column: ColumnElement[Any], pattern: LikePattern | str
) -> ColumnElement[bool]:
    """Build a case-sensitive LIKE that matches the same rows on PostgreSQL and SQLite.

    A str pattern uses SQL LIKE syntax: `%` and `_` are wildcards, and `\\%`, `\\_` and `\\\\`
    escape them. SQLite gets GLOB because its LIKE ignores ASCII case unless every connection
    sets a pragma. GLOB's `*` and `?` match the same as `%` and `_`, character by character.
    """
    like = pattern if isinstance(pattern, LikePattern) else LikePattern.parse(pattern)
    return _CaseSensitiveLike(
        column,
        sa.literal(like.sql_pattern(), sa.String()),
        sa.literal(like.glob_pattern(), sa.String()),
    )


@compiles(_CaseSensitiveLike)
def _render_like(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, sql_pattern, _ = element.clauses
    return (
        f"({compiler.process(column, **kw)} LIKE {compiler.process(sql_pattern, **kw)} ESCAPE '\\')"
    )


@compiles(_CaseSensitiveLike, "sqlite")
def _render_glob(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, _, glob_pattern = element.clauses
    return f"({compiler.process(column, **kw)} GLOB {compiler.process(glob_pattern, **kw)})"


# --- Compiler ------------------------------------------------------------------------------


_COMPARE: dict[Operator, Callable[[Any, Any], ColumnElement[bool]]] = {
    Operator.EQUAL: operator.eq,
    Operator.NOT_EQUAL: operator.ne,
    Operator.LESS: operator.lt,
    Operator.LESS_OR_EQUAL: operator.le,
    Operator.GREATER: operator.gt,
    Operator.GREATER_OR_EQUAL: operator.ge,
}
_EQUALITY = frozenset({Operator.EQUAL, Operator.NOT_EQUAL})
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_EXAMPLE_VALUES = {
    FieldType.STRING: 'a quoted string such as "team:fraud"',
    FieldType.INTEGER: "an integer such as 3",
    FieldType.FLOAT: "a number such as 0.8",
    FieldType.BOOL: "true or false",
    FieldType.TIMESTAMP: 'an RFC 3339 string such as "2024-05-01T00:00:00Z"',
}


def filter_clause(text: str, schema: FilterSchema) -> ColumnElement[bool] | None:
    """Parse and compile a filter; return None when the filter is empty."""
    node = parse_filter(text)
    return None if node is None else compile_filter(node, schema, text=text)


def compile_filter(
    node: Node, schema: FilterSchema, *, text: str | None = None
) -> ColumnElement[bool]:
    """Compile a syntax tree into a WHERE clause over the schema's columns.

    `text` is the filter source, shown in error messages. Without it, messages show the field.
    Raises InvalidArgument naming `filter` for unknown fields, values of the wrong type and
    operators that the field's type does not support.
    """
    return _Compiler(schema, text).compile(node)


@dataclass(frozen=True)
class _Target:
    """A resolved field: its type, and how to apply a value condition to it."""

    name: str
    type: FieldType
    enum_values: Mapping[str, object]
    apply: Callable[[ValueCondition], ColumnElement[bool]]
    principal: bool = False


class _Compiler:
    def __init__(self, schema: FilterSchema, text: str | None) -> None:
        self._schema = schema
        self._text = text

    def compile(self, node: Node) -> ColumnElement[bool]:
        match node:
            case Not(operand):
                return sa.not_(self.compile(operand))
            case And(operands):
                return sa.and_(*(self.compile(operand) for operand in operands))
            case Or(operands):
                return sa.or_(*(self.compile(operand) for operand in operands))
            case Comparison():
                return self._comparison(node)
            case Like():
                return self._like(node)
            case InList():
                return self._in(node)
            case IsNull():
                return self._is_null(node)
        raise TypeError(f"not a filter node: {node!r}")

    def _error(self, path: FieldPath, position: int, problem: str, fix: str) -> InvalidArgument:
        filter_text = self._text if self._text is not None else str(path)
        return InvalidArgument("filter", filter_text, f"{problem} at position {position}; {fix}")

    # Terms.

    def _comparison(self, node: Comparison) -> ColumnElement[bool]:
        target = self._resolve(node.field)
        if target.type is FieldType.BOOL and node.operator not in _EQUALITY:
            raise self._error(
                node.field,
                node.value.position,
                f"{target.name} has type bool and supports only = and !=",
                f"write {target.name} = true or {target.name} = false",
            )
        value = self._convert(target, node.value, node.field)
        compare = _COMPARE[node.operator]
        return target.apply(
            lambda column: _two_valued(column, compare(column, _bind(column, value)))
        )

    def _like(self, node: Like) -> ColumnElement[bool]:
        target = self._resolve(node.field)
        if target.type is not FieldType.STRING:
            raise self._error(
                node.field,
                node.field.position,
                f"LIKE works on strings only, and {target.name} has type {target.type.value}",
                "compare it with =, !=, <, <=, > or >=",
            )

        pattern = _canonical_principal_pattern(node.pattern) if target.principal else node.pattern

        def condition(column: ColumnElement[Any]) -> ColumnElement[bool]:
            matched = case_sensitive_like(column, pattern)
            return _two_valued(column, sa.not_(matched) if node.negated else matched)

        return target.apply(condition)

    def _in(self, node: InList) -> ColumnElement[bool]:
        target = self._resolve(node.field)
        values = [self._convert(target, value, node.field) for value in node.values]

        def condition(column: ColumnElement[Any]) -> ColumnElement[bool]:
            bound = [_bind(column, value) for value in values]
            member = column.not_in(bound) if node.negated else column.in_(bound)
            return _two_valued(column, member)

        return target.apply(condition)

    def _is_null(self, node: IsNull) -> ColumnElement[bool]:
        target = self._resolve(node.field)
        present = target.apply(lambda column: column.is_not(None))
        return present if node.negated else sa.not_(present)

    # Fields.

    def _resolve(self, path: FieldPath) -> _Target:
        name = ".".join(path.segments)
        field = self._schema.fields.get(name)
        if field is not None and all(_NAME.fullmatch(s) for s in path.segments):
            column = field.column
            return _Target(
                name, field.type, field.enum_values, lambda condition: condition(column), field.principal
            )
        for prefix, map_field in self._schema.maps.items():
            prefix_segments = tuple(prefix.split("."))
            if path.segments[: len(prefix_segments)] == prefix_segments:
                return self._map_target(path, prefix, map_field)
        raise self._error(
            path,
            path.position,
            f"unknown field {str(path)!r}",
            "use one of: " + ", ".join(self._schema.allowed_names()),
        )

    def _map_target(self, path: FieldPath, prefix: str, map_field: MapField) -> _Target:
        key_segments = path.segments[len(prefix.split(".")) :]
        label = map_field.key_label
        if len(key_segments) != 1:
            example = f'{prefix}."a.b"' if key_segments else f"{prefix}.<{label}>"
            raise self._error(
                path,
                path.position,
                f"expected {prefix}.<{label}> with a single {label} but found {str(path)!r}",
                f"write {example}, quoting {label}s that are not plain names",
            )
        key = key_segments[0]
        return _Target(
            str(path),
            map_field.value_type,
            MappingProxyType({}),
            lambda condition: map_field.predicate(key, condition),
        )

    # Values.

    def _convert(self, target: _Target, value: Value, path: FieldPath) -> object:
        if target.type is FieldType.ENUM:
            return self._enum_value(target, value, path)
        if target.type is FieldType.TIMESTAMP and value.kind is ValueKind.STRING:
            return self._timestamp(value, path)
        if target.type is FieldType.FLOAT and value.kind in (ValueKind.INTEGER, ValueKind.FLOAT):
            return float(value.value)
        expected = {
            FieldType.STRING: ValueKind.STRING,
            FieldType.INTEGER: ValueKind.INTEGER,
            FieldType.BOOL: ValueKind.BOOL,
        }.get(target.type)
        if value.kind is expected:
            if target.principal:
                assert isinstance(value.value, str)
                return canonical_principal(value.value)
            return value.value
        raise self._type_error(target, value, path)

    def _type_error(self, target: _Target, value: Value, path: FieldPath) -> InvalidArgument:
        if target.type is FieldType.FLOAT and value.text.lower().lstrip("-+") in {
            "nan",
            "inf",
            "infinity",
        }:
            problem = f"{value.text} is not allowed because NaN and infinity are rejected"
        else:
            problem = (
                f"{target.name} has type {target.type.value}, so {value.text} is not a valid value"
            )
        return self._error(
            path, value.position, problem, f"compare it with {_EXAMPLE_VALUES[target.type]}"
        )

    def _enum_value(self, target: _Target, value: Value, path: FieldPath) -> object:
        if value.kind in (ValueKind.NAME, ValueKind.STRING):
            assert isinstance(value.value, str)
            if value.value in target.enum_values:
                return target.enum_values[value.value]
        raise self._error(
            path,
            value.position,
            f"{value.text} is not a value of {target.name}",
            "use one of: " + ", ".join(sorted(target.enum_values)),
        )

    def _timestamp(self, value: Value, path: FieldPath) -> dt.datetime:
        assert isinstance(value.value, str)
        parsed = _parse_rfc3339(value.value)
        if parsed is None:
            raise self._error(
                path,
                value.position,
                f"{value.text} is not a valid RFC 3339 timestamp with microsecond precision",
                'write a timestamp such as "2024-05-01T12:30:00.250Z" or "2024-05-01T14:30:00+02:00"',
            )
        return parsed


def _canonical_principal_pattern(pattern: LikePattern) -> LikePattern:
    """Put each literal run of a LIKE pattern in the form canonical_principal stores.

    A pattern that starts with the literal text `user:` can match only user names, which are
    stored in lowercase, so all its runs are lowercased. Runs are normalised one by one, because
    a character cannot compose with another across a wildcard.
    """
    first = pattern.parts[0] if pattern.parts else ""
    # canonical_principal lowercases only after `user:`; any other prefix gets the composition.
    prefix = "user:" if isinstance(first, str) and first.startswith("user:") else "team:"
    parts = tuple(
        part if isinstance(part, Wildcard) else canonical_principal(prefix + part)[len(prefix) :]
        for part in pattern.parts
    )
    return LikePattern(parts)


def _parse_rfc3339(text: str) -> dt.datetime | None:
    """Parse an RFC 3339 timestamp into an aware UTC datetime, or return None if it is invalid."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    fraction = (fraction or "").ljust(9, "0")
    # Columns store microseconds, so a literal with nonzero nanoseconds cannot compare exactly.
    if fraction[6:] != "000":
        return None
    if offset.upper() == "Z":
        zone = dt.UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int(fraction[:6]), tzinfo=zone,
        )  # fmt: skip
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _bind(column: ColumnElement[Any], value: object) -> object:
    """Adapt a converted literal to the column: naive UTC for timestamp columns without zone."""
    if isinstance(value, dt.datetime) and not getattr(column.type, "timezone", True):
        return value.replace(tzinfo=None)
    return value


def _two_valued(column: ColumnElement[Any], predicate: ColumnElement[bool]) -> ColumnElement[bool]:
    """Make a comparison false rather than NULL when the column is NULL, so NOT can invert it."""
    if getattr(column, "nullable", True):
        return sa.and_(column.is_not(None), predicate)
    return predicate
