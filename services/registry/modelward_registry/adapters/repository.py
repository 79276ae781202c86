"""Reading and writing the registry's projections for one transaction."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common.db import is_among
from modelward_common.timeutil import from_timestamp, to_timestamp
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.adapters.schema import aliases_table, models_table, versions_table
from modelward_registry.domain.model import ModelAggregate
from modelward_registry.domain.names import model_name, version_name


def name_key(model_id: str) -> str:
    return model_id.lower()


# --- rows and messages ----------------------------------------------------------------------


def model_row(aggregate: ModelAggregate) -> dict[str, Any]:
    model = aggregate.model
    return {
        "uid": aggregate.uid,
        "model_id": model.model_id,
        "name_key": name_key(model.model_id),
        "description": model.description,
        "owner": model.owner,
        "team": model.team,
        "risk_tier": model.risk_tier,
        "task_type": model.task_type,
        "state": model.state,
        "tags": dict(sorted(model.tags.items())),
        "aliases": dict(sorted(aggregate.aliases.items())),
        "latest_version": model.latest_version,
        "production_version": aggregate.production_version,
        "stream_version": aggregate.stream_version,
        "create_time": from_timestamp(model.create_time),
        "update_time": from_timestamp(model.update_time),
    }


def _metrics_map(version: res.ModelVersion) -> dict[str, float]:
    values: dict[str, float] = {}
    for metric in version.metrics:
        values.setdefault(metric.name, metric.value)
        if metric.dataset_split:
            values[f"{metric.name}@{metric.dataset_split}"] = metric.value
    return dict(sorted(values.items()))


def version_row(model_uid: str, version: res.ModelVersion) -> dict[str, Any]:
    return {
        "model_uid": model_uid,
        "version": version.version,
        "stage": version.stage,
        "pending_stage": version.pending_stage,
        "description": version.description,
        "created_by": version.created_by,
        "artifact_sha256": version.artifact.sha256,
        "artifact_format": version.artifact.format,
        "training_dataset_sha256": version.lineage.training_dataset.sha256,
        "tags": dict(sorted(version.tags.items())),
        "metrics": _metrics_map(version),
        "hyperparameters": dict(sorted(version.hyperparameters.items())),
        "create_time": from_timestamp(version.create_time),
        "update_time": from_timestamp(version.update_time),
        "body": version.SerializeToString(deterministic=True),
    }


def model_message(row: Mapping[str, Any]) -> res.Model:
    model = res.Model(
        name=model_name(row["model_id"]),
        uid=row["uid"],
        model_id=row["model_id"],
        description=row["description"],
        owner=row["owner"],
        team=row["team"],
        risk_tier=row["risk_tier"],
        task_type=row["task_type"],
        tags=row["tags"],
        state=row["state"],
        etag=f'"{row["stream_version"]}"',
        latest_version=row["latest_version"],
        aliases=row["aliases"],
    )
    model.create_time.CopyFrom(to_timestamp(row["create_time"]))
    model.update_time.CopyFrom(to_timestamp(row["update_time"]))
    return model


def version_message(model_id: str, body: bytes) -> res.ModelVersion:
    version = res.ModelVersion()
    version.ParseFromString(body)
    version.name = version_name(model_id, version.version)
    return version


def aggregate_from_row(row: Mapping[str, Any]) -> ModelAggregate:
    model = model_message(row)
    model.ClearField("name")
    model.ClearField("etag")
    model.ClearField("aliases")
    return ModelAggregate(
        uid=row["uid"],
        model=model,
        stream_version=row["stream_version"],
        aliases=dict(row["aliases"]),
        production_version=row["production_version"],
        stored=True,
    )


# --- loading and saving aggregates ----------------------------------------------------------


_MODEL_BY_UID = sa.select(models_table).where(models_table.c.uid == sa.bindparam("uid"))
_MODEL_BY_ID = sa.select(models_table).where(models_table.c.model_id == sa.bindparam("model_id"))
_MODEL_BY_UID_FOR_UPDATE = _MODEL_BY_UID.with_for_update()
_MODEL_BY_ID_FOR_UPDATE = _MODEL_BY_ID.with_for_update()


async def load_aggregate(
    connection: AsyncConnection,
    *,
    model_id: str | None = None,
    uid: str | None = None,
    versions: Iterable[int] = (),
    for_update: bool = True,
) -> ModelAggregate | None:
    """Load a model by exact model_id or uid with the given versions, locking its row.

    The row lock (PostgreSQL) makes writers of one model take turns, so they do not all
    compute the same next version and retry; the event log's unique key stays the final check.
    """
    if uid is not None:
        query = _MODEL_BY_UID_FOR_UPDATE if for_update else _MODEL_BY_UID
        parameters = {"uid": uid}
    else:
        query = _MODEL_BY_ID_FOR_UPDATE if for_update else _MODEL_BY_ID
        parameters = {"model_id": model_id}
    row = (await connection.execute(query, parameters)).mappings().first()
    if row is None:
        return None
    aggregate = aggregate_from_row(row)
    wanted = sorted({number for number in versions if number > 0})
    if wanted:
        await load_versions(connection, aggregate, wanted)
    return aggregate


async def load_aggregates(connection: AsyncConnection, model_ids: Iterable[str]) -> dict[str, ModelAggregate]:
    """Load and lock the models with these exact model_ids, without versions, by model_id.

    Rows are locked in uid order, so two of these loads over overlapping models take the row
    locks in the same order and neither holds a row the other waits for.
    """
    result = await connection.execute(_models_for_update(connection.dialect.name), {"model_ids": sorted(set(model_ids))})
    return {row["model_id"]: aggregate_from_row(row) for row in result.mappings()}


@functools.cache
def _models_for_update(dialect: str) -> sa.Select[Any]:
    return (
        sa.select(models_table)
        .where(is_among(dialect, models_table.c.model_id, "model_ids"))
        .order_by(models_table.c.uid)
        .with_for_update()
    )


async def load_versions(connection: AsyncConnection, aggregate: ModelAggregate, numbers: Sequence[int]) -> None:
    result = await connection.execute(
        sa.select(versions_table.c.version, versions_table.c.body).where(
            versions_table.c.model_uid == aggregate.uid, versions_table.c.version.in_(numbers)
        )
    )
    for number, body in result:
        version = res.ModelVersion()
        version.ParseFromString(body)
        aggregate.versions[number] = version
        aggregate.stored_versions.add(number)


async def uid_for_name(connection: AsyncConnection, model_id: str) -> str | None:
    """Return the uid of the model whose name equals `model_id` regardless of case."""
    return await connection.scalar(sa.select(models_table.c.uid).where(models_table.c.name_key == name_key(model_id)))


# Statements built once: parameters go to execute(), so SQLAlchemy compiles each only once.
_INSERT_MODEL = models_table.insert()
_UPDATE_MODEL = models_table.update().where(models_table.c.uid == sa.bindparam("key_uid"))
_INSERT_VERSION = versions_table.insert()
_UPDATE_VERSION = versions_table.update().where(
    versions_table.c.model_uid == sa.bindparam("key_model_uid"), versions_table.c.version == sa.bindparam("key_version")
)


async def save_aggregates(connection: AsyncConnection, aggregates: Sequence[ModelAggregate]) -> None:
    """Write the model rows and every touched version and alias of these aggregates, with one
    statement per kind of change."""
    inserted_models, updated_models, inserted_versions, updated_versions = [], [], [], []
    for aggregate in aggregates:
        row = model_row(aggregate)
        if aggregate.stored:
            updated_models.append({**row, "key_uid": aggregate.uid})
        else:
            inserted_models.append(row)
            aggregate.stored = True
        for number in sorted(aggregate.touched_versions):
            values = version_row(aggregate.uid, aggregate.versions[number])
            if number in aggregate.stored_versions:
                updated_versions.append({**values, "key_model_uid": aggregate.uid, "key_version": number})
            else:
                inserted_versions.append(values)
                aggregate.stored_versions.add(number)
        aggregate.touched_versions.clear()
    for statement, rows in (
        (_INSERT_MODEL, inserted_models), (_UPDATE_MODEL, updated_models),
        (_INSERT_VERSION, inserted_versions), (_UPDATE_VERSION, updated_versions),
    ):
        if rows:
            await connection.execute(statement, rows)
    for aggregate in aggregates:
        if aggregate.aliases_touched:
            await connection.execute(aliases_table.delete().where(aliases_table.c.model_uid == aggregate.uid))
            if aggregate.aliases:
                await connection.execute(
                    aliases_table.insert(),
                    [{"model_uid": aggregate.uid, "alias": alias, "version": number} for alias, number in aggregate.aliases.items()],
                )
            aggregate.aliases_touched = False


# --- queries --------------------------------------------------------------------------------


async def get_model_row(connection: AsyncConnection, model_id: str) -> Mapping[str, Any] | None:
    result = await connection.execute(sa.select(models_table).where(models_table.c.model_id == model_id))
    return result.mappings().first()


async def get_version_body(connection: AsyncConnection, model_id: str, number: int) -> tuple[str, bytes] | None:
    """Return the model's uid and the version's body, or None when either does not exist."""
    result = await connection.execute(
        sa.select(models_table.c.uid, versions_table.c.body)
        .select_from(models_table.outerjoin(
            versions_table,
            sa.and_(versions_table.c.model_uid == models_table.c.uid, versions_table.c.version == number),
        ))
        .where(models_table.c.model_id == model_id)
    )
    row = result.first()
    if row is None:
        return None
    return row[0], row[1]


RESOLVE_ALIAS = (
    sa.select(models_table.c.state, models_table.c.uid, versions_table.c.body)
    .select_from(
        models_table.outerjoin(
            aliases_table,
            sa.and_(aliases_table.c.model_uid == models_table.c.uid, aliases_table.c.alias == sa.bindparam("alias")),
        ).outerjoin(
            versions_table,
            sa.and_(versions_table.c.model_uid == models_table.c.uid, versions_table.c.version == aliases_table.c.version),
        )
    )
    .where(models_table.c.model_id == sa.bindparam("model_id"))
)


async def resolve_alias(connection: AsyncConnection, model_id: str, alias: str) -> tuple[int, str, bytes | None] | None:
    """Return (model state, model uid, version body or None) or None when the model does not exist."""
    row = (await connection.execute(RESOLVE_ALIAS, {"model_id": model_id, "alias": alias})).first()
    if row is None:
        return None
    return row[0], str(row[1]), row[2]
