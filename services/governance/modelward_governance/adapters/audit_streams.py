"""Which event streams an audit export selects by model and team, for the AuditService."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from modelward_common.errors import NotFound
from modelward_governance.adapters.schema import portfolio_table


async def model_streams(connection: AsyncConnection, model_id: str, team: str) -> Sequence[str]:
    """Return the stream ids (registry model uids) of the model `model_id` and/or of `team`'s models.

    Governance's events about a model are in a stream named by the model's uid; its policy and
    principal streams belong to no model and are left out.
    """
    query = sa.select(portfolio_table.c.uid)
    if model_id:
        query = query.where(portfolio_table.c.model_id == model_id)
    if team:
        query = query.where(portfolio_table.c.team == team)
    uids = list((await connection.execute(query)).scalars())
    if model_id and not uids and not team:
        raise NotFound(f"model models/{model_id} is not in governance's portfolio; check the name", field="model")
    return uids
