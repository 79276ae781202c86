"""The registry's copy of principal states: newest stream version wins, bad events raise.

Runs `apply_principal_event` on a migrated registry database, on PostgreSQL and on SQLite.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from modelward_common.cloudevents import ReceivedEvent
from modelward_common.db import create_engine
from modelward_common.timeutil import utc_now
from modelward_protos.events.v1 import governance_events_pb2 as gov
from modelward_registry.adapters.schema import principal_states_table
from modelward_registry.bootstrap import prepare_database
from modelward_registry.service_layer.principals import INACTIVE_PRINCIPALS, apply_principal_event

LEAVER = "user:lea@example.com"


def principal_event(active: bool, version: int, principal: str = LEAVER) -> ReceivedEvent:
    message = gov.PrincipalReactivated if active else gov.PrincipalDeactivated
    payload = message(principal=principal, reason=f"change {version}", changed_by="user:root@example.com")
    return ReceivedEvent(
        event_id=str(uuid.uuid4()), type=message.DESCRIPTOR.name, source="urn:modelward:governance",
        subject=f"principals/{principal}", time=utc_now(), stream_id=f"principals/{principal}",
        stream_version=version, position=version, actor="user:root@example.com", correlation_id="",
        causation_id="", traceparent="", payload=payload.SerializeToString(),
    )


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    await prepare_database(engine)
    yield engine
    await engine.dispose()


async def apply(engine, event: ReceivedEvent) -> bool:
    async with engine.begin() as connection:
        return await apply_principal_event(connection, event)


async def inactive(engine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.scalars(INACTIVE_PRINCIPALS)).all())


async def test_newest_version_wins(engine) -> None:
    assert await apply(engine, principal_event(False, 1))
    assert await inactive(engine) == [LEAVER]

    assert await apply(engine, principal_event(True, 2))
    assert await inactive(engine) == []

    # A redelivered deactivation from before the reactivation changes nothing.
    assert not await apply(engine, principal_event(False, 1))
    assert await inactive(engine) == []
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(principal_states_table))).mappings().one()
    assert row["stream_version"] == 2
    assert row["active"]
    assert row["reason"] == "change 2"
    assert row["changed_by"] == "user:root@example.com"


async def test_same_version_applies_once(engine) -> None:
    first = principal_event(False, 1)
    assert await apply(engine, first)
    assert not await apply(engine, first)
    assert await inactive(engine) == [LEAVER]


async def test_invalid_principal_raises_and_writes_nothing(engine) -> None:
    with pytest.raises(ValueError, match="names principal 'not a principal'"):
        await apply(engine, principal_event(False, 1, principal="not a principal"))
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(principal_states_table))).all() == []
