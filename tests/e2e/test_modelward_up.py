"""End-to-end tests of `modelward up`, run as a subprocess on a temporary data folder.

They run the real registry. The governance service runs for real when
`modelward_governance.__main__` exists. Until then, the first test runs a stand-in in its place
that serves only gRPC health checking, and the others expect it to be reported as not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelward_cli import up
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_protos.registry.v1 import resources_pb2 as res

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
GOVERNANCE_INSTALLED = importlib.util.find_spec("modelward_governance.__main__") is not None
SERVING = health_pb2.HealthCheckResponse.SERVING

STAND_IN_SERVICE = textwrap.dedent(
    """
    # Stand-in for a modelward service: serves grpc.health.v1 on --listen until SIGTERM or SIGINT.
    import argparse, signal, threading
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    args, _ = parser.parse_known_args()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(args.listen)
    server.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()
    """
)


@dataclass
class UpProcess:
    process: subprocess.Popen[bytes]
    data_dir: Path
    output_path: Path

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_for_endpoints(self) -> dict[str, object]:
        """Wait until this process has written endpoints.json, and return its content."""
        path = self.data_dir / "endpoints.json"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            status = self.process.poll()
            assert status is None, f"modelward up exited with status {status}:\n{self.output}"
            try:
                document = json.loads(path.read_text())
            except (FileNotFoundError, ValueError):
                document = None
            if document is not None and document["pid"] == self.process.pid:
                return document
            time.sleep(0.1)
        pytest.fail(f"modelward up wrote no endpoints.json within {STARTUP_TIMEOUT} s:\n{self.output}")

    def children(self) -> dict[str, int]:
        return json.loads((self.data_dir / "up.lock").read_text())["children"]

    def wait(self) -> int:
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"modelward up still runs after {STOP_TIMEOUT} s:\n{self.output}")

    def stop(self, signum: signal.Signals) -> int:
        self.process.send_signal(signum)
        return self.wait()


StartUp = Callable[..., UpProcess]


@pytest.fixture
def up_env() -> dict[str, str]:
    """Environment for `modelward up` with no overridden service commands."""
    env = dict(os.environ)
    env.pop("MODELWARD_HOME", None)
    env.pop(up.REGISTRY.command_override_env, None)
    env.pop(up.GOVERNANCE.command_override_env, None)
    return env


@pytest.fixture
def start_up(tmp_path: Path, up_env: dict[str, str]) -> Iterator[StartUp]:
    """Return a function that starts `modelward up` on a data folder. Teardown stops what is left."""
    command = Path(sys.executable).parent / "modelward"
    assert command.exists(), f"{command} is missing: install the project with 'pip install -e .'"
    started: list[UpProcess] = []

    def start(data_dir: Path, *extra_args: str, env: dict[str, str] | None = None) -> UpProcess:
        output_path = tmp_path / f"up-{len(started)}.out"
        with open(output_path, "wb") as output:
            process = subprocess.Popen(
                [str(command), "up", "--data-dir", str(data_dir), *extra_args],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=up_env if env is None else env,
            )
        running = UpProcess(process, data_dir, output_path)
        started.append(running)
        return running

    yield start

    for running in started:
        if running.process.poll() is None:
            running.process.terminate()
            try:
                running.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()
        lock_path = running.data_dir / "up.lock"
        lock_text = lock_path.read_text() if lock_path.exists() else ""
        if lock_text:
            up.stop_leftover_children(json.loads(lock_text)["children"], running.data_dir, timeout=10)


def service_ports() -> list[str]:
    """Return options that put the services on free ports, away from the defaults other programs may use."""
    registry_port = up.pick_free_port("127.0.0.1")
    governance_port = up.pick_free_port("127.0.0.1", exclude=[registry_port])
    return ["--registry-port", str(registry_port), "--governance-port", str(governance_port)]


def processes_using(data_dir: Path) -> list[str]:
    """Return the command lines of live processes with a path inside data_dir on their command line."""
    marker = f"{data_dir}{os.sep}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in command_line and up.process_is_running(int(entry.name)):
            found.append(command_line.replace(b"\0", b" ").decode(errors="replace"))
    return found


def grpc_channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)])


def health_status(target: str, service: str) -> int:
    with grpc_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    return response.status


def admin_metadata(data_dir: Path) -> tuple[tuple[str, str], ...]:
    token = (data_dir / up.ADMIN_TOKEN_FILE).read_text().strip()
    return (("authorization", f"Bearer {token}"),)


def create_model(target: str, model_id: str, data_dir: Path) -> str:
    """Create a model in the registry at target, as the stack's admin, and return its uid."""
    model = res.Model(owner="team:e2e", team="e2e", risk_tier=res.RISK_TIER_LOW, task_type="regression")
    with grpc_channel(target) as channel:
        created = rpc_grpc.RegistryServiceStub(channel).CreateModel(
            rpc.CreateModelRequest(model_id=model_id, model=model), timeout=10, metadata=admin_metadata(data_dir)
        )
    return created.uid


