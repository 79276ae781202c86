"""The modelward CLI against both services: exit codes, JSON output and pt-BR reports."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from modelward_cli.main import main
from modelward_common.auth.client import bearer_token
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from modelward_protos.governance.v1 import governance_service_pb2_grpc as gov_grpc
from tests.support.sdk_stack import sdk_stack

AUTHOR = "user:ana@example.com"


@pytest.fixture(scope="module")
async def stack(fresh_pg_url, nats_server):
    async with sdk_stack(fresh_pg_url, nats_server.url, [(AUTHOR, "contributor")]) as running:
        yield running


async def run_cli(stack, capsys, *argv: str, principal: str | None = AUTHOR) -> tuple[int, str, str]:
    """Run `modelward ARGV` against the stack off the event loop; return exit code, stdout, stderr.

    The call authenticates as `principal`, or as the bootstrap admin when it is None.
    """
    connection = ["--registry", stack.registry, "--governance", stack.governance]
    token = stack.token(principal)
    if token:
        connection += ["--token", token]
    try:
        code = await asyncio.to_thread(main, [*argv, *connection])
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def run_cli_until(stack, capsys, expected: str, *argv: str) -> tuple[int, str]:
    """Rerun `modelward ARGV` until its output contains `expected` or 20 s pass; return the last exit code and output."""
    deadline = time.monotonic() + 20
    while True:
        code, out, _ = await run_cli(stack, capsys, *argv)
        if expected in out or time.monotonic() > deadline:
            return code, out
        await asyncio.sleep(0.2)


async def test_model_commands_and_json(stack, capsys) -> None:
    code, out, _ = await run_cli(stack, capsys, "models", "create", "cli-fraud", "--owner", "team:fraud",
                                 "--team", "fraud", "--risk-tier", "high", "--task-type", "binary_classification",
                                 "--description", "fraud score", "--tag", "domain=payments", "--output", "json")
    assert code == 0
    created = json.loads(out)
    assert created["name"] == "models/cli-fraud"
    assert created["risk_tier"] == "RISK_TIER_HIGH"

    code, out, _ = await run_cli(stack, capsys, "models", "list", "--output", "json")
    assert code == 0
    assert [model["model_id"] for model in json.loads(out)] == ["cli-fraud"]

    code, out, _ = await run_cli(stack, capsys, "models", "get", "cli-fraud")
    assert code == 0
    assert "team:fraud" in out
    assert "high" in out


async def test_version_from_yaml_file(stack, capsys, tmp_path: Path) -> None:
    await run_cli(stack, capsys, "models", "create", "cli-churn", "--owner", "team:growth")
    spec = tmp_path / "version.yaml"
    spec.write_text(
        "description: gradient boosting\n"
        "artifact: {uri: 's3://models/churn.onnx', sha256: '" + "ef" * 32 + "', format: onnx}\n"
        "metrics: [{name: auc, value: 0.84, dataset_split: test}]\n"
        "feature_names: [tenure, plan]\n",
        encoding="utf-8",
    )
    code, out, _ = await run_cli(stack, capsys, "versions", "create", "cli-churn", "--file", str(spec),
                                 "--param", "depth=6", "--output", "json")
    assert code == 0
    version = json.loads(out)
    assert version["name"] == "models/cli-churn/versions/1"
    assert version["hyperparameters"] == {"depth": "6"}
    assert version["metrics"][0]["name"] == "auc"

    code, out, _ = await run_cli(stack, capsys, "aliases", "set", "models/cli-churn/versions/1", "champion")
    assert code == 0
    code, out, _ = await run_cli(stack, capsys, "aliases", "resolve", "cli-churn", "champion", "--output", "json")
    assert json.loads(out)["version"] == "1"


async def test_version_shows_lineage(stack, capsys, tmp_path: Path) -> None:
    await run_cli(stack, capsys, "models", "create", "cli-lineage", "--owner", "team:growth")
    code, _, err = await run_cli(
        stack, capsys, "versions", "create", "cli-lineage", "--artifact-uri", "s3://models/lineage.onnx",
        "--artifact-sha256", "cd" * 32, "--training-data-uri", "s3://data/train.parquet",
        "--code-repository", "https://git.example.com/churn", "--code-commit", "ab" * 20,
    )
    assert code == 0, err

    code, out, _ = await run_cli(stack, capsys, "versions", "get", "cli-lineage", "1")
    assert code == 0
    lines = {line.split("  ", 1)[0]: line.split("  ", 1)[1].strip() for line in out.splitlines() if "  " in line}
    assert lines["training data"] == "s3://data/train.parquet"
    assert lines["evaluation data"] == "-"
    assert lines["code repository"] == "https://git.example.com/churn"
    assert lines["code commit"] == "ab" * 20

    data = tmp_path / "train.csv"
    data.write_text("tenure,plan\n3,basic\n", encoding="utf-8")
    code, out, err = await run_cli(
        stack, capsys, "versions", "create", "cli-lineage", "--artifact-uri", "s3://models/lineage-2.onnx",
        "--artifact-sha256", "ce" * 32, "--training-data-file", str(data),
    )
    assert code == 0, err
    assert f"{data.resolve().as_uri()} sha256:" in out


async def test_errors_map_to_exit_codes(stack, capsys, tmp_path: Path, monkeypatch) -> None:
    code, _, err = await run_cli(stack, capsys, "models", "get", "cli-missing")
    assert code == 3
    assert "NOT_FOUND" in err
    assert "cli-missing" in err

    code, _, err = await run_cli(stack, capsys, "models", "create", "bad name!")
    assert code == 4
    assert "model_id" in err

    await run_cli(stack, capsys, "models", "create", "cli-twice")
    code, _, err = await run_cli(stack, capsys, "models", "create", "cli-twice")
    assert code == 6
    assert "ALREADY_EXISTS" in err

    code, _, err = await run_cli(stack, capsys, "models", "create")
    assert code == 2

    bad_policy = tmp_path / "policy.yaml"
    bad_policy.write_text("format_version: 1\nname: broken\nrules:\n  - id: x\n    kind: nonsense\n", encoding="utf-8")
    code, out, _ = await run_cli(stack, capsys, "policy", "validate", str(bad_policy))
    assert code == 4
    assert "line" in out

    monkeypatch.setenv("MODELWARD_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("MODELWARD_REGISTRY", raising=False)
    code = await asyncio.to_thread(main, ["models", "list"])
    err = capsys.readouterr().err
    assert code == 7
    assert "MODELWARD_REGISTRY" in err


async def test_check_deployment_blocked_exit_code(stack, capsys) -> None:
    await run_cli(stack, capsys, "models", "create", "cli-serving", "--owner", "team:serving")
    await run_cli(stack, capsys, "versions", "create", "cli-serving", "--artifact-uri", "s3://m/1.onnx",
                  "--artifact-sha256", "aa" * 32)
    deadline = time.monotonic() + 20
    while True:
        code, out, err = await run_cli(stack, capsys, "check-deployment", "cli-serving", "--version", "1",
                                       "--output", "json")
        if code != 3 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert code == 6
    decision = json.loads(out)
    assert decision.get("allowed", False) is False
    assert any(reason["code"] == "DENIAL_CODE_NOT_IN_PRODUCTION" for reason in decision["reasons"])


async def test_portfolio_and_compliance_in_pt_br(stack, capsys) -> None:
    await run_cli(stack, capsys, "models", "create", "cli-credito", "--owner", "team:credito",
                  "--risk-tier", "medium", "--description", "score de crédito")
    code, out = await run_cli_until(stack, capsys, "cli-credito", "portfolio", "--lang", "pt-BR")
    assert code == 0
    assert "Portfólio de modelos" in out
    assert "Nível de risco" in out
    assert "Conforme" in out
    assert "médio" in out
    assert re.search(r"Gerado em: \d{2}/\d{2}/\d{4} \d{2}:\d{2} UTC", out)
    assert re.search(r"Modelos conformes: \d+ \(\d+,\d %\)", out)
    assert "Owner" not in out

    code, out, _ = await run_cli(stack, capsys, "compliance", "cli-credito", "--lang", "pt-BR")
    assert code == 0
    assert "Conformidade de cli-credito" in out
    assert "Regra" in out
    assert "modelo" in out
    assert re.search(r"\b(atendida|não atendida|não se aplica)\b", out)
    assert "aprovada" not in out
    assert "Versão da política:" in out
    # Reasons too: the owner rule passes and the model lacks required metadata.
    assert "o responsável é team:credito" in out
    assert "o modelo não tem os campos team e task_type nem a tag domain" in out
    assert "is missing" not in out
    assert "Achados abertos além das regras da política: nenhum" in out

    code, out, _ = await run_cli(stack, capsys, "compliance", "cli-credito")
    assert code == 0
    assert "the model is missing fields team, task_type and tags domain" in out
    assert "Open findings besides the policy rules: none" in out

    code, out = await run_cli_until(stack, capsys, "model-metadata", "findings", "--model", "cli-credito", "--lang", "pt-BR")
    assert code == 0
    assert "violação de política" in out
    assert "o modelo não tem os campos team e task_type nem a tag domain" in out
    assert "is missing" not in out

    code, out, _ = await run_cli(stack, capsys, "portfolio", "--output", "json")
    assert code == 0
    assert "models/cli-credito" in {entry["model"] for entry in json.loads(out)}


async def test_dead_letter_list_and_retry(stack, capsys, caplog, nats_server) -> None:
    """An event governance cannot read is parked; the CLI lists it and reports a failed retry."""
    import uuid

    import nats

    event_id = str(uuid.uuid4())
    headers = {
        "Nats-Msg-Id": event_id, "ce-id": event_id, "ce-specversion": "1.0", "ce-source": "urn:modelward:registry",
        "ce-type": "modelward.registry.v1.ModelTagsSet", "ce-subject": "models/unreadable",
        "ce-time": "2026-12-04T10:00:00Z", "ce-datacontenttype": "application/protobuf",
        "ce-streamid": str(uuid.uuid4()), "ce-streamversion": "1", "ce-position": "1", "ce-actor": AUTHOR,
    }
    client = await nats.connect(nats_server.url)
    try:
        await client.jetstream().publish(
            f"{stack.prefix}.registry.v1.ModelTagsSet", b"\xff\xff not protobuf", headers=headers,
        )
    finally:
        await client.close()

    parked: list[dict] = []
    deadline = time.monotonic() + 60
    while not parked and time.monotonic() < deadline:
        code, out, _ = await run_cli(stack, capsys, "dead-letters", "list", "--state", "parked", "--output", "json",
                                     principal=None)
        assert code == 0
        parked = [letter for letter in json.loads(out) if letter["event_id"] == event_id]
        await asyncio.sleep(0.5)
    assert parked, "governance did not park the unreadable event within 60 s"
    assert parked[0]["attempts"] >= 1

    code, out, _ = await run_cli(stack, capsys, "dead-letters", "list", principal=None)
    assert code == 0
    assert parked[0]["name"] in out
    async with grpc.aio.insecure_channel(stack.governance, interceptors=bearer_token(stack.admin_token)) as channel:
        listed = await gov_grpc.GovernanceServiceStub(channel).ListDeadLetters(gov.ListDeadLettersRequest())
    assert listed.total_size == len(listed.dead_letters) == 1

    with caplog.at_level(logging.INFO, logger="modelward_governance.entrypoints.grpc_service"):
        code, _, err = await run_cli(stack, capsys, "dead-letters", "retry", parked[0]["name"],
                                     "--reason", "parser fixed", principal=None)
    letter_id = parked[0]["name"].rsplit("/", 1)[-1]
    assert f"dead letter {letter_id}: retry by service:bootstrap-admin, reason 'parser fixed'" in caplog.text
    assert code == 6
    assert "failed again" in err
    assert event_id in err


async def test_principal_deactivation_from_cli(stack, capsys) -> None:
    code, out, _ = await run_cli(stack, capsys, "principals", "deactivate", "user:left@example.com",
                                 "--reason", "left the company", "--output", "json", principal=None)
    assert code == 0
    assert json.loads(out)["principal"] == "user:left@example.com"
    code, _, err = await run_cli(stack, capsys, "principals", "deactivate", "not a principal", "--reason", "x",
                                 principal=None)
    assert code == 4
    assert "principal" in err


async def test_audit_verify_sends_token(stack, capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWARD_HOME", str(tmp_path))
    monkeypatch.delenv("MODELWARD_TOKEN", raising=False)
    verify = ["audit", "verify", "--target", "registry", "--address", stack.registry]

    code = await asyncio.to_thread(main, verify)
    err = capsys.readouterr().err
    assert code == 5
    assert "UNAUTHENTICATED" in err

    code = await asyncio.to_thread(main, [*verify, "--token", stack.token()])
    assert code == 0
    assert "intact" in capsys.readouterr().out

    monkeypatch.setenv("MODELWARD_TOKEN", stack.token())
    code = await asyncio.to_thread(main, verify)
    assert code == 0
    monkeypatch.delenv("MODELWARD_TOKEN")

    (tmp_path / "admin-token").write_text(stack.token() + "\n", encoding="utf-8")
    code = await asyncio.to_thread(main, ["audit", "export", "--target", "governance", "--address", stack.governance])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip()


async def test_control_characters_escaped(stack, capsys) -> None:
    await run_cli(stack, capsys, "models", "create", "cli-escape", "--owner", "team:fraud")
    code, _, err = await run_cli(stack, capsys, "models", "update", "cli-escape", "--description", "a\x1b]0;pwned\x07\x1b[2J\x9bz")
    assert code == 0, err

    code, out, _ = await run_cli(stack, capsys, "models", "get", "cli-escape")
    assert code == 0
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\x9b" not in out
    assert r"a\x1b]0;pwned\x07\x1b[2J\x9bz" in out

    code, out, _ = await run_cli(stack, capsys, "models", "list")
    assert "\x1b" not in out


async def test_bad_input_files_exit_4(stack, capsys, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    code, _, err = await run_cli(stack, capsys, "policy", "validate", str(missing))
    assert code == 4
    assert str(missing) in err

    code, _, err = await run_cli(stack, capsys, "versions", "create", "cli-fraud", "--file", str(missing))
    assert code == 4
    assert str(missing) in err

    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    code, _, err = await run_cli(stack, capsys, "policy", "validate", str(latin))
    assert code == 4
    assert str(latin) in err
    assert "0xe9" in err
    assert "UTF-8" in err


async def test_principals_deactivate_prints_dates(stack, capsys) -> None:
    code, out, err = await run_cli(stack, capsys, "principals", "deactivate", "user:gone@example.com",
                                   "--reason", "left", principal=None)
    assert code == 0, err
    assert "seconds:" not in out
    assert re.search(r"update_time\s+\d{4}-\d{2}-\d{2}", out), out
    assert re.search(r"^active\s+no$", out, re.MULTILINE), out

    code, out, err = await run_cli(stack, capsys, "principals", "activate", "user:gone@example.com",
                                   "--reason", "came back", principal=None)
    assert code == 0, err
    assert re.search(r"^active\s+yes$", out, re.MULTILINE), out


async def test_redundant_model_named_in_findings(stack, capsys) -> None:
    for model in ("cli-original", "cli-copy"):
        await run_cli(stack, capsys, "models", "create", model, "--owner", "team:fraud")
        code, _, err = await run_cli(stack, capsys, "versions", "create", model, "--artifact-uri",
                                     f"s3://m/{model}.onnx", "--artifact-sha256", "5e" * 32)
        assert code == 0, err

    code, out = await run_cli_until(stack, capsys, "models/cli-original", "findings", "--model", "cli-copy",
                                    "--kind", "redundant_model")
    assert code == 0
    assert "of models/cli-original" in out
    assert "of model models/" not in out

    code, out, _ = await run_cli(stack, capsys, "findings", "--model", "cli-copy", "--kind", "redundant_model",
                                 "--lang", "pt-BR")
    assert code == 0
    assert "de models/cli-original" in out

    code, out, _ = await run_cli(stack, capsys, "compliance", "cli-copy", "--lang", "pt-BR")
    assert code == 0
    assert "de models/cli-original" in out


def test_broken_pipe_exits_quietly(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "modelward_cli.main", "audit", "keygen",
               "--private-key", str(tmp_path / "key.pem"), "--public-key", str(tmp_path / "key.pub")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141, err
    assert b"Broken pipe" not in err
    assert b"Traceback" not in err


async def test_portfolio_help_examples_work(stack, capsys) -> None:
    await run_cli(stack, capsys, "models", "create", "cli-tiered", "--owner", "team:fraud", "--risk-tier", "high")
    deadline = time.monotonic() + 20
    while True:
        code, out, _ = await run_cli(stack, capsys, "portfolio", "--output", "json")
        if "models/cli-tiered" in out or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)

    for spelling in ("RISK_TIER_HIGH", "HIGH", '"high"', '"RISK_TIER_HIGH"', "high"):
        code, out, err = await run_cli(stack, capsys, "portfolio", "--filter", f"risk_tier = {spelling}", "--output", "json")
        assert code == 0, err
        assert "models/cli-tiered" in {entry["model"] for entry in json.loads(out)}, spelling

    code, _, err = await run_cli(stack, capsys, "portfolio", "--filter", "risk_tier = RISK_TIER_HIGH AND orphaned = true")
    assert code == 0, err
    code, _, err = await run_cli(stack, capsys, "portfolio", "--order-by", "open_findings_count desc, model")
    assert code == 0, err

    code, _, err = await run_cli(stack, capsys, "portfolio", "--filter", 'risk_tier = "extreme"')
    assert code == 4
    assert "RISK_TIER_HIGH" in err


def test_governance_names_a_missing_database() -> None:
    server = os.environ.get("MODELWARD_TEST_PG", "127.0.0.1:5432")
    url = f"postgresql+asyncpg://postgres@{server}/mw_test_no_such_database"
    command = [sys.executable, "-m", "modelward_governance", "migrate", "--auth-disabled", "--database-url", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert f"cannot open the database at {url} (--database-url)" in result.stderr
    assert 'database "mw_test_no_such_database" does not exist' in result.stderr
    assert "Traceback" not in result.stderr
