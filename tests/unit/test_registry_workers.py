"""The pieces of `serve --workers`: the reserved address, the wake datagrams and the relay's wake."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from types import SimpleNamespace

import pytest

from modelward_common.relay import OutboxRelay, RelayConfig
from modelward_registry.config import RegistryConfig
from modelward_registry.workers import (
    GIVE_UP_AFTER,
    STEADY_AFTER,
    Supervisor,
    WorkerPeers,
    WorkersFailed,
    _Worker,
    reserve_address,
)


def test_port_zero_becomes_one_port_workers_can_share() -> None:
    reserved, listen = reserve_address("127.0.0.1:0")
    try:
        host, port = listen.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) > 0
        # A worker binds the same port with SO_REUSEPORT while the supervisor keeps it bound.
        worker = socket.socket()
        worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        worker.bind(("127.0.0.1", int(port)))
        worker.listen()
        worker.close()
        # A program without SO_REUSEPORT cannot take it meanwhile.
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", int(port)))
    finally:
        for sock in reserved:
            sock.close()


@pytest.mark.parametrize("reuse_port", [False, True])
def test_port_another_program_listens_on_is_refused(reuse_port: bool) -> None:
    with socket.socket() as other:
        # A listener with SO_REUSEPORT, as a gRPC server at its defaults has, would share the port.
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1 if reuse_port else 0)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(WorkersFailed, match=f"cannot bind 127.0.0.1 port {port}"):
            reserve_address(f"127.0.0.1:{port}")


def test_bracketed_ipv6_address_keeps_its_brackets() -> None:
    try:
        reserved, listen = reserve_address("[::1]:0")
    except WorkersFailed as error:
        pytest.skip(f"no IPv6 loopback here: {error}")
    try:
        assert listen.startswith("[::1]:")
        assert int(listen.rsplit(":", 1)[1]) > 0
    finally:
        for sock in reserved:
            sock.close()


@pytest.mark.parametrize(
    ("listen", "fragment"),
    [
        ("50051", "is not host:port"),
        ("127.0.0.1:http", "is not host:port"),
        ("127.0.0.1:70000", "is not host:port"),
        ("127.0.0.1:", "is not host:port"),
        (":50051", "is not host:port"),
        ("::1:50051", "is not host:port"),
        ("[::1:50051", "is not host:port"),
        ("127.0.0.1:\u00b2", "is not host:port"),
        ("no-such-host.invalid:50051", "cannot resolve 'no-such-host.invalid'"),
    ],
)
def test_malformed_listen_address_is_named(listen: str, fragment: str) -> None:
    with pytest.raises(WorkersFailed) as caught:
        reserve_address(listen)
    assert fragment in str(caught.value)
    assert repr(listen) in str(caught.value)


async def test_notify_wakes_the_other_workers() -> None:
    token = secrets.token_hex(8)
    woken = {index: 0 for index in range(3)}
    peers = [WorkerPeers(token, index, 3) for index in range(3)]
    for index, peer in enumerate(peers):
        peer.open(lambda index=index: woken.__setitem__(index, woken[index] + 1))
    try:
        for _ in range(5):
            peers[0].notify()
        await asyncio.sleep(0.05)
        # Worker 0 does not wake itself.
        assert woken[0] == 0
        assert woken[1] >= 1
        assert woken[2] >= 1
    finally:
        for peer in peers:
            peer.close()


async def test_notify_skips_workers_that_are_not_running() -> None:
    peer = WorkerPeers(secrets.token_hex(8), 0, 4)
    peer.open(lambda: None)
    try:
        peer.notify()  # workers 1 to 3 have no socket: nothing raises
    finally:
        peer.close()


async def test_replacement_worker_binds_the_same_name() -> None:
    token = secrets.token_hex(8)
    woken = []
    sender, first = WorkerPeers(token, 0, 2), WorkerPeers(token, 1, 2)
    sender.open(lambda: None)
    first.open(lambda: None)
    first.close()
    replacement = WorkerPeers(token, 1, 2)
    replacement.open(lambda: woken.append(1))
    try:
        sender.notify()
        await asyncio.sleep(0.05)
        assert woken
    finally:
        sender.close()
        replacement.close()


def _exited_worker(started_ago: float, failures: int) -> _Worker:
    process = SimpleNamespace(pid=4242, exitcode=1, is_alive=lambda: False)
    return _Worker(0, process, ready=None, started_at=time.monotonic() - started_ago, failures=failures)  # type: ignore[arg-type]


def _supervisor() -> Supervisor:
    return Supervisor(RegistryConfig(), 2, secrets.token_hex(8))


def test_quick_exits_wait_longer_each_time() -> None:
    supervisor = _supervisor()
    delays = []
    worker = _exited_worker(started_ago=1, failures=0)
    for _ in range(8):
        now = time.monotonic()
        supervisor._schedule_restart(worker, now)
        delays.append(round(worker.restart_at - now, 3))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_worker_that_ran_a_while_restarts_at_once() -> None:
    supervisor = _supervisor()
    worker = _exited_worker(started_ago=STEADY_AFTER + 1, failures=5)
    now = time.monotonic()
    supervisor._schedule_restart(worker, now)
    assert worker.restart_at == now
    assert worker.failures == 0


def test_supervisor_gives_up_when_no_worker_serves() -> None:
    supervisor = _supervisor()
    supervisor.workers = {0: _exited_worker(started_ago=1, failures=3)}
    supervisor.workers[0].restart_at = time.monotonic() + 30
    start = time.monotonic()
    supervisor._check_some_running(start)
    supervisor._check_some_running(start + GIVE_UP_AFTER - 1)
    with pytest.raises(WorkersFailed, match="no registry worker has served"):
        supervisor._check_some_running(start + GIVE_UP_AFTER + 1)


def test_relay_without_the_lease_ignores_wakes() -> None:
    relay = OutboxRelay(engine=None, config=RelayConfig("nats://127.0.0.1:1", "S", "p", "registry", "urn:test"))  # type: ignore[arg-type]
    relay.wake()
    assert not relay._wakeup.is_set()
    relay.is_leader = True
    relay.wake()
    assert relay._wakeup.is_set()


def test_workers_that_never_finish_starting_do_not_count() -> None:
    supervisor = _supervisor()
    starting = SimpleNamespace(pid=4243, exitcode=None, is_alive=lambda: True)
    supervisor.workers = {0: _Worker(0, starting, ready=SimpleNamespace(poll=lambda: False))}  # type: ignore[arg-type]
    start = time.monotonic()
    supervisor._check_some_running(start)
    with pytest.raises(WorkersFailed, match="no registry worker has served"):
        supervisor._check_some_running(start + GIVE_UP_AFTER + 1)
