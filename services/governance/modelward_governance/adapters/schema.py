"""The governance service's tables: its own event log and outbox, the consumer's inbox, and
its state, with each domain object kept whole as JSON beside the columns queries need."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from modelward_common.audit import add_hash_chain
from modelward_common.consumer import CONSUMER_TABLES
from modelward_common.db import blob_column, json_column, skip_column_statistics, text_column
from modelward_common.eventstore import (
    add_append_head_function, create_events_table_without_chain, metadata, skip_read_back_column_statistics,
)
from modelward_common.migrations import Migration
from modelward_common.relay import relay_state_table
from modelward_common.timeutil import UtcDateTime

portfolio_table = sa.Table(
    "portfolio_models",
    metadata,
    sa.Column("uid", text_column(36), primary_key=True),
    sa.Column("model_id", text_column(128), nullable=False, index=True),
    sa.Column("owner", text_column(320), nullable=False),
    sa.Column("team", text_column(64), nullable=False),
    sa.Column("risk_tier", text_column(16), nullable=False),
    sa.Column("state", text_column(16), nullable=False),
    sa.Column("task_type", text_column(64), nullable=False),
    sa.Column("orphaned", sa.Boolean, nullable=False),
    sa.Column("compliant", sa.Boolean, nullable=False),
    sa.Column("open_findings", sa.Integer, nullable=False),
    sa.Column("production_version", sa.BigInteger, nullable=False),
    sa.Column("last_activity_time", UtcDateTime(), nullable=False),
    sa.Column("update_time", UtcDateTime(), nullable=False),
    # The PortfolioModel, encoded by adapters/codec.py.
    sa.Column("data", json_column(), nullable=False),
)

findings_table = sa.Table(
    "findings",
    metadata,
    sa.Column("finding_id", text_column(64), primary_key=True),
    sa.Column("model_uid", text_column(36), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("kind", text_column(32), nullable=False),
    sa.Column("check_id", text_column(200), nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("blocks_promotion", sa.Boolean, nullable=False),
    sa.Column("is_open", sa.Boolean, nullable=False),
    sa.Column("opened_at", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Column("data", json_column(), nullable=False),
    sa.Index("findings_open_by_model", "model_uid", "is_open"),
)

promotions_table = sa.Table(
    "promotions",
    metadata,
    sa.Column("promotion_id", text_column(64), primary_key=True),
    sa.Column("model_uid", text_column(36), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("state", text_column(32), nullable=False),
    sa.Column("requested_at", UtcDateTime(), nullable=False),
    sa.Column("data", json_column(), nullable=False),
    sa.Index("promotions_by_version", "model_uid", "version"),
)

policies_table = sa.Table(
    "policies",
    metadata,
    sa.Column("revision", sa.BigInteger, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sha256", text_column(64), nullable=False),
    sa.Column("author", text_column(320), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("create_time", UtcDateTime(), nullable=False),
)

principals_table = sa.Table(
    "principals",
    metadata,
    sa.Column("principal", text_column(320), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("changed_by", text_column(320), nullable=False),
    sa.Column("update_time", UtcDateTime(), nullable=False),
)

redundancy_table = sa.Table(
    "redundancy_flags",
    metadata,
    # The pair's model uids in sorted order, and the kind of match.
    sa.Column("first_uid", text_column(36), primary_key=True),
    sa.Column("second_uid", text_column(36), primary_key=True),
    sa.Column("kind", text_column(32), primary_key=True),
    sa.Column("data", json_column(), nullable=False),
    # The primary key serves lookups by first_uid; this one those by second_uid (migration 7).
    sa.Index("redundancy_flags_by_second_uid", "second_uid"),
)

# --- monitoring (migration 2) ---------------------------------------------------------------

reference_profiles_table = sa.Table(
    "monitoring_reference_profiles",
    metadata,
    sa.Column("model_uid", text_column(36), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    # ReferenceProfile.to_bytes(): quantile bins, category counts, moments, a bounded sample.
    sa.Column("profile", blob_column(), nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    # Column name to value type of the upload: "double", "string" or "int64".
    sa.Column("column_types", json_column(), nullable=False),
    sa.Column("prediction_column", text_column(256), nullable=False),
    sa.Column("label_column", text_column(256), nullable=False),
    sa.Column("sha256", text_column(64), nullable=False),
    sa.Column("uploaded_by", text_column(320), nullable=False),
    sa.Column("create_time", UtcDateTime(), nullable=False),
)

monitoring_configs_table = sa.Table(
    "monitoring_configs",
    metadata,
    sa.Column("model_uid", text_column(36), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    # The MonitoringConfig proto in its JSON mapping, without name, update_time and etag.
    sa.Column("data", json_column(), nullable=False),
    sa.Column("etag", text_column(64), nullable=False),
    sa.Column("updated_by", text_column(320), nullable=False),
    sa.Column("update_time", UtcDateTime(), nullable=False),
)

def _state_columns() -> list[sa.Column[Any]]:
    """Columns of `monitoring_state` as migration 2 created them."""
    return [
        sa.Column("model_uid", text_column(36), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        # WindowAccumulator.to_bytes() of the open window and the label-join buffer.
        sa.Column("accumulator", blob_column(), nullable=False),
        # PageHinkley.to_bytes() of the error-rate detector.
        sa.Column("page_hinkley", blob_column(), nullable=False),
        sa.Column("window_index", sa.BigInteger, nullable=False),
        sa.Column("window_start_time", UtcDateTime(), nullable=True),
        sa.Column("window_rows", sa.BigInteger, nullable=False),
        # Page-Hinkley detections since the open window opened.
        sa.Column("window_detections", sa.BigInteger, nullable=False),
        sa.Column("batch_count", sa.BigInteger, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
    ]


# One row per monitored version; writers lock it, so concurrent reporters take turns.
monitoring_state_table = sa.Table(
    "monitoring_state",
    metadata,
    *_state_columns(),
    # Server time at which the open window's first row arrived; null while the window is empty.
    sa.Column("window_arrival_time", UtcDateTime(), nullable=True),
    # Server time at which the open window closes by time, with or without a new batch: arrival
    # time plus the configured window_duration. Null for row-count windows and empty windows.
    sa.Column("window_due_time", UtcDateTime(), nullable=True),
    sa.Index("monitoring_state_by_due_time", "window_due_time"),
)

drift_windows_table = sa.Table(
    "monitoring_windows",
    metadata,
    sa.Column("model_uid", text_column(36), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("window_index", sa.BigInteger, primary_key=True),
    sa.Column("start_time", UtcDateTime(), nullable=True),
    sa.Column("end_time", UtcDateTime(), nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    # The DriftWindow proto, serialised: every number and the threshold it was compared with.
    sa.Column("report", blob_column(), nullable=False),
)

alerts_table = sa.Table(
    "monitoring_alerts",
    metadata,
    # The id of the DRIFT finding that the alert opened.
    sa.Column("alert_id", text_column(64), primary_key=True),
    sa.Column("model_uid", text_column(36), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("kind", text_column(32), nullable=False),
    sa.Column("feature", text_column(256), nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("is_open", sa.Boolean, nullable=False),
    sa.Column("open_time", UtcDateTime(), nullable=False),
    sa.Column("resolve_time", UtcDateTime(), nullable=True),
    # The Alert proto in its JSON mapping, with `model` left empty: it is read at request time.
    sa.Column("data", json_column(), nullable=False),
    sa.Index("monitoring_alerts_by_version", "model_uid", "version", "is_open"),
)

MONITORING_TABLES = (
    reference_profiles_table,
    monitoring_configs_table,
    monitoring_state_table,
    drift_windows_table,
    alerts_table,
)

STATE_TABLES = (portfolio_table, findings_table, promotions_table, policies_table, principals_table, redundancy_table)


def _create_initial_schema(connection: sa.Connection) -> None:
    create_events_table_without_chain(connection)
    for table in (relay_state_table, *CONSUMER_TABLES, *STATE_TABLES):
        table.create(connection)


def _create_monitoring_tables(connection: sa.Connection) -> None:
    for table in MONITORING_TABLES:
        if table is monitoring_state_table:
            # Migration 4 adds the due-time columns.
            sa.Table("monitoring_state", sa.MetaData(), *_state_columns()).create(connection)
        else:
            table.create(connection)


def _add_window_due_time(connection: sa.Connection) -> None:
    """Add the arrival and due times of the open window to `monitoring_state`.

    An open window's arrival time is set to its start time, which equals it for senders that send
    no observe_times. Its due time stays null until its next batch or config change sets it.
    """
    for name in ("window_arrival_time", "window_due_time"):
        ddl = monitoring_state_table.c[name].type.compile(dialect=connection.dialect)
        connection.execute(sa.text(f"ALTER TABLE monitoring_state ADD COLUMN {name} {ddl}"))
    for index in monitoring_state_table.indexes:
        index.create(connection)
    state = monitoring_state_table.c
    connection.execute(
        monitoring_state_table.update()
        .where(state.window_rows > 0)
        .values(window_arrival_time=state.window_start_time)
    )


# Columns only read back whole: the encoded objects and event payloads.
_WHOLE_VALUE_COLUMNS = {
    "portfolio_models": ("data",),
    "findings": ("data",),
    "promotions": ("data",),
    "redundancy_flags": ("data",),
    "monitoring_windows": ("report",),
    "monitoring_reference_profiles": ("profile",),
    "monitoring_state": ("accumulator", "page_hinkley"),
    "events": ("payload",),
}


def _skip_whole_value_statistics(connection: sa.Connection) -> None:
    skip_column_statistics(connection, _WHOLE_VALUE_COLUMNS)


def _index_flags_by_second_uid(connection: sa.Connection) -> None:
    """Index the flagged pairs by their second model, for databases that migration 1 made
    without it (it creates today's table, index included)."""
    for index in redundancy_table.indexes:
        index.create(connection, checkfirst=True)


MIGRATIONS: list[Migration] = [
    Migration(1, "event log, outbox, inbox, portfolio, findings, promotions, policies", _create_initial_schema),
    Migration(2, "monitoring: reference profiles, configs, window state, windows, alerts", _create_monitoring_tables),
    Migration(3, "audit hash chain over the event log", add_hash_chain),
    Migration(4, "monitoring: window arrival and due times, to close windows by time", _add_window_due_time),
    Migration(5, "PostgreSQL function that takes the append lock and reads the chain head in one call", add_append_head_function),
    Migration(6, "no planner statistics on columns only read back whole", _skip_whole_value_statistics),
    Migration(7, "index of redundancy flags by their second model", _index_flags_by_second_uid),
    Migration(8, "no planner statistics on event columns only read back", skip_read_back_column_statistics),
]
