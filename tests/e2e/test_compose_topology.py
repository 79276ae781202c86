"""The docker-compose.yml topology, run without Docker, and the walkthrough against it.

This machine has no Docker daemon and cannot pull images, so the test replaces the two
images compose pulls and runs the modelward services as the image would:

- postgres: a role and databases of this test on the PostgreSQL server of the test suite,
  created by running the statements of deploy/postgres-init as that role;
- nats: the nats-server of the test suite's Python environment, started with the command,
  configuration file and password variables compose gives the nats service;
- registry and governance: the compose entrypoint with the compose environment, values and
  variables substituted as Compose does, with the admin token as the secret file.

Compose's hostnames and ports (`postgres:5432`, `registry:50051`) become 127.0.0.1 ports of
these servers through `ServiceAddresses`, which fails on any address, database or secret that
compose would not provide. Each service counts as started when its compose healthcheck passes,
in `depends_on` order. Then the walkthrough runs against the stack with only the admin token,
as a user of `docker compose up` would run it, and the walkthrough's own tests check what
governance found and decided.

Not covered: building the image, the postgres and nats images themselves (versions, entrypoint
scripts, volumes), password authentication to PostgreSQL (the test server trusts local
connections), and Docker's DNS and networking.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from modelward_cli.main import main as modelward
from modelward_cli.reasons import finding_pt_br
from modelward_cli.reports import rule_kinds_of
from modelward_common.nats_server import find_nats_server, free_port
from modelward_sdk import GovernanceClient
from tests.conftest import PG_HOST
from tests.e2e.test_walkthrough import (  # noqa: F401 - pytest collects these here against the compose stack
    _load_walkthrough,
    _run,
    test_drift_alerts_block_deployment,
    test_high_risk_needs_two_reviewers,
    test_redundant_and_ownerless_flagged,
    test_under_performing_version_rejected,
)
from tests.support.compose import (
    ROOT,
    MissingVariable,
    ServiceAddresses,
    dockerfile_environment,
    environment_of,
    init_database_names,
    load_compose,
    published_ports,
    start_order,
)

# The passwords that the top of docker-compose.yml has operators generate into .env.
NATS_PASSWORD_VARIABLES = (
    "MODELWARD_NATS_REGISTRY_PASSWORD", "MODELWARD_NATS_GOVERNANCE_PASSWORD", "MODELWARD_NATS_SUBSCRIBER_PASSWORD",
)
# The home folder of the image's user, where the services run.
IMAGE_HOME = "/home/modelward"
STOP_TIMEOUT = 30.0
_LOOPBACK_ADDRESS = re.compile(r"127\.0\.0\.1:(\d+)")
_DURATION = re.compile(r"(\d+)(ms|s|m)")


def dotenv_variables() -> dict[str, str]:
    """Return the variables an operator puts in .env by the recipe at the top of docker-compose.yml."""
    return {variable: secrets.token_urlsafe(32) for variable in NATS_PASSWORD_VARIABLES}


def _seconds(duration: str) -> float:
    unit_seconds = {"ms": 0.001, "s": 1.0, "m": 60.0}
    parts = _DURATION.findall(duration)
    assert parts and "".join(number + unit for number, unit in parts) == duration, f"unknown duration {duration!r}"
    return sum(int(number) * unit_seconds[unit] for number, unit in parts)


@dataclass
class ComposeStack:
    folder: Path
    services: dict[str, Any]
    addresses: ServiceAddresses
    admin_token: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def target(self, service: str, port: int) -> str:
        return self.addresses.address(service, port)

    def published(self, service: str) -> str:
        """Return where the service's first published port is, which users reach at 127.0.0.1:<port>."""
        return self.target(service, published_ports(self.services[service])[0])

    def log_tail(self, service: str, lines: int = 40) -> str:
        text = self.logs[service].read_text(errors="replace").splitlines()
        return f"--- last {lines} lines of {service}'s output:\n" + "\n".join(text[-lines:])

    def start(self, service: str, command: list[str], environment: Mapping[str, str]) -> None:
        log = self.folder / f"{service}.log"
        self.logs[service] = log
        with open(log, "wb") as output:
            self.processes[service] = subprocess.Popen(
                command, env=dict(environment), cwd=self.folder / "home", stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_healthy(self, service: str, healthcheck: Mapping[str, Any], environment: Mapping[str, str]) -> None:
        """Run the service's compose healthcheck until it passes, for as long as Compose would try."""
        test = list(healthcheck["test"])
        assert test[0] == "CMD", f"{service}: the test runs healthchecks of the CMD form only, not {test[0]}"
        command = [sys.executable if test[1] == "python" else test[1]]
        command += [_LOOPBACK_ADDRESS.sub(lambda m: self.target(service, int(m[1])), arg) for arg in test[2:]]
        timeout = _seconds(healthcheck["timeout"])
        deadline = time.monotonic() + _seconds(healthcheck["interval"]) * int(healthcheck["retries"])
        process = self.processes[service]
        last = ""
        while time.monotonic() < deadline:
            status = process.poll()
            assert status is None, f"{service} exited with status {status}\n{self.log_tail(service)}"
            try:
                check = subprocess.run(command, env=dict(environment), capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                last = f"timed out after {timeout} s"
            else:
                if check.returncode == 0:
                    return
                last = (check.stdout + check.stderr).decode(errors="replace")[-2000:]
            time.sleep(0.5)
        pytest.fail(f"{service} is not healthy: its healthcheck's last output was {last}\n{self.log_tail(service)}")

    def stop(self) -> None:
        """Stop every process as `docker compose down` does: SIGTERM, in reverse start order."""
        for service, process in reversed(list(self.processes.items())):
            if process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _base_environment(home: Path) -> dict[str, str]:
    """Return what the image provides to every process: PATH, a home folder and the Dockerfile's ENV."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    for variable, value in dockerfile_environment().items():
        environment[variable] = str(home) + value.removeprefix(IMAGE_HOME) if value.startswith(IMAGE_HOME) else value
    return environment


def _admin_dsn(user: str = "postgres", database: str = "postgres") -> str:
    return f"postgresql://{user}@{PG_HOST}/{database}"


async def _create_postgres(service: Mapping[str, Any], role: str) -> dict[str, str]:
    """Replace the postgres image: create the compose user as a role of this test, then run the
    init scripts' statements as that role, with database names of this test. Return the names."""
    environment = environment_of(service)
    password = environment["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", password), "the test quotes only passwords of token_urlsafe characters"
    mounts = {str(volume).split(":")[1] for volume in service.get("volumes", [])}
    assert "/docker-entrypoint-initdb.d" in mounts, "postgres must mount deploy/postgres-init at /docker-entrypoint-initdb.d"
    databases = {name: f"{role}_{name}" for name in init_database_names()}
    admin = await asyncpg.connect(_admin_dsn())
    try:
        await admin.execute(f"CREATE ROLE \"{role}\" LOGIN CREATEDB PASSWORD '{password}'")
    finally:
        await admin.close()
    as_user = await asyncpg.connect(_admin_dsn(role))
    try:
        for name, local_name in databases.items():
            await as_user.execute(f'CREATE DATABASE "{local_name}"')
    finally:
        await as_user.close()
    return databases


async def _drop_postgres(role: str, databases: Mapping[str, str]) -> None:
    admin = await asyncpg.connect(_admin_dsn())
    try:
        for local_name in databases.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{local_name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await admin.close()


def _nats_command(service: Mapping[str, Any], addresses: ServiceAddresses, folder: Path) -> list[str]:
    """Return the nats service's command for this machine: its mounts replaced by local paths, its
    monitoring port by a free one, listening on the local port mapped from nats:4222."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        mounts[target] = ROOT / source if source.startswith(".") else folder / source
    command = list(service["command"])
    assert command[0] == "nats-server", f"the nats service must run nats-server, not {command[0]}"
    local = [find_nats_server()]
    arguments = iter(command[1:])
    for argument in arguments:
        if argument == "-m":
            local += ["-m", str(addresses.ports["nats", int(next(arguments))])]
        elif argument in mounts:
            local.append(str(mounts[argument]))
        else:
            local.append(argument)
    client_port = published_ports(service)[0]
    return local + ["-a", "127.0.0.1", "-p", str(addresses.ports["nats", client_port])]


def _monitoring_port(service: Mapping[str, Any]) -> int:
    command = list(service["command"])
    return int(command[command.index("-m") + 1])


@pytest.fixture(scope="module")
async def compose_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ComposeStack]:
    folder = tmp_path_factory.mktemp("compose")
    (folder / "home").mkdir()
    compose = load_compose(dotenv_variables())
    services: dict[str, Any] = compose["services"]
    postgres = next(name for name, service in services.items() if str(service.get("image", "")).startswith("postgres:"))
    nats = next(name for name, service in services.items() if str(service.get("image", "")).startswith("nats:"))
    built = [name for name, service in services.items() if "build" in service]
    assert sorted(built) == ["governance", "registry"], f"services built from the Dockerfile: {built}"

    # The admin token, made and stored as the top of docker-compose.yml describes.
    admin_token = f"mwt_{secrets.token_hex(16)}_{secrets.token_urlsafe(32)}"
    token_file = folder / "admin-token"
    token_file.write_text(admin_token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    assert compose["secrets"]["admin-token"]["file"] == "./deploy/admin-token"

    role = f"mw_compose_{secrets.token_hex(4)}"
    pg_host, _, pg_port = PG_HOST.partition(":")
    assert pg_host == "127.0.0.1", f"the compose test needs the PostgreSQL server on 127.0.0.1, not {PG_HOST}"
    ports = {(postgres, published_ports(services[postgres])[0]): int(pg_port or 5432)}
    ports[nats, published_ports(services[nats])[0]] = free_port()
    ports[nats, _monitoring_port(services[nats])] = free_port()
    for name in built:
        for port in published_ports(services[name]):
            ports[name, port] = free_port()

    databases = await _create_postgres(services[postgres], role)
    postgres_user = environment_of(services[postgres])["POSTGRES_USER"]
    addresses = ServiceAddresses(
        ports=ports, postgres_service=postgres, postgres_user=(postgres_user, role), databases=databases,
        secrets={"admin-token": token_file}, image_paths={IMAGE_HOME: folder / "home"},
    )
    stack = ComposeStack(folder, services, addresses, admin_token)
    base = _base_environment(folder / "home")
    try:
        for name in start_order(services):
            service = services[name]
            if name == postgres:
                continue
            if name == nats:
                environment = {"PATH": base["PATH"], **environment_of(service)}
                command = _nats_command(service, addresses, folder)
            else:
                environment = {**base, **addresses.map_environment(name, environment_of(service), service.get("secrets", []))}
                entrypoint = list(service["entrypoint"])
                assert entrypoint[0] == "python", f"{name}: the test runs python entrypoints only, not {entrypoint}"
                command = [sys.executable, *entrypoint[1:]]
                assert not any("0.0.0.0" in value for value in environment.values()), environment
            stack.start(name, command, environment)
            await asyncio.to_thread(stack.wait_healthy, name, service["healthcheck"], environment)
        yield stack
    finally:
        await asyncio.to_thread(stack.stop)
        await _drop_postgres(role, databases)


@pytest.fixture(scope="module")
async def walkthrough_result(compose_stack: ComposeStack) -> Any:
    """Run the walkthrough with only the admin token, as after `docker compose up`."""
    module = _load_walkthrough()
    return await _run(
        module, compose_stack.published("registry"), compose_stack.published("governance"),
        token=compose_stack.admin_token,
    )


async def test_services_need_no_other_nats_subjects(compose_stack: ComposeStack, walkthrough_result: Any) -> None:
    # nats-server 2.15 logs a rejected publish or subscribe as "Publish Violation" or "Subscription Violation".
    log = compose_stack.logs["nats"].read_text(errors="replace")
    assert "Violation" not in log, log


async def test_walkthrough_findings_read_in_pt_br(compose_stack: ComposeStack, walkthrough_result: Any) -> None:
    """Every finding the walkthrough produced, with the evidence a real governance wrote, has a pt-BR sentence."""

    def read_findings() -> list[Any]:
        with GovernanceClient(compose_stack.published("governance"), token=compose_stack.admin_token) as governance:
            found = [finding for model in walkthrough_result.models.values()
                     for finding in governance.list_findings(model=model)]
            kinds = rule_kinds_of(governance, found)
        return [(finding, finding_pt_br(finding, kinds)) for finding in found]

    rendered = await asyncio.to_thread(read_findings)
    untranslated = [finding.message for finding, text in rendered if text is None]
    assert not untranslated, untranslated
    checks = {finding.rule_id.rsplit(".", 1)[0] if finding.rule_id.startswith("redundant.") else finding.rule_id
              for finding, _ in rendered}
    assert "orphaned.no_owner" in checks
    assert "redundant.artifact_digest" in checks
    for kind in ("data_drift", "concept_drift", "driver_shift"):
        assert any(check.startswith(f"drift.{kind}.") for check in checks), f"no {kind} finding"


async def test_compliance_report_in_pt_br(
    compose_stack: ComposeStack, walkthrough_result: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    connection = ["--registry", compose_stack.published("registry"), "--governance", compose_stack.published("governance"),
                  "--token", compose_stack.admin_token]
    copy = walkthrough_result.models["copy"]
    code = await asyncio.to_thread(modelward, ["compliance", copy, "--lang", "pt-BR", *connection])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"Achados abertos além das regras da política: [1-9]", out)
    assert "modelo redundante" in out
    assert re.search(r"a versão 1 tem o mesmo artefato que a versão \d+ de models/", out)
    assert "the same artifact" not in out


def test_compose_requires_nats_passwords() -> None:
    for variable in NATS_PASSWORD_VARIABLES:
        variables = dotenv_variables()
        del variables[variable]
        with pytest.raises(MissingVariable) as missing:
            load_compose(variables)
        assert missing.value.name == variable
        assert "docker-compose.yml" in missing.value.message


def test_postgres_healthcheck_waits_for_init_scripts() -> None:
    """The healthcheck must name the last database the init scripts create, or it passes too early."""
    postgres = load_compose(dotenv_variables())["services"]["postgres"]
    check = list(postgres["healthcheck"]["test"])
    assert check[check.index("-d") + 1] == init_database_names()[-1]
    assert check[check.index("-U") + 1] == environment_of(postgres)["POSTGRES_USER"]
    # Over TCP: during initialisation the server listens on its socket only.
    assert check[check.index("-h") + 1] == "127.0.0.1"


def test_published_ports_on_loopback_only() -> None:
    for name, service in load_compose(dotenv_variables())["services"].items():
        for entry in service.get("ports", []):
            assert str(entry).startswith("127.0.0.1:"), f"{name} publishes {entry} beyond this machine"

