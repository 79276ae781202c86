"""`serve --workers N`: worker processes on one port, run as one registry by a supervisor.

Each test starts the registry as a real process tree and looks at it through /proc: which
processes are the workers, and which worker owns which client connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelward_common.nats_server import free_port
from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from tests.support.builders import new_model

pytestmark = pytest.mark.asyncio


def serve_command(database_url: str, nats_url: str, prefix: str, port: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "modelward_registry", "serve", "--workers", "2", "--listen", f"127.0.0.1:{port}",
        "--database-url", database_url, "--nats-url", nats_url, "--subject-prefix", prefix,
        "--stream-name", f"{prefix}_REGISTRY", "--auth-disabled", "--governed-stages", "none",
        "--shutdown-grace", "2", *extra,
    ]


@contextlib.contextmanager
def supervisor(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            # The spawn start method also runs a resource tracker; workers run modelward_registry.
            if int(fields[1]) == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# TCP states in /proc/net/tcp.
ESTABLISHED, LISTEN = "01", "0A"


def connections_by_process(port: int, pids: set[int], state: str = ESTABLISHED) -> dict[int, set[str]]:
    """Return the socket inodes of the TCP sockets in `state` on local `port` that each process holds."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    inodes.add(fields[9])
    owned: dict[int, set[str]] = {pid: set() for pid in pids}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        owned[pid].add(link[8:-1])
    return owned


