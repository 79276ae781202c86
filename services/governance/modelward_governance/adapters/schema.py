"""The governance service's tables: its own event log and outbox, the consumer's inbox, and
its state, with each domain object kept whole as JSON beside the columns queries need."""

from __future__ import annotations

import sqlalchemy as sa

from modelward_common.audit import add_hash_chain
from modelward_common.consumer import CONSUMER_TABLES
from modelward_common.db import json_column, text_column
from modelward_common.eventstore import create_events_table_without_chain, metadata
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
)

STATE_TABLES = (portfolio_table, findings_table, promotions_table, policies_table, principals_table, redundancy_table)


def _create_initial_schema(connection: sa.Connection) -> None:
    create_events_table_without_chain(connection)
    for table in (relay_state_table, *CONSUMER_TABLES, *STATE_TABLES):
        table.create(connection)


MIGRATIONS: list[Migration] = [
    Migration(1, "event log, outbox, inbox, portfolio, findings, promotions, policies", _create_initial_schema),
    Migration(3, "audit hash chain over the event log", add_hash_chain),
]
