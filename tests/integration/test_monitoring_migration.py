"""Upgrading a governance database whose monitoring state predates closing windows by time."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_common.migrations import migrate
from modelward_common.timeutil import UtcDateTime
from modelward_governance.adapters.schema import MIGRATIONS, monitoring_state_table

# `monitoring_state` as migration 2 left it, for inserting rows before migration 4 runs.
_OLD_STATE = sa.table(
    "monitoring_state",
    *(sa.column(name) for name in (
        "model_uid", "version", "accumulator", "page_hinkley", "window_index", "window_rows",
        "window_detections", "batch_count", "row_count",
    )),
    sa.column("window_start_time", UtcDateTime()),
    sa.column("update_time", UtcDateTime()),
)


async def test_due_time_migration_keeps_open_windows(database_url: str) -> None:
    started = dt.datetime(2025, 3, 4, 5, 6, 7, 8000, tzinfo=dt.UTC)
    engine = create_engine(database_url)
    try:
        await migrate(engine, [step for step in MIGRATIONS if step.version < 4], prefix="governance_")
        async with engine.begin() as connection:
            for uid, rows, start in (("open", 40, started), ("empty", 0, None)):
                await connection.execute(_OLD_STATE.insert().values(
                    model_uid=uid, version=1, accumulator=b"state", page_hinkley=b"detector", window_index=2,
                    window_rows=rows, window_detections=0, batch_count=3, row_count=240,
                    window_start_time=start, update_time=started,
                ))

        assert await migrate(engine, MIGRATIONS, prefix="governance_") == [step.version for step in MIGRATIONS if step.version >= 4]

        state = monitoring_state_table.c
        async with engine.connect() as connection:
            result = await connection.execute(
                sa.select(state.model_uid, state.window_arrival_time, state.window_due_time).order_by(state.model_uid)
            )
            rows = {row.model_uid: (row.window_arrival_time, row.window_due_time) for row in result}
            indexes = await connection.run_sync(lambda sync: sa.inspect(sync).get_indexes("monitoring_state"))
    finally:
        await engine.dispose()
    assert rows == {"empty": (None, None), "open": (started, None)}
    assert "monitoring_state_by_due_time" in {index["name"] for index in indexes}
