"""Engines, portable column types and database error translation for both backends.

PostgreSQL (asyncpg) is the production backend and SQLite (aiosqlite) the embedded default.
Everything here keeps the two behaving alike: byte-wise string collation, case-sensitive LIKE,
and driver errors mapped to the service's error family in one place.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from modelward_common.errors import Aborted, Unavailable

logger = logging.getLogger(__name__)

# Execution option that marks a connection as read-only, so SQLite starts a deferred transaction.
READ_ONLY_OPTION = "modelward_read_only"
# SQLSTATE codes that mean "a concurrent transaction won; retrying may succeed".
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
# SQLSTATE classes that mean the connection or server is gone.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


class DatabaseUnavailable(Exception):
    """The service's database could not be reached or opened at start."""

    def __init__(self, engine: AsyncEngine, error: BaseException) -> None:
        # SQLAlchemy wraps the driver's error and adds lines of its own, so only the driver's first line is kept.
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        super().__init__(
            f"cannot open the database at {engine.url.render_as_string(hide_password=True)} (--database-url): "
            f"{reason}; check that the server runs, that the database exists and that the URL is right"
        )


async def check_reachable(engine: AsyncEngine) -> None:
    """Connect once, so a server that is down or a wrong URL fails at start with DatabaseUnavailable."""
    try:
        async with engine.connect():
            pass
    except (OSError, exc.DBAPIError) as error:
        raise DatabaseUnavailable(engine, error) from None


def text_column(length: int | None = None) -> sa.types.TypeEngine[str]:
    """A string type that sorts and compares bytewise on both backends.

    PostgreSQL's default collation follows the locale, SQLite compares bytes, so PostgreSQL
    columns use the "C" collation and ORDER BY and `<` agree.
    """
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def json_column() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def blob_column() -> sa.types.TypeEngine[bytes]:
    return sa.LargeBinary()


def skip_column_statistics(connection: sa.Connection, columns: Mapping[str, Sequence[str]]) -> None:
    """Stop PostgreSQL's ANALYZE from gathering statistics on these columns (table name to columns).

    For JSONB and bytea columns that queries only read back whole and never filter or sort on.
    ANALYZE otherwise detoasts and sorts a sample of their values on every pass, the costliest
    part of analyzing such a table, and the planner never uses the result. SQLite has no
    per-column statistics target.
    """
    if connection.dialect.name != "postgresql":
        return
    for table, names in columns.items():
        for name in names:
            connection.exec_driver_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{name}" SET STATISTICS 0')


def is_among(dialect: str, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[bool]:
    """Return `column IN (:name)`, its values passed as one list to execute(), for statements built once per dialect.

    Building a statement and its cache key costs more than running it, so the statements of
    batches and groups are built once. On PostgreSQL this renders `column = ANY(:name)` with one
    array parameter. On SQLite it renders an IN list that SQLAlchemy expands on each execution.
    """
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.bindparam(name, expanding=True))


def is_sqlite(engine: AsyncEngine | AsyncConnection) -> bool:
    return engine.dialect.name == "sqlite"


# The async drivers modelward runs on, and the schemes without a driver that mean them.
_ASYNC_SCHEMES = ("postgresql+asyncpg", "sqlite+aiosqlite")
_DEFAULT_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def async_database_url(url: str) -> str:
    """Return the URL with its async driver: `postgresql://` and `postgres://` become
    `postgresql+asyncpg://`, `sqlite://` becomes `sqlite+aiosqlite://`.

    Raises ValueError for another driver or a text that is no URL. The message names only the
    scheme, because the rest of a database URL may hold a password.
    """
    scheme, separator, rest = url.partition("://")
    if separator and scheme in _ASYNC_SCHEMES:
        return url
    if separator and scheme in _DEFAULT_DRIVERS:
        return f"{_DEFAULT_DRIVERS[scheme]}://{rest}"
    named = f"scheme {scheme!r}" if separator else "a text without '://'"
    raise ValueError(
        f"invalid database URL ({named}): modelward runs on asyncpg and aiosqlite, so use "
        "postgresql+asyncpg://user@host:port/database "
        "or sqlite+aiosqlite:///path/to/file.sqlite"
    )


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """Create an async engine with the settings modelward relies on for the URL's backend."""
    url = async_database_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
        # The driver's own BEGIN handling would start transactions lazily after the first
        # read; an explicit BEGIN IMMEDIATE below takes the write lock up front instead.
        event.listen(engine.sync_engine, "begin", _begin_sqlite_immediate)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: asyncpg's ping costs three round trips (BEGIN, SELECT 1, ROLLBACK) on
        # every checkout. The statement that uses a dead connection fails with UNAVAILABLE, which
        # clients retry, and SQLAlchemy then replaces every pooled connection opened before it.
        pool_recycle=1800,
    )


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # aiosqlite's adapter starts transactions itself unless isolation_level is None.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # PostgreSQL's LIKE is case-sensitive; this makes SQLite's agree.
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.close()


