"""ANALYZE skips the columns that queries only read back, and keeps the filtered ones."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_common.eventstore import READ_BACK_COLUMNS
from modelward_governance.bootstrap import prepare_database as prepare_governance
from modelward_registry.bootstrap import prepare_database as prepare_registry

_TARGETS = sa.text(
    "SELECT attname, attstattarget FROM pg_attribute "
    "WHERE attrelid = CAST(:table AS regclass) AND attname = ANY(:columns)"
)


@pytest.mark.parametrize("prepare, table, skipped, kept", [
    (prepare_governance, "portfolio_models", ["data"], ["owner", "model_id"]),
    (prepare_governance, "findings", ["data"], ["model_uid", "is_open"]),
    (prepare_governance, "events", ["payload", *READ_BACK_COLUMNS], ["stream_id", "stream_version", "type", "recorded_at"]),
    (prepare_registry, "model_versions", ["body"], ["tags", "metrics", "hyperparameters"]),
    (prepare_registry, "events", ["payload", *READ_BACK_COLUMNS], ["stream_id", "stream_version", "type", "recorded_at"]),
])
async def test_read_back_columns_have_no_statistics(fresh_pg_url, prepare, table, skipped, kept) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(fresh_pg_url())
    try:
        await prepare(engine)
        async with engine.connect() as connection:
            rows = await connection.execute(_TARGETS, {"table": table, "columns": skipped + kept})
            targets = dict(rows.all())
    finally:
        await engine.dispose()
    for column in skipped:
        assert targets[column] == 0, column
    for column in kept:
        # -1: the server's default_statistics_target.
        assert targets[column] == -1, column


_FILL_EVENTS = sa.text(
    "INSERT INTO events (position, event_id, stream_id, stream_version, type, payload, subject, actor, reason,"
    " correlation_id, causation_id, traceparent, recorded_at, previous_position, previous_hash, event_hash)"
    " SELECT i, gen_random_uuid(), md5(i::text), 1, 'ModelCreated', '\\x00', 'models/m' || i, 'user:a@example.com',"
    " '', '', '', '', now(), i - 1, md5(i::text), md5(i::text) FROM generate_series(1, 5000) AS i"
)


@pytest.mark.parametrize("prepare", [prepare_governance, prepare_registry])
async def test_event_id_lookup_estimates_one_row(fresh_pg_url, prepare) -> None:  # type: ignore[no-untyped-def]
    """Without statistics on event_id, the planner estimates one row for a lookup from its unique index."""
    engine = create_engine(fresh_pg_url())
    try:
        await prepare(engine)
        async with engine.begin() as connection:
            await connection.execute(_FILL_EVENTS)
        async with engine.connect() as connection:
            await connection.execute(sa.text("ANALYZE events"))
            plan = (await connection.execute(sa.text(
                "EXPLAIN (FORMAT JSON) SELECT position FROM events WHERE event_id = '8f0c8f43-6c51-4a57-9d0e-0d5b3c1f2a10'"
            ))).scalar_one()
    finally:
        await engine.dispose()
    top = plan[0]["Plan"]
    assert top["Plan Rows"] == 1
    assert "Index" in top["Node Type"]
