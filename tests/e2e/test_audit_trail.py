"""The audit hash chain of both services: verification finds altered, deleted and reordered
events on both backends, old rows get chained by the migration, and exports verify offline."""

from __future__ import annotations

import contextlib
import datetime
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from modelward_cli.main import main as cli_main
from modelward_common.audit_export import verify_export
from modelward_common.db import create_engine
from modelward_common.migrations import migrate
from modelward_common.timeutil import to_timestamp
from modelward_governance.adapters.schema import MIGRATIONS as GOVERNANCE_MIGRATIONS
from modelward_protos.audit.v1 import audit_service_pb2 as audit
from modelward_protos.audit.v1 import audit_service_pb2_grpc as audit_grpc
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_registry.adapters.schema import MIGRATIONS as REGISTRY_MIGRATIONS
from tests.support.builders import new_model, new_version
from tests.support.governance import governance_config, running_governance
from tests.support.registry import registry_config, running_registry

Tamper = Callable[[sa.Connection, list[int]], int]


def _alter(connection: sa.Connection, positions: list[int]) -> int:
    target = positions[2]
    connection.execute(sa.text("UPDATE events SET actor = 'user:mallory@example.com' WHERE position = :p"), {"p": target})
    return target


def _delete(connection: sa.Connection, positions: list[int]) -> int:
    connection.execute(sa.text("DELETE FROM events WHERE position = :p"), {"p": positions[2]})
    return positions[3]


def _reorder(connection: sa.Connection, positions: list[int]) -> int:
    first, second = positions[2], positions[3]
    swap = sa.text("UPDATE events SET position = :new WHERE position = :old")
    connection.execute(swap, {"old": first, "new": -1})
    connection.execute(swap, {"old": second, "new": first})
    connection.execute(swap, {"old": -1, "new": second})
    return first


TAMPERING = {
    "alter": (_alter, audit.MISMATCH_KIND_HASH),
    "delete": (_delete, audit.MISMATCH_KIND_MISSING_POSITION),
    "reorder": (_reorder, audit.MISMATCH_KIND_REORDERED),
}


