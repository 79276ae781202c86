"""Reading and writing monitoring state inside a caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_governance.adapters.schema import (
    alerts_table,
    drift_windows_table,
    monitoring_configs_table,
    monitoring_state_table,
    reference_profiles_table,
)


def _version_of(table: sa.Table, model_uid: str, version: int) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.model_uid == model_uid, table.c.version == version)


async def _upsert(connection: AsyncConnection, table: sa.Table, where: sa.ColumnElement[bool], row: Mapping[str, Any]) -> None:
    updated = await connection.execute(table.update().where(where).values(**row))
    if updated.rowcount == 0:
        await connection.execute(table.insert().values(**row))


async def load_reference(connection: AsyncConnection, model_uid: str, version: int) -> sa.RowMapping | None:
    result = await connection.execute(
        sa.select(reference_profiles_table).where(_version_of(reference_profiles_table, model_uid, version))
    )
    return result.mappings().first()


async def save_reference(connection: AsyncConnection, row: Mapping[str, Any]) -> None:
    where = _version_of(reference_profiles_table, row["model_uid"], row["version"])
    await _upsert(connection, reference_profiles_table, where, row)


async def load_config(connection: AsyncConnection, model_uid: str, version: int) -> sa.RowMapping | None:
    result = await connection.execute(
        sa.select(monitoring_configs_table).where(_version_of(monitoring_configs_table, model_uid, version))
    )
    return result.mappings().first()


async def save_config(connection: AsyncConnection, row: Mapping[str, Any]) -> None:
    where = _version_of(monitoring_configs_table, row["model_uid"], row["version"])
    await _upsert(connection, monitoring_configs_table, where, row)


async def lock_state(connection: AsyncConnection, model_uid: str, version: int) -> sa.RowMapping | None:
    """Read a version's window state and lock its row until the transaction ends.

    Two replicas that report for the same version queue on this lock (SELECT ... FOR UPDATE on
    PostgreSQL; on SQLite every writing transaction already holds the database's write lock from
    BEGIN IMMEDIATE), so no batch is lost or counted twice.
    """
    query = sa.select(monitoring_state_table).where(_version_of(monitoring_state_table, model_uid, version))
    result = await connection.execute(query.with_for_update())
    return result.mappings().first()


async def read_state(connection: AsyncConnection, model_uid: str, version: int) -> sa.RowMapping | None:
    result = await connection.execute(
        sa.select(monitoring_state_table).where(_version_of(monitoring_state_table, model_uid, version))
    )
    return result.mappings().first()


async def save_state(connection: AsyncConnection, row: Mapping[str, Any]) -> None:
    where = _version_of(monitoring_state_table, row["model_uid"], row["version"])
    await _upsert(connection, monitoring_state_table, where, row)


async def due_windows(connection: AsyncConnection, now: dt.datetime) -> list[tuple[str, int]]:
    """Return (model uid, version) of every open window whose due time is at or before `now`, oldest first."""
    state = monitoring_state_table.c
    result = await connection.execute(
        sa.select(state.model_uid, state.version)
        .where(state.window_due_time <= now)
        .order_by(state.window_due_time)
    )
    return [(row.model_uid, int(row.version)) for row in result]


async def set_due_time(connection: AsyncConnection, model_uid: str, version: int, due: dt.datetime | None) -> None:
    await connection.execute(
        monitoring_state_table.update()
        .where(_version_of(monitoring_state_table, model_uid, version))
        .values(window_due_time=due)
    )


async def delete_windows(connection: AsyncConnection, model_uid: str, version: int) -> None:
    await connection.execute(drift_windows_table.delete().where(_version_of(drift_windows_table, model_uid, version)))


async def insert_window(connection: AsyncConnection, row: Mapping[str, Any]) -> None:
    await connection.execute(drift_windows_table.insert().values(**row))


async def save_alert(connection: AsyncConnection, row: Mapping[str, Any]) -> None:
    await _upsert(connection, alerts_table, alerts_table.c.alert_id == row["alert_id"], row)


async def load_alert_data(connection: AsyncConnection, alert_id: str) -> dict[str, Any] | None:
    return await connection.scalar(sa.select(alerts_table.c.data).where(alerts_table.c.alert_id == alert_id))
