"""The pieces of `serve --workers`: the held address, the wake datagrams and the relay's wake."""

from __future__ import annotations

import asyncio
import socket

import pytest

from modelward_common.relay import OutboxRelay, RelayConfig
from modelward_registry.workers import WorkerPeers, WorkersFailed, reserve_address


def test_port_zero_becomes_one_port_workers_can_share() -> None:
    held, listen = reserve_address("127.0.0.1:0")
    try:
        host, port = listen.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) > 0
        # A worker binds the same port with SO_REUSEPORT while the supervisor holds it.
        worker = socket.socket()
        worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        worker.bind(("127.0.0.1", int(port)))
        worker.listen()
        worker.close()
        # A program without SO_REUSEPORT cannot take it meanwhile.
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", int(port)))
    finally:
        for sock in held:
            sock.close()


def test_bracketed_ipv6_address_keeps_its_brackets() -> None:
    try:
        held, listen = reserve_address("[::1]:0")
    except WorkersFailed as error:
        pytest.skip(f"no IPv6 loopback here: {error}")
    try:
        assert listen.startswith("[::1]:")
        assert int(listen.rsplit(":", 1)[1]) > 0
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize(
    ("listen", "fragment"),
    [
        ("50051", "is not host:port"),
        ("127.0.0.1:http", "is not host:port"),
        ("127.0.0.1:70000", "is not host:port"),
        ("127.0.0.1:", "is not host:port"),
        ("no-such-host.invalid:50051", "cannot resolve 'no-such-host.invalid'"),
    ],
)
def test_malformed_listen_address_is_named(listen: str, fragment: str) -> None:
    with pytest.raises(WorkersFailed) as caught:
        reserve_address(listen)
    assert fragment in str(caught.value)
    assert repr(listen) in str(caught.value)


async def test_notify_wakes_the_other_workers(tmp_path) -> None:
    woken = {index: 0 for index in range(3)}
    peers = [WorkerPeers(str(tmp_path), index, 3) for index in range(3)]
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
    assert not list(tmp_path.iterdir()), "each worker removes its socket"


async def test_notify_skips_workers_that_are_not_running(tmp_path) -> None:
    peer = WorkerPeers(str(tmp_path), 0, 4)
    peer.open(lambda: None)
    try:
        peer.notify()  # workers 1 to 3 have no socket: nothing raises
    finally:
        peer.close()


async def test_replaced_worker_takes_over_a_stale_socket(tmp_path) -> None:
    (tmp_path / "worker-1.sock").write_bytes(b"")
    woken = []
    sender, receiver = WorkerPeers(str(tmp_path), 0, 2), WorkerPeers(str(tmp_path), 1, 2)
    sender.open(lambda: None)
    receiver.open(lambda: woken.append(1))
    try:
        sender.notify()
        await asyncio.sleep(0.05)
        assert woken
    finally:
        sender.close()
        receiver.close()


def test_relay_without_the_lease_ignores_wakes() -> None:
    relay = OutboxRelay(engine=None, config=RelayConfig("nats://127.0.0.1:1", "S", "p", "registry", "urn:test"))  # type: ignore[arg-type]
    relay.wake()
    assert not relay._wakeup.is_set()
    relay.is_leader = True
    relay.wake()
    assert relay._wakeup.is_set()