async def _tamper(database_url: str, tamper: Tamper) -> tuple[int, str]:
    """Apply `tamper` straight to the database; return the position and event id to be named."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            rows = (await connection.execute(sa.text("SELECT position, event_id FROM events ORDER BY position"))).all()
            positions = [int(row.position) for row in rows]
            target = await connection.run_sync(lambda sync: tamper(sync, positions))
            event_id = await connection.scalar(sa.text("SELECT event_id FROM events WHERE position = :p"), {"p": target})
    finally:
        await engine.dispose()
    return target, str(event_id)


def _normal_uuid(value: str) -> str:
    return str(uuid.UUID(value))


async def _registry_events(stub) -> None:
    await stub.CreateModel(new_model("churn"))
    for seed in ("one", "two", "three", "four"):
        await stub.CreateModelVersion(new_version("churn", seed=seed))


async def _governance_events(stub) -> None:
    for number in range(5):
        await stub.SetPrincipalActive(gov.SetPrincipalActiveRequest(
            principal=f"user:person{number}@example.com", active=False, reason="left the company"))


@contextlib.asynccontextmanager
async def _running(service: str, database_url: str, nats_url: str, prefix: str, **overrides: object) -> AsyncIterator[audit_grpc.AuditServiceStub]:
    if service == "registry":
        async with running_registry(registry_config(database_url, nats_url, prefix, run_relay=False, **overrides)) as registry:
            await _registry_events(registry.stub)
            yield audit_grpc.AuditServiceStub(registry.channel)
    else:
        config = governance_config(database_url, nats_url, prefix, "127.0.0.1:1", run_relay=False, run_consumer=False,
                                   sweep_interval=0, **overrides)
        async with running_governance(config) as governance:
            await _governance_events(governance.stub)
            yield audit_grpc.AuditServiceStub(governance.channel)


@pytest.mark.parametrize("service", ["registry", "governance"])
@pytest.mark.parametrize("tampering", sorted(TAMPERING))
async def test_verify_names_tampered_event(service, tampering, database_url, nats_server, nats_prefix) -> None:
    tamper, kind = TAMPERING[tampering]
    async with _running(service, database_url, nats_server.url, nats_prefix) as stub:
        before = await stub.VerifyAuditLog(audit.VerifyAuditLogRequest())
        assert before.intact, before.first_mismatch.description
        assert before.events_checked >= 5

        position, event_id = await _tamper(database_url, tamper)
        after = await stub.VerifyAuditLog(audit.VerifyAuditLogRequest())

    assert not after.intact
    mismatch = after.first_mismatch
    assert mismatch.kind == kind, mismatch.description
    assert mismatch.position == position
    assert mismatch.event_id == _normal_uuid(event_id)
    assert event_id.replace("-", "") in mismatch.description.replace("-", "")
    assert mismatch.stream_id


@pytest.mark.parametrize(("service", "migrations"), [("registry", REGISTRY_MIGRATIONS), ("governance", GOVERNANCE_MIGRATIONS)])
async def test_migration_chains_existing_events(service, migrations, database_url, nats_server, nats_prefix) -> None:
    recorded_at = datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
    engine = create_engine(database_url)
    try:
        await migrate(engine, [step for step in migrations if step.version < 3], prefix=f"{service}_")
        async with engine.begin() as connection:
            for number in range(1, 4):
                await connection.execute(sa.text(
                    "INSERT INTO events (event_id, stream_id, stream_version, type, payload, subject, actor, reason, "
                    "correlation_id, causation_id, traceparent, recorded_at) VALUES (:id, 'legacy', :v, 'LegacyEvent', "
                    ":payload, 'models/legacy', 'user:old@example.com', '', '', '', '', :at)"
                ), {"id": f"00000000-0000-4000-8000-00000000000{number}", "v": number, "payload": b"\x01\x02",
                    "at": recorded_at if database_url.startswith("postgresql") else "2024-01-02 03:04:05.000006"})
    finally:
        await engine.dispose()

    async with _running(service, database_url, nats_server.url, nats_prefix) as stub:
        report = await stub.VerifyAuditLog(audit.VerifyAuditLogRequest())
        assert report.intact, report.first_mismatch.description
        assert report.events_checked >= 3 + 5


async def _export(stub: audit_grpc.AuditServiceStub, request: audit.ExportAuditLogRequest) -> list[str]:
    lines: list[str] = []
    async for response in stub.ExportAuditLog(request):
        lines.extend(response.lines)
    return lines


def _key_pair(tmp_path: Path) -> tuple[Path, Ed25519PublicKey]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "audit-signing.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path, key.public_key()


@pytest.mark.parametrize("service", ["registry", "governance"])
async def test_signed_export_verifies_offline(service, fresh_sqlite_url, nats_server, nats_prefix, tmp_path) -> None:
    key_file, public_key = _key_pair(tmp_path)
    async with _running(service, fresh_sqlite_url(), nats_server.url, nats_prefix, audit_signing_key_file=str(key_file)) as stub:
        lines = await _export(stub, audit.ExportAuditLogRequest())
        head = await stub.VerifyAuditLog(audit.VerifyAuditLogRequest())

    check = verify_export(lines, public_key)
    assert check.valid, check.problem
    assert check.signed
    manifest = json.loads(lines[-1])["manifest"]
    assert manifest["count"] == len(lines) - 1 == head.events_checked
    assert manifest["last_hash"] == head.last_hash
    assert manifest["service"] == service

    altered_event = list(lines)
    record = json.loads(altered_event[1])
    record["actor"] = "user:mallory@example.com"
    altered_event[1] = json.dumps(record)
    check = verify_export(altered_event, public_key)
    assert check.problem.startswith("line 2: ")
    assert record["event_id"] in check.problem

    altered_manifest = list(lines)
    document = json.loads(altered_manifest[-1])
    document["manifest"]["filters"]["team"] = "someone-else"
    altered_manifest[-1] = json.dumps(document)
    check = verify_export(altered_manifest, public_key)
    assert check.problem.startswith(f"line {len(lines)}: the manifest signature does not match")

    dropped = lines[:2] + lines[3:]
    check = verify_export(dropped, public_key)
    assert check.problem.startswith("line 3: ")
    assert "events are missing" in check.problem

    truncated = lines[:-1]
    assert "manifest line is missing" in verify_export(truncated, public_key).problem

    other_key = Ed25519PrivateKey.generate().public_key()
    assert "signature does not match" in verify_export(lines, other_key).problem

    public_file = tmp_path / "audit-signing.pub"
    public_file.write_bytes(public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    export_file, tampered_file = tmp_path / "export.jsonl", tmp_path / "tampered.jsonl"
    export_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tampered_file.write_text("".join(line + "\n" for line in altered_event), encoding="utf-8")
    assert cli_main(["audit", "verify-export", str(export_file), "--public-key", str(public_file)]) == 0
    assert cli_main(["audit", "verify-export", str(tampered_file), "--public-key", str(public_file)]) == 3


async def test_export_filters_by_model_team_and_time(fresh_sqlite_url, nats_server, nats_prefix) -> None:
    config = registry_config(fresh_sqlite_url(), nats_server.url, nats_prefix, run_relay=False)
    async with running_registry(config) as registry:
        await registry.stub.CreateModel(new_model("churn"))
        await registry.stub.CreateModel(new_model("fraud", team="risk"))
        await registry.stub.CreateModelVersion(new_version("churn"))
        await registry.stub.CreateModelVersion(new_version("fraud"))
        stub = audit_grpc.AuditServiceStub(registry.channel)

        churn = await _export(stub, audit.ExportAuditLogRequest(model="models/churn"))
        team = await _export(stub, audit.ExportAuditLogRequest(team="risk"))
        everything = await _export(stub, audit.ExportAuditLogRequest())
        now = datetime.datetime.now(datetime.UTC)
        recent = await _export(stub, audit.ExportAuditLogRequest(
            start_time=to_timestamp(now - datetime.timedelta(hours=1)), end_time=to_timestamp(now + datetime.timedelta(hours=1))))
        old = await _export(stub, audit.ExportAuditLogRequest(end_time=to_timestamp(now - datetime.timedelta(hours=1))))
        with pytest.raises(grpc.aio.AioRpcError) as backwards:
            await _export(stub, audit.ExportAuditLogRequest(start_time=to_timestamp(now), end_time=to_timestamp(now)))
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await _export(stub, audit.ExportAuditLogRequest(model="models/nothing"))
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await _export(stub, audit.ExportAuditLogRequest(model="churn"))

    assert [json.loads(line)["type"] for line in churn[:-1]] == ["ModelCreated", "ModelVersionCreated"]
    assert all(json.loads(line)["subject"].startswith("models/fraud") for line in team[:-1])
    assert len(team) == 3
    assert len(everything) == 5
    for lines in (churn, team, everything):
        check = verify_export(lines, None)
        assert check.valid, check.problem
        assert not check.signed
    assert json.loads(churn[-1])["manifest"]["filters"]["model"] == "models/churn"
    assert len(recent) == 5
    assert verify_export(recent, None).valid
    assert len(old) == 1
    assert json.loads(old[-1])["manifest"]["count"] == 0
    assert backwards.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "end_time" in backwards.value.details()
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "models/{model}" in invalid.value.details()

    gap = everything[:1] + everything[2:]
    document = json.loads(gap[-1])
    assert document["manifest"]["filters"]["model"] == ""
    assert "line 2:" in verify_export(gap, None).problem
