"""Which event streams an audit export selects by model and team, for the AuditService."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common.errors import NotFound
from modelward_registry.adapters.schema import models_table


async def model_streams(connection: AsyncConnection, model_id: str, team: str) -> Sequence[str]:
    """Return the stream ids (model uids) of the model named `model_id` and/or of `team`'s models."""
    query = sa.select(models_table.c.uid)
    if model_id:
        query = query.where(models_table.c.model_id == model_id)
    if team:
        query = query.where(models_table.c.team == team)
    uids = list((await connection.execute(query)).scalars())
    if model_id and not uids and not team:
        raise NotFound(f"model models/{model_id} not found; check the name with ListModels", field="model")
    return uids
