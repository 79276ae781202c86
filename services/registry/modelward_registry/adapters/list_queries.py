"""SQL of the registry's List methods and of history paging.

Filters name model and version fields, `tags.<key>`, `metrics.<name>` and
`hyperparameters.<name>`. Maps live in JSON columns: PostgreSQL reads a key with `->>`, SQLite
with json_each, because SQLite's JSON paths cannot quote a key that contains `"`.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from modelward_common.auth.scope import ModelScope
from modelward_common.errors import NotFound
from modelward_common.filtering import FieldType, FilterField, FilterSchema, MapField, filter_clause
from modelward_common.paging import PageToken, count_rows, fetch_page, items_within, parse_order_by, query_fingerprint
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.adapters import repository as repo
from modelward_registry.adapters.schema import models_table, versions_table
from modelward_registry.domain.names import ANY_MODEL, model_name

models = models_table.c
versions = versions_table.c

_RISK_TIERS = {name: value for name, value in res.RiskTier.items() if value}
_STATES = {name: value for name, value in res.ModelState.items() if value}
_STAGES = dict(res.Stage.items())


def _json_map(column: ColumnElement[Any], value_type: FieldType, dialect: str) -> MapField:
    if dialect == "sqlite":
        def sqlite_predicate(key: str, condition: Any) -> ColumnElement[bool]:
            entries = sa.func.json_each(column).table_valued("key", "value")
            return sa.exists().select_from(entries).where(entries.c.key == key, condition(entries.c.value))

        return MapField(value_type, sqlite_predicate)

    def postgres_predicate(key: str, condition: Any) -> ColumnElement[bool]:
        element = column[key]
        value = element.as_float() if value_type is FieldType.FLOAT else element.as_string()
        return sa.and_(value.is_not(None), condition(value))

    return MapField(value_type, postgres_predicate)


def _model_fields() -> dict[str, FilterField]:
    return {
        "owner": FilterField.of_principal(models.owner),
        "team": FilterField(models.team, FieldType.STRING),
        "risk_tier": FilterField.enum(models.risk_tier, _RISK_TIERS, alias_prefix="RISK_TIER_"),
        "task_type": FilterField(models.task_type, FieldType.STRING),
    }


@functools.cache
def model_schema(dialect: str) -> FilterSchema:
    fields = {
        # `name` and `model_id` both mean the {model} part of the resource name.
        "name": FilterField(models.model_id, FieldType.STRING),
        "model_id": FilterField(models.model_id, FieldType.STRING),
        "uid": FilterField(models.uid, FieldType.STRING),
        "description": FilterField(models.description, FieldType.STRING),
        "state": FilterField.enum(models.state, _STATES, alias_prefix="MODEL_STATE_"),
        "latest_version": FilterField(models.latest_version, FieldType.INTEGER),
        "create_time": FilterField(models.create_time, FieldType.TIMESTAMP),
        "update_time": FilterField(models.update_time, FieldType.TIMESTAMP),
        **_model_fields(),
    }
    return FilterSchema(fields, {"tags": _json_map(models.tags, FieldType.STRING, dialect)})


@functools.cache
def version_schema(dialect: str) -> FilterSchema:
    fields = {
        "model": FilterField(models.model_id, FieldType.STRING),
        "version": FilterField(versions.version, FieldType.INTEGER),
        "stage": FilterField.enum(versions.stage, _STAGES, alias_prefix="STAGE_"),
        "description": FilterField(versions.description, FieldType.STRING),
        "created_by": FilterField.of_principal(versions.created_by),
        "artifact.sha256": FilterField(versions.artifact_sha256, FieldType.STRING),
        "artifact.format": FilterField(versions.artifact_format, FieldType.STRING),
        "lineage.training_dataset.sha256": FilterField(versions.training_dataset_sha256, FieldType.STRING),
        "create_time": FilterField(versions.create_time, FieldType.TIMESTAMP),
        "update_time": FilterField(versions.update_time, FieldType.TIMESTAMP),
        **_model_fields(),
    }
    maps = {
        "tags": _json_map(versions.tags, FieldType.STRING, dialect),
        "metrics": _json_map(versions.metrics, FieldType.FLOAT, dialect),
        "hyperparameters": _json_map(versions.hyperparameters, FieldType.STRING, dialect),
    }
    return FilterSchema(fields, maps)


MODEL_ORDER = {
    "name": models.model_id,
    "model_id": models.model_id,
    "owner": models.owner,
    "team": models.team,
    "risk_tier": models.risk_tier,
    "latest_version": models.latest_version,
    "create_time": models.create_time,
    "update_time": models.update_time,
}

VERSION_ORDER = {
    "model": models.model_id,
    "version": versions.version,
    "stage": versions.stage,
    "create_time": versions.create_time,
    "update_time": versions.update_time,
}


async def list_models(
    connection: AsyncConnection, request: rpc.ListModelsRequest, key: bytes, scope: ModelScope | None = None
) -> rpc.ListModelsResponse:
    """List models; `scope` limits them, and so the total and the pages, to a scoped caller's models."""
    statement = sa.select(models_table)
    if scope is not None:
        statement = statement.where(scope.condition(models.uid, models.team, models.owner))
    condition = filter_clause(request.filter, model_schema(connection.dialect.name))
    if condition is not None:
        statement = statement.where(condition)
    if not request.show_deleted:
        statement = statement.where(models.state != res.MODEL_STATE_DELETED)
    order = parse_order_by(request.order_by, MODEL_ORDER, tiebreaker=models.uid, default="name")
    fingerprint = ["models", request.filter, request.order_by, str(request.show_deleted)]
    page = await fetch_page(
        connection, statement, order, page_size=request.page_size, page_token=request.page_token,
        key=key, fingerprint_parts=fingerprint,
    )
    response = rpc.ListModelsResponse(next_page_token=page.next_page_token)
    response.models.extend(repo.model_message(row._mapping) for row in page.rows)
    response.total_size = await count_rows(connection, statement)
    return response