def _begin_sqlite_immediate(connection: sa.Connection) -> None:
    # A writing transaction takes the write lock at BEGIN, so two writers never both read a
    # snapshot and then fail to upgrade it (SQLite's "database is locked" on upgrade).
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlstate_of(error: BaseException) -> str | None:
    original = getattr(error, "orig", None)
    for candidate in (original, getattr(original, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


def is_unique_violation(error: BaseException) -> bool:
    if isinstance(error, exc.IntegrityError):
        code = sqlstate_of(error)
        if code is not None:
            return code == "23505"
        return "UNIQUE constraint failed" in str(error)
    return False


@contextlib.contextmanager
def translated_errors(operation: str) -> Iterator[None]:
    """Turn driver failures into Aborted (retry the request) or Unavailable (retry later)."""
    try:
        yield
    except exc.DBAPIError as error:
        code = sqlstate_of(error)
        if code in _RETRYABLE_SQLSTATES:
            logger.info("%s lost a concurrency race (SQLSTATE %s)", operation, code)
            raise Aborted(
                f"{operation} conflicted with a concurrent transaction; retry the request",
                reason="CONCURRENT_TRANSACTION",
            ) from error
        if error.connection_invalidated or (code or "").startswith(_UNAVAILABLE_SQLSTATE_CLASSES):
            logger.warning("%s failed: database unavailable: %s", operation, error)
            raise Unavailable(
                f"{operation} failed because the database is unavailable; retry later",
                reason="DATABASE_UNAVAILABLE",
            ) from error
        if _is_sqlite_busy(error):
            logger.warning("%s failed: SQLite database busy", operation)
            raise Unavailable(
                f"{operation} failed because the database is busy; retry later",
                reason="DATABASE_BUSY",
            ) from error
        raise
    except (OSError, ConnectionError, TimeoutError) as error:
        logger.warning("%s failed: database connection error: %s", operation, error)
        raise Unavailable(
            f"{operation} failed because the database connection failed; retry later",
            reason="DATABASE_UNAVAILABLE",
        ) from error


def _is_sqlite_busy(error: exc.DBAPIError) -> bool:
    return "database is locked" in str(error.orig) or "database is busy" in str(error.orig)


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine, operation: str) -> AsyncIterator[AsyncConnection]:
    """Open a connection, run one transaction, translate driver errors including at commit."""
    with translated_errors(operation):
        async with engine.begin() as connection:
            yield connection


@contextlib.asynccontextmanager
async def read_connection(engine: AsyncEngine, operation: str) -> AsyncIterator[AsyncConnection]:
    """Open a connection for reads.

    On PostgreSQL each statement runs in autocommit mode, so no BEGIN and ROLLBACK round trips
    surround the reads. Under READ COMMITTED each statement takes its own snapshot, inside a
    transaction or not, so readers see the same data. On SQLite the reads share one deferred
    transaction and with it one snapshot.
    """
    with translated_errors(operation):
        if engine.dialect.name == "postgresql":
            async with _autocommit_connection(engine) as connection:
                yield connection
        else:
            async with engine.connect() as connection:
                await connection.execution_options(**{READ_ONLY_OPTION: True})
                yield connection


@contextlib.asynccontextmanager
async def statement_connection(engine: AsyncEngine, operation: str) -> AsyncIterator[AsyncConnection]:
    """Open a connection for writes that need no transaction around them: each commits by itself.

    On PostgreSQL the statements run in autocommit mode, one round trip each. On SQLite they run
    in one transaction committed at the end, since a BEGIN IMMEDIATE starts every transaction
    there (create_engine).
    """
    with translated_errors(operation):
        if engine.dialect.name == "postgresql":
            async with _autocommit_connection(engine) as connection:
                yield connection
        else:
            async with engine.begin() as connection:
                yield connection


@contextlib.asynccontextmanager
async def _autocommit_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Open a PostgreSQL connection whose statements run without BEGIN and COMMIT around them."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection
