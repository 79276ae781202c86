import nats
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine


async def test_database_url_accepts_a_query(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        assert (await connection.execute(sa.text("select 1"))).scalar() == 1
    await engine.dispose()


async def test_nats_server_has_jetstream(nats_server) -> None:
    client = await nats.connect(nats_server.url)
    info = await client.jetstream().account_info()
    assert info is not None
    await client.close()