async def list_versions(
    connection: AsyncConnection,
    model_id: str,
    request: rpc.ListModelVersionsRequest,
    key: bytes,
    scope: ModelScope | None = None,
) -> rpc.ListModelVersionsResponse:
    statement = sa.select(
        models.model_id, versions.body, versions.model_uid, versions.version, versions.stage,
        versions.create_time, versions.update_time,
    ).select_from(versions_table.join(models_table, models.uid == versions.model_uid))
    if scope is not None:
        statement = statement.where(scope.condition(models.uid, models.team, models.owner))
    if model_id != ANY_MODEL:
        uid = await connection.scalar(sa.select(models.uid).where(models.model_id == model_id))
        if uid is None:
            raise NotFound(f"model {model_name(model_id)} not found", field="parent")
        statement = statement.where(versions.model_uid == uid)
    condition = filter_clause(request.filter, version_schema(connection.dialect.name))
    if condition is not None:
        statement = statement.where(condition)
    order = parse_order_by(
        request.order_by, VERSION_ORDER, tiebreaker=[versions.model_uid, versions.version], default="model, version"
    )
    fingerprint = ["versions", request.parent, request.filter, request.order_by]
    page = await fetch_page(
        connection, statement, order, page_size=request.page_size, page_token=request.page_token,
        key=key, fingerprint_parts=fingerprint,
    )
    found = [repo.version_message(row.model_id, row.body) for row in page.rows]
    # A version may take up to 960 KiB, so a page ends early rather than exceed what clients accept.
    page = page.first(items_within(version.ByteSize() for version in found))
    response = rpc.ListModelVersionsResponse(next_page_token=page.next_page_token)
    response.model_versions.extend(found[: len(page.rows)])
    response.total_size = await count_rows(connection, statement)
    return response


# --- history --------------------------------------------------------------------------------


async def stream_id_of(connection: AsyncConnection, model_id: str) -> str:
    uid = await connection.scalar(sa.select(models.uid).where(models.model_id == model_id))
    if uid is None:
        raise NotFound(f"model {model_name(model_id)} not found", field="name")
    return str(uid)


def encode_history_token(stream_id: str, after_version: int, key: bytes) -> str:
    return PageToken(query_fingerprint(["history", stream_id]), (after_version,)).encode(key)


def decode_history_token(token: str, stream_id: str, key: bytes) -> int:
    fingerprint = query_fingerprint(["history", stream_id])
    decoded = PageToken.decode(token, key, fingerprint=fingerprint, value_count=1)
    return int(decoded.last_values[0])  # type: ignore[call-overload]
