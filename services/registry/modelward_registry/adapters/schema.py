"""The registry's tables: the event log (shared definition) and the projections read by queries.

Every projection row is derived from the events and can be rebuilt from them. Columns exist for
what queries filter, order and join on; `body` keeps the whole ModelVersion for reads.
"""

from __future__ import annotations

import sqlalchemy as sa

from modelward_common.audit import add_hash_chain
from modelward_common.consumer import CONSUMER_TABLES
from modelward_common.db import blob_column, json_column, skip_column_statistics, text_column
from modelward_common.eventstore import (
    add_append_head_function, create_events_table_without_chain, metadata, skip_read_back_column_statistics,
)
from modelward_common.migrations import Migration
from modelward_common.request_ids import MAX_REQUEST_ID
from modelward_common.relay import relay_state_table
from modelward_common.timeutil import UtcDateTime

models_table = sa.Table(
    "models",
    metadata,
    sa.Column("uid", text_column(36), primary_key=True),
    sa.Column("model_id", text_column(128), nullable=False, unique=True),
    # Lowercased model_id: names are unique regardless of case.
    sa.Column("name_key", text_column(128), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("owner", text_column(320), nullable=False),
    sa.Column("team", text_column(64), nullable=False),
    sa.Column("risk_tier", sa.Integer, nullable=False),
    sa.Column("task_type", text_column(64), nullable=False),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("tags", json_column(), nullable=False),
    sa.Column("aliases", json_column(), nullable=False),
    sa.Column("latest_version", sa.BigInteger, nullable=False),
    sa.Column("production_version", sa.BigInteger, nullable=False),
    # Version of the model's event stream after the last event; the model's etag.
    sa.Column("stream_version", sa.BigInteger, nullable=False),
    sa.Column("create_time", UtcDateTime(), nullable=False),
    sa.Column("update_time", UtcDateTime(), nullable=False),
)

versions_table = sa.Table(
    "model_versions",
    metadata,
    sa.Column("model_uid", text_column(36), sa.ForeignKey("models.uid"), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("stage", sa.Integer, nullable=False),
    sa.Column("pending_stage", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_by", text_column(320), nullable=False),
    sa.Column("artifact_sha256", text_column(64), nullable=False),
    sa.Column("artifact_format", text_column(32), nullable=False),
    sa.Column("training_dataset_sha256", text_column(64), nullable=False),
    sa.Column("tags", json_column(), nullable=False),
    # Metric name to value, plus "<name>@<split>" for every metric that names a split.
    sa.Column("metrics", json_column(), nullable=False),
    sa.Column("hyperparameters", json_column(), nullable=False),
    sa.Column("create_time", UtcDateTime(), nullable=False),
    sa.Column("update_time", UtcDateTime(), nullable=False),
    # The serialised ModelVersion without its name, which changes when the model is renamed.
    sa.Column("body", blob_column(), nullable=False),
    sa.Index("model_versions_artifact_sha256", "artifact_sha256"),
    sa.Index("model_versions_stage", "model_uid", "stage"),
)

aliases_table = sa.Table(
    "aliases",
    metadata,
    sa.Column("model_uid", text_column(36), sa.ForeignKey("models.uid"), primary_key=True),
    sa.Column("alias", text_column(64), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

request_ids_table = sa.Table(
    "request_ids",
    metadata,
    sa.Column("method", text_column(64), primary_key=True),
    sa.Column("request_id", text_column(MAX_REQUEST_ID), primary_key=True),
    # SHA-256 of the request without its request_id, to catch a key reused for another request.
    sa.Column("request_hash", text_column(64), nullable=False),
    sa.Column("model_uid", text_column(36), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("create_time", UtcDateTime(), nullable=False),
)

# Principals governance deactivated or reactivated, applied from its PrincipalDeactivated and
# PrincipalReactivated events. Not a projection of the registry's own log, so
# rebuild-projections leaves it alone.
principal_states_table = sa.Table(
    "principal_states",
    metadata,
    sa.Column("principal", text_column(320), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False),
    # Version of the principal's stream in governance's log after the applied event. An event
    # with a lower version arrived late and is skipped.
    sa.Column("stream_version", sa.BigInteger, nullable=False),
    sa.Column("event_id", text_column(36), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("changed_by", text_column(320), nullable=False),
    sa.Column("update_time", UtcDateTime(), nullable=False),
)

PROJECTION_TABLES = (aliases_table, versions_table, models_table)


def _create_initial_schema(connection: sa.Connection) -> None:
    create_events_table_without_chain(connection)
    for table in (relay_state_table, models_table, versions_table, aliases_table, request_ids_table):
        table.create(connection)


def _create_consumer_tables(connection: sa.Connection) -> None:
    for table in CONSUMER_TABLES:
        table.create(connection)


def _create_principal_states(connection: sa.Connection) -> None:
    principal_states_table.create(connection)


def _skip_whole_value_statistics(connection: sa.Connection) -> None:
    # The version's encoded body and event payloads are only read back whole. Tags, metrics and
    # hyperparameters keep their statistics, since List filters compare them.
    skip_column_statistics(connection, {"model_versions": ("body",), "events": ("payload",)})


MIGRATIONS = (
    Migration(1, "event log, relay state, projections and request ids", _create_initial_schema),
    Migration(2, "inbox, progress and dead letters of event consumers", _create_consumer_tables),
    Migration(3, "audit hash chain over the event log", add_hash_chain),
    Migration(4, "principal states applied from governance's events", _create_principal_states),
    Migration(5, "PostgreSQL function that takes the append lock and reads the chain head in one call", add_append_head_function),
    Migration(6, "no planner statistics on columns only read back whole", _skip_whole_value_statistics),
    Migration(7, "no planner statistics on event columns only read back", skip_read_back_column_statistics),
)