def model_uid(target: str, model_id: str, data_dir: Path) -> str:
    with grpc_channel(target) as channel:
        model = rpc_grpc.RegistryServiceStub(channel).GetModel(
            rpc.GetModelRequest(name=f"models/{model_id}"), timeout=10, metadata=admin_metadata(data_dir)
        )
    return model.uid


def nats_server_info(url: str) -> dict[str, object]:
    """Connect over TCP and return the INFO object that nats-server sends to every new client."""
    host, port = url.removeprefix("nats://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        line = connection.makefile("rb").readline()
    assert line.startswith(b"INFO "), line
    return json.loads(line[len(b"INFO ") :])


async def stream_messages(subscriber_file: Path, stream: str) -> int:
    """Return the number of messages in stream, read with the subscriber credentials that `up` wrote."""
    import nats

    credentials = json.loads(subscriber_file.read_text())
    client = await nats.connect(credentials["url"], user=credentials["user"], password=credentials["password"])
    try:
        return (await client.jetstream().stream_info(stream)).state.messages
    finally:
        await client.close()


async def connect_anonymously(url: str) -> None:
    import nats

    client = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    await client.close()


def test_up_serves_stops_and_restarts(tmp_path: Path, start_up: StartUp, up_env: dict[str, str]) -> None:
    data_dir = tmp_path / "home"
    ports = service_ports()
    env = dict(up_env)
    if not GOVERNANCE_INSTALLED:
        script = tmp_path / "stand_in_service.py"
        script.write_text(STAND_IN_SERVICE)
        env[up.GOVERNANCE.command_override_env] = shlex.join([sys.executable, str(script)])

    first = start_up(data_dir, *ports, env=env)
    endpoints = first.wait_for_endpoints()
    assert endpoints["registry"] == f"127.0.0.1:{ports[1]}"
    assert endpoints["governance"] == f"127.0.0.1:{ports[3]}"
    assert endpoints["data_dir"] == str(data_dir)
    assert health_status(endpoints["registry"], "") == SERVING
    assert health_status(endpoints["registry"], up.REGISTRY.health_service) == SERVING
    assert health_status(endpoints["governance"], "") == SERVING
    governance_log = (data_dir / "logs" / "governance.log").read_text()
    assert f"--registry-target {endpoints['registry']}" in governance_log
    assert nats_server_info(endpoints["nats"])["jetstream"] is True
    assert (data_dir / "logs" / "registry.log").exists()
    assert (data_dir / "logs" / "nats.log").exists()

    token_file = data_dir / up.ADMIN_TOKEN_FILE
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text()
    assert "export MODELWARD_TOKEN=$(cat" in first.output
    assert token.strip() not in first.output
    with grpc_channel(endpoints["registry"]) as channel, pytest.raises(grpc.RpcError) as anonymous:
        rpc_grpc.RegistryServiceStub(channel).GetModel(rpc.GetModelRequest(name="models/x"), timeout=10)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    uid = create_model(endpoints["registry"], "up-e2e-kept", data_dir)
    subscriber_file = data_dir / "nats-subscriber.json"
    assert endpoints["nats_subscriber"] == str(subscriber_file)
    assert str(subscriber_file) in first.output
    with pytest.raises(Exception):  # noqa: B017 - nats-server rejects a client without credentials
        asyncio.run(connect_anonymously(endpoints["nats"]))
    passwords = json.loads((data_dir / "nats-users.json").read_text())
    for name in ("nats-users.json", "nats.conf", "nats-subscriber.json"):
        assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
    command_lines = " ".join(processes_using(data_dir))
    for password in passwords.values():
        assert password not in command_lines
        assert password not in first.output

    def registry_stream_has_events() -> bool:
        return asyncio.run(stream_messages(subscriber_file, "MODELWARD_REGISTRY")) >= 1

    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not registry_stream_has_events():
        assert time.monotonic() < deadline, "the registry published no event to NATS with its credentials"
        time.sleep(0.2)
    children = first.children()
    assert set(children) == {"nats", "registry", "governance"}

    assert first.stop(signal.SIGINT) == 0, first.output
    for name, pid in children.items():
        assert not up.process_is_running(pid), f"{name} (pid {pid}) still runs after modelward up exited"
    assert processes_using(data_dir) == []
    assert not (data_dir / "endpoints.json").exists()
    assert (data_dir / "up.lock").read_text() == ""

    # A data folder of a modelward that predates NATS users has none of their files.
    for name in ("nats-users.json", "nats.conf", "nats-subscriber.json"):
        (data_dir / name).unlink()
    second = start_up(data_dir, *ports, env=env)
    restarted = second.wait_for_endpoints()
    assert restarted["nats"] == endpoints["nats"]
    assert restarted["registry"] == endpoints["registry"]
    assert restarted["data_dir"] == str(data_dir)
    assert model_uid(restarted["registry"], "up-e2e-kept", data_dir) == uid
    assert token_file.read_text() == token
    assert "kept from an earlier start" in second.output
    assert asyncio.run(stream_messages(subscriber_file, "MODELWARD_REGISTRY")) >= 1
    assert second.stop(signal.SIGTERM) == 0, second.output
    assert processes_using(data_dir) == []


def test_up_keeps_nats_port_without_options(tmp_path: Path, start_up: StartUp) -> None:
    data_dir = tmp_path / "home"
    first = start_up(data_dir, *service_ports())
    endpoints = first.wait_for_endpoints()
    if not GOVERNANCE_INSTALLED:
        assert endpoints["governance"] is None
        assert "modelward_governance is not installed" in first.output
    assert first.stop(signal.SIGINT) == 0, first.output

    kept_ports = json.loads((data_dir / "ports.json").read_text())
    assert endpoints["nats"] == f"nats://127.0.0.1:{kept_ports['nats']}"

    passwords = (data_dir / "nats-users.json").read_text()
    second = start_up(data_dir)
    restarted = second.wait_for_endpoints()
    assert (data_dir / "nats-users.json").read_text() == passwords
    assert restarted["nats"] == endpoints["nats"]
    assert restarted["registry"] == endpoints["registry"]
    assert second.stop(signal.SIGINT) == 0, second.output


def test_up_rejects_second_instance(tmp_path: Path, start_up: StartUp) -> None:
    data_dir = tmp_path / "home"
    first = start_up(data_dir, *service_ports())
    first.wait_for_endpoints()

    second = start_up(data_dir, *service_ports())
    assert second.wait() == up.EXIT_LOCKED, second.output
    assert f"another modelward up (pid {first.process.pid}) is running on {data_dir}" in second.output
    assert first.process.poll() is None
    assert first.stop(signal.SIGINT) == 0, first.output


def test_up_exits_when_service_dies(tmp_path: Path, start_up: StartUp) -> None:
    data_dir = tmp_path / "home"
    running = start_up(data_dir, *service_ports())
    running.wait_for_endpoints()
    children = running.children()

    os.kill(children["registry"], signal.SIGKILL)

    assert running.wait() == up.EXIT_SERVICE_FAILED, running.output
    log_path = data_dir / "logs" / "registry.log"
    assert f"registry exited unexpectedly (killed by SIGKILL); see its log {log_path}" in running.output
    for name, pid in children.items():
        assert not up.process_is_running(pid), f"{name} (pid {pid}) still runs after modelward up exited"
    assert processes_using(data_dir) == []
    assert not (data_dir / "endpoints.json").exists()


def test_up_exits_when_service_never_healthy(
    tmp_path: Path, start_up: StartUp, up_env: dict[str, str]
) -> None:
    data_dir = tmp_path / "home"
    ports = service_ports()
    env = dict(up_env)
    env[up.REGISTRY.command_override_env] = shlex.join([sys.executable, "-c", "import time; time.sleep(120)"])

    running = start_up(data_dir, *ports, "--startup-timeout", "2", env=env)

    assert running.wait() == up.EXIT_SERVICE_FAILED, running.output
    assert f"registry did not report SERVING on 127.0.0.1:{ports[1]} within 2 s" in running.output
    assert processes_using(data_dir) == []
    assert not (data_dir / "endpoints.json").exists()
