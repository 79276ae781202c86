"""ANALYZE skips the columns that queries only read back whole, and keeps the filtered ones."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_governance.bootstrap import prepare_database as prepare_governance
from modelward_registry.bootstrap import prepare_database as prepare_registry

_TARGETS = sa.text(
    "SELECT attname, attstattarget FROM pg_attribute "
    "WHERE attrelid = CAST(:table AS regclass) AND attname = ANY(:columns)"
)


@pytest.mark.parametrize("prepare, table, skipped, kept", [
    (prepare_governance, "portfolio_models", ["data"], ["owner", "model_id"]),
    (prepare_governance, "findings", ["data"], ["model_uid", "is_open"]),
    (prepare_governance, "events", ["payload"], ["stream_id"]),
    (prepare_registry, "model_versions", ["body"], ["tags", "metrics", "hyperparameters"]),
    (prepare_registry, "events", ["payload"], ["stream_id"]),
])
async def test_whole_value_columns_have_no_statistics(fresh_pg_url, prepare, table, skipped, kept) -> None:  # type: ignore[no-untyped-def]
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
