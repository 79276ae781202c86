"""free_port picks ports that outgoing connections cannot take first."""

from __future__ import annotations

import socket

from modelward_common.nats_server import ephemeral_ports, free_port


def test_free_port_avoids_ephemeral_range() -> None:
    ephemeral = ephemeral_ports()
    for _ in range(20):
        assert free_port() not in ephemeral


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert server.getsockname()[1] == port


def test_free_port_skips_bound_ports(monkeypatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        # Every candidate but one is the bound port, so only the last one can be returned.
        monkeypatch.setattr("random.sample", lambda candidates, count: [taken_port] * (count - 1) + [candidates[0]])
        assert free_port() != taken_port
