"""Failures at commit surface as ABORTED or UNAVAILABLE, and the connection pool recovers."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc
import pytest

from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from tests.support.builders import new_model, new_version
from tests.support.registry import registry_config, running_registry

# A deferred constraint trigger runs at COMMIT, so the failure happens after every statement
# of the command succeeded: exactly the moment a serialization failure or a lost connection
# would strike.
_FAIL_AT_COMMIT = """
CREATE TABLE commit_failure (mode text NOT NULL);
CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE chosen text;
BEGIN
  SELECT mode INTO chosen FROM commit_failure LIMIT 1;
  IF chosen = 'serialization' THEN
    RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = '40001';
  ELSIF chosen = 'disconnect' THEN
    PERFORM pg_terminate_backend(pg_backend_pid());
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER fail_commit AFTER INSERT ON events
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit();
"""


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("serialization", grpc.StatusCode.ABORTED), ("disconnect", grpc.StatusCode.UNAVAILABLE)],
)
async def test_commit_failure_status_and_recovery(fresh_pg_url, nats_server, nats_prefix, nats_client, mode, expected) -> None:
    database_url = fresh_pg_url()
    config = registry_config(database_url, nats_server.url, nats_prefix)
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("fragile"))
        admin = await asyncpg.connect(_asyncpg_dsn(database_url))
        await admin.execute(_FAIL_AT_COMMIT)
        await admin.execute("INSERT INTO commit_failure VALUES ($1)", mode)

        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await registry.stub.CreateModelVersion(new_version("fragile", seed="lost"))
        assert failed.value.code() == expected
        assert "retry" in failed.value.details()

        await admin.execute("DELETE FROM commit_failure")
        history = await registry.stub.GetModelHistory(rpc.GetModelHistoryRequest(name="models/fragile"))
        assert [entry.type for entry in history.entries] == ["ModelCreated"]
        for seed in range(12):
            created = await registry.stub.CreateModelVersion(new_version("fragile", seed=f"ok{seed}"))
            assert created.version == seed + 1
        await admin.close()

        # The relay publishes the committed events only: the failed commit's events are never
        # handed to it, and its read of the outbox does not find them.
        stream = config.stream_name
        deadline = asyncio.get_running_loop().time() + 20
        while (await nats_client.jetstream().stream_info(stream)).state.messages < 13:
            assert asyncio.get_running_loop().time() < deadline, "the 13 committed events reach the stream"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert (await nats_client.jetstream().stream_info(stream)).state.messages == 13