async def wait_serving(target: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError(f"the registry did not serve within 60 s:\n{log.read_text()}")


@dataclass
class Workers:
    """A registry started with --workers 2 that serves, and the process ids of its workers."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    pids: set[int]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def running_workers(database_url: str, nats_url: str, prefix: str, log: Path, *extra: str) -> AsyncIterator[Workers]:
    """Start the registry with two workers, wait until it serves and both workers run."""
    port = free_port()
    with supervisor(serve_command(database_url, nats_url, prefix, port, *extra), log) as process:
        target = f"127.0.0.1:{port}"
        await wait_serving(target, process, log)
        await wait_for(lambda: len(children_of(process.pid)) == 2, "two workers")
        yield Workers(process, port, log, children_of(process.pid))


async def wait_for(condition, what: str, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


def own_channel(target: str) -> grpc.aio.Channel:
    # A local subchannel pool gives each channel its own connection, as separate client
    # processes have; channels of one process otherwise share one.
    return grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


async def connect_across(target: str, port: int, workers: set[int], count: int) -> dict[int, list[rpc_grpc.RegistryServiceStub]]:
    """Open `count` channels, each with its own connection, and group their stubs by the worker that accepted it."""
    by_worker: dict[int, list[rpc_grpc.RegistryServiceStub]] = {pid: [] for pid in workers}
    for _ in range(count):
        before = connections_by_process(port, workers)
        stub = rpc_grpc.RegistryServiceStub(own_channel(target))
        await stub.ListModels(rpc.ListModelsRequest(page_size=1))
        after = connections_by_process(port, workers)
        [worker] = [pid for pid in workers if after[pid] - before[pid]]
        by_worker[worker].append(stub)
    return by_worker


async def test_workers_share_port_page_tokens_and_relay(fresh_pg_url, nats_server, nats_prefix, tmp_path) -> None:
    # No --page-token-key: the supervisor must give both workers one key.
    async with running_workers(fresh_pg_url(), nats_server.url, nats_prefix, tmp_path / "registry.log") as registry:
        by_worker = await connect_across(registry.target, registry.port, registry.pids, 16)
        # 16 connections all on one of two workers would happen once in 32,768 runs.
        assert all(by_worker.values()), {pid: len(stubs) for pid, stubs in by_worker.items()}
        first, second = (stubs[0] for stubs in by_worker.values())

        # Writes through both workers: one model each, alternating.
        names = [f"spread-{index:02d}" for index in range(10)]
        for index, name in enumerate(names):
            await (first if index % 2 else second).CreateModel(new_model(name))

        # A page token made by one worker continues on the other, and paging visits each model once.
        seen, token = [], ""
        for page in range(len(names) + 1):
            stub = first if page % 2 else second
            reply = await stub.ListModels(rpc.ListModelsRequest(page_size=1, page_token=token))
            seen.extend(model.name for model in reply.models)
            token = reply.next_page_token
            if not token:
                break
        assert seen == sorted(f"models/{name}" for name in names)

        # Exactly one relay publishes, in commit order, whichever worker committed.
        client = await nats.connect(nats_server.url)
        try:
            js = client.jetstream()
            await wait_for_stream_count(js, f"{nats_prefix}_REGISTRY", len(names))
            subscription = await js.subscribe(f"{nats_prefix}.registry.v1.>", ordered_consumer=True)
            published = [(await subscription.next_msg(timeout=5)).headers["ce-subject"] for _ in names]
            assert published == [f"models/{name}" for name in names]
        finally:
            await client.close()


async def wait_for_stream_count(js, stream: str, count: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            info = await js.stream_info(stream)
            if info.state.messages >= count:
                assert info.state.messages == count
                return
        assert time.monotonic() < deadline, f"stream {stream} did not reach {count} messages"
        await asyncio.sleep(0.1)


async def test_killed_worker_is_replaced_and_stop_is_clean(fresh_pg_url, nats_server, nats_prefix, tmp_path) -> None:
    log = tmp_path / "registry.log"
    async with running_workers(fresh_pg_url(), nats_server.url, nats_prefix, log) as registry:
        process, port, target, workers = registry.process, registry.port, registry.target, registry.pids
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        await wait_for(lambda: len(children_of(process.pid) - {victim}) == 2, "a new worker in place of the killed one")
        replaced = children_of(process.pid)
        assert victim not in replaced
        assert replaced & workers, "the surviving worker keeps running"
        await wait_for(lambda: all(connections_by_process(port, replaced, LISTEN).values()), "the new worker listening")
        await wait_for(lambda: "exited with code -9" in log.read_text(), "the supervisor logs the exit")

        # Both workers serve: new connections reach the new one too.
        by_worker = await connect_across(target, port, replaced, 16)
        assert all(by_worker.values()), {pid: len(stubs) for pid, stubs in by_worker.items()}
        for stubs in by_worker.values():
            await stubs[0].CreateModel(new_model(f"after-{len(stubs)}-{id(stubs)}"))

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
        assert not any(alive(pid) for pid in replaced)
        assert "registry workers stopped" in log.read_text()


async def test_stopped_worker_is_killed_and_replaced(fresh_pg_url, nats_server, nats_prefix, tmp_path) -> None:
    """A worker stopped by SIGSTOP keeps its listening socket, so the kernel would keep giving it
    new connections that no process serves. Its heartbeats stop, and the supervisor replaces it."""
    log = tmp_path / "registry.log"
    async with running_workers(fresh_pg_url(), nats_server.url, nats_prefix, log) as registry:
        process, port, target = registry.process, registry.port, registry.target
        victim = min(registry.pids)
        os.kill(victim, signal.SIGSTOP)
        await wait_for(lambda: "sent no heartbeat for" in log.read_text(), "the supervisor notices the silence", 30)
        await wait_for(lambda: len(children_of(process.pid) - {victim}) == 2, "a new worker in place of the stopped one")
        replaced = children_of(process.pid)
        assert not alive(victim)
        await wait_for(lambda: all(connections_by_process(port, replaced, LISTEN).values()), "the new worker listening")
        by_worker = await connect_across(target, port, replaced, 16)
        assert all(by_worker.values()), {pid: len(stubs) for pid, stubs in by_worker.items()}
        assert "exited with code -9" in log.read_text()


async def test_workers_exit_when_supervisor_is_killed(fresh_pg_url, nats_server, nats_prefix, tmp_path) -> None:
    async with running_workers(fresh_pg_url(), nats_server.url, nats_prefix, tmp_path / "registry.log") as registry:
        registry.process.kill()
        registry.process.wait()
        await wait_for(lambda: not any(alive(pid) for pid in registry.pids), "workers outliving their supervisor", 30)


def run_to_exit(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


async def test_workers_need_postgresql(nats_server, nats_prefix, tmp_path) -> None:
    database = tmp_path / "registry.sqlite"
    result = run_to_exit(serve_command(f"sqlite+aiosqlite:///{database}", nats_server.url, nats_prefix, free_port()))
    assert result.returncode != 0
    assert "--workers 2 needs a PostgreSQL database, and --database-url is a 'sqlite+aiosqlite' URL" in result.stderr
    assert "postgresql+asyncpg://" in result.stderr
    assert not database.exists()


async def test_workers_error_hides_the_password(nats_server, nats_prefix) -> None:
    url = "mysql+aiomysql://registry:S3cretPassw0rd@127.0.0.1:1/registry"
    result = run_to_exit(serve_command(url, nats_server.url, nats_prefix, free_port()))
    assert result.returncode != 0
    assert "invalid database URL (scheme 'mysql+aiomysql')" in result.stderr
    assert "S3cretPassw0rd" not in result.stderr


@pytest.mark.parametrize("count", ["0", "65", "two"])
async def test_workers_count_out_of_range(count, nats_server, nats_prefix, fresh_pg_url) -> None:
    command = serve_command(fresh_pg_url(), nats_server.url, nats_prefix, free_port())
    command[command.index("--workers") + 1] = count
    result = run_to_exit(command)
    assert result.returncode == 2
    assert f"--workers: {count!r}" in result.stderr or f"argument --workers: {count!r}" in result.stderr, result.stderr


@pytest.mark.parametrize("reuse_port", [False, True])
async def test_port_taken_by_another_program(reuse_port, fresh_pg_url, nats_server, nats_prefix) -> None:
    url = fresh_pg_url()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1 if reuse_port else 0)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_to_exit(serve_command(url, nats_server.url, nats_prefix, port))
    assert result.returncode == 1
    assert f"cannot bind 127.0.0.1 port {port}" in result.stderr
    assert "choose another port" in result.stderr
    # Nothing was written: the supervisor checks the port before it migrates the database.
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await connection.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    finally:
        await connection.close()


async def test_worker_failing_at_start_stops_the_registry(fresh_pg_url, nats_server, nats_prefix, tmp_path) -> None:
    missing = tmp_path / "no-such-key.pem"
    result = run_to_exit(
        serve_command(fresh_pg_url(), nats_server.url, nats_prefix, free_port(), "--audit-signing-key", str(missing))
    )
    assert result.returncode == 1
    assert "exited with code 1 while starting" in result.stderr
    assert str(missing) in result.stderr


async def test_failing_worker_backs_off_while_others_serve(fresh_pg_url, nats_server, nats_prefix, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = tmp_path / "signing.pem"
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    log = tmp_path / "registry.log"
    async with running_workers(fresh_pg_url(), nats_server.url, nats_prefix, log, "--audit-signing-key", str(key)) as registry:
        process, target, workers = registry.process, registry.target, registry.pids
        # Without its key a new worker fails at start, as after a botched key rotation.
        moved = key.rename(tmp_path / "moved.pem")
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        await wait_for(lambda: "starting a new one in 1.0 s" in log.read_text(), "a second, longer wait", 30)
        assert "starting a new one in 0.5 s" in log.read_text()
        assert process.poll() is None
        # The surviving worker serves meanwhile.
        stub = rpc_grpc.RegistryServiceStub(own_channel(target))
        await stub.CreateModel(new_model("while-one-fails"))
        moved.rename(key)
        await wait_for(lambda: len(children_of(process.pid)) == 2, "the worker back once its key is", 30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_unreachable_database_is_named_without_traceback(workers, nats_server, nats_prefix) -> None:
    url = "postgresql+asyncpg://registry:S3cretPassw0rd@127.0.0.1:1/registry"
    command = serve_command(url, nats_server.url, nats_prefix, free_port())
    command[command.index("--workers") + 1] = workers
    result = run_to_exit(command)
    assert result.returncode == 1
    assert "cannot open the database at postgresql+asyncpg://registry:***@127.0.0.1:1/registry (--database-url)" in result.stderr
    assert "S3cretPassw0rd" not in result.stderr
    assert "Traceback" not in result.stderr
