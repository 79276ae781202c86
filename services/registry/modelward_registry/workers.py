"""Run the registry as several worker processes that share one listening port.

One Python process serves the registry's calls on one core at most. `serve --workers N` starts N
processes instead, each a whole registry (gRPC server, relay, decision consumer, alias cache) on
one PostgreSQL database, as replicas behind a load balancer would be. They listen on one port
with SO_REUSEPORT and the kernel hands each new connection to one of them. A client's channel
keeps its connection, so it stays with one worker: the load spreads over connections, that is
over many serving processes, or over channels that do not share a connection.

The supervisor, `run_workers`:

- applies the schema migrations once, before any worker starts;
- checks that no other program listens on the address, then binds it with SO_REUSEPORT,
  without listening, and keeps it bound while the workers run. A port given as 0 becomes one
  port for all of them;
- gives every worker the same page token key when none is configured, so a page token from one
  worker is valid on the others;
- starts a worker that exits unexpectedly again, after a delay that grows while it keeps
  failing, and stops the registry once no worker has served for a minute;
- on SIGTERM or SIGINT stops every worker, and each drains its calls as a single registry does.

The workers share what replicas share: the database, the relay's lease (one relay publishes at a
time) and the durable consumer of governance's decisions. A commit in one worker sends a
datagram to the others, so the worker holding the lease publishes at once instead of at its
next poll. Limits that a process keeps in memory (rate limit, concurrent calls) apply per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import errno
import logging
import multiprocessing
import multiprocessing.connection
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from types import FrameType

from modelward_common.db import DatabaseUnavailable
from modelward_common.grpc_server import configure_logging
from modelward_registry.config import RegistryConfig

logger = logging.getLogger(__name__)

# A worker that exits unexpectedly is started again after a delay that doubles, from
# FIRST_RESTART_DELAY up to MAX_RESTART_DELAY seconds, while it keeps exiting within
# STEADY_AFTER seconds of its start. With no worker serving for GIVE_UP_AFTER seconds, the
# supervisor stops, so that whatever runs it (systemd, Kubernetes) learns of the failure.
FIRST_RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0
STEADY_AFTER = 60.0
GIVE_UP_AFTER = 60.0
# Seconds a worker may take from its start to serving.
STARTUP_TIMEOUT = 60.0
# A serving worker's event loop sends a heartbeat every HEARTBEAT_INTERVAL seconds. The
# supervisor kills a worker without one for HEARTBEAT_TIMEOUT seconds (stopped by SIGSTOP, or its
# loop blocked), because its listening socket would keep taking a share of new connections.
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TIMEOUT = 10.0
# Linux prctl option that sends the child a signal when its parent exits.
_PR_SET_PDEATHSIG = 1


class WorkersFailed(Exception):
    """The workers could not start, or kept exiting."""


def reserve_address(listen: str) -> tuple[list[socket.socket], str]:
    """Bind every address of `listen` with SO_REUSEPORT, without listening.

    Return the bound sockets, to keep open while the workers run, and `listen` with its port
    resolved when it was 0. Raise WorkersFailed when the address is malformed or another program
    uses it.

    NOTE: the check runs once, at start. A program of the same user that sets SO_REUSEPORT and
    binds the port later still joins the workers and receives some of the connections.
    """
    host, port = _split_listen(listen)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise WorkersFailed(f"--listen {listen!r}: cannot resolve {host!r}: {error.strerror}") from None
    reserved: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in addresses:
            # Every address after the first takes the port the first one was given.
            port = _probe(listen, family, (address[0], port, *address[2:]))
            if port is None:
                continue
            sock = socket.socket(family, kind, protocol)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((address[0], port, *address[2:]))
            reserved.append(sock)
    except BaseException:
        for sock in reserved:
            sock.close()
        raise
    if not reserved:
        raise WorkersFailed(f"--listen {listen!r}: no address of {host!r} can be bound on this machine")
    return reserved, f"{listen.rpartition(':')[0]}:{port}"


def _split_listen(listen: str) -> tuple[str | None, int]:
    host, separator, port_text = listen.rpartition(":")
    malformed = f"--listen {listen!r} is not host:port; give an address such as 0.0.0.0:50051 or [::1]:50051"
    if not separator or not host or not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise WorkersFailed(malformed)
    if host.startswith("["):
        if not host.endswith("]"):
            raise WorkersFailed(malformed)
        host = host[1:-1]
    elif ":" in host:
        raise WorkersFailed(malformed)  # an IPv6 address needs brackets: [::1]:50051
    return host, int(port_text)


def _probe(listen: str, family: int, address: tuple[object, ...]) -> int | None:
    """Bind `address` without SO_REUSEPORT to see whether a program listens there; return the port.

    A listener that set SO_REUSEPORT itself, such as another registry's workers or a gRPC server
    at its defaults, would let the workers' own binds succeed and share the port unseen. Return
    None for an address family this host lacks, such as ::1 without IPv6.
    """
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # With SO_REUSEADDR, connections of an earlier run in TIME_WAIT do not fail the bind; a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                return None
            raise WorkersFailed(
                f"--listen {listen!r}: cannot bind {address[0]} port {address[1]}: {error.strerror}; "
                "stop the program using it or choose another port"
            ) from None
        return int(probe.getsockname()[1])


class WorkerPeers:
    """Datagrams between the workers of one supervisor: "I committed events, publish them".

    Each worker binds a Unix datagram socket in Linux's abstract namespace, named after the
    supervisor's random token and the worker's number, so no file is left behind whatever way
    the processes end. notify() sends one byte to every other worker without blocking. A full
    queue on the other side means a wake is already pending there, so the datagram may be
    dropped. Another local program could send one too, and cause only a needless outbox read.
    """

    def __init__(self, token: str, index: int, count: int) -> None:
        self.index = index
        self.names = [f"\0modelward-registry-{token}-{number}" for number in range(count)]
        self._socket: socket.socket | None = None

    def open(self, on_wake: Callable[[], None]) -> None:
        """Bind this worker's socket and call `on_wake` (in the event loop) when others notify."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(self.names[self.index])
        self._socket = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._drain, on_wake)

    def _drain(self, on_wake: Callable[[], None]) -> None:
        assert self._socket is not None
        with contextlib.suppress(BlockingIOError):
            while self._socket.recv(64):
                pass
        on_wake()

    def notify(self) -> None:
        if self._socket is None:
            return
        for number, name in enumerate(self.names):
            if number != self.index:
                # A worker not running yet, or restarting, has no socket: it reads the outbox
                # when it starts anyway.
                with contextlib.suppress(OSError):
                    self._socket.sendto(b"w", name)

    def close(self) -> None:
        if self._socket is None:
            return
        asyncio.get_running_loop().remove_reader(self._socket.fileno())
        self._socket.close()
        self._socket = None


def run_workers(config: RegistryConfig) -> int:
    """Serve with `config.workers` processes until SIGTERM or SIGINT; return the exit code."""
    from modelward_registry.bootstrap import migrate_database

    configure_logging(config.log_level, process_label="supervisor")
    try:
        reserved, listen = reserve_address(config.listen)
    except WorkersFailed as error:
        logger.error("%s", error)
        return 1
    try:
        asyncio.run(migrate_database(config.database_url))
        worker_config = dataclasses.replace(
            config, listen=listen, workers=1, reuse_port=True,
            page_token_key=config.page_token_key or secrets.token_urlsafe(32),
        )
        return Supervisor(worker_config, config.workers, secrets.token_hex(8)).run()
    finally:
        for sock in reserved:
            sock.close()


@dataclass
class _Worker:
    index: int
    process: BaseProcess
    ready: multiprocessing.connection.Connection
    started_at: float = field(default_factory=time.monotonic)
    # Exits in a row, each within STEADY_AFTER seconds of its start.
    failures: int = 0
    # When to start this worker again after it exited (monotonic), or None while it runs.
    restart_at: float | None = None
    # Whether it reported serving; a worker that fails while it starts never does.
    serving: bool = False
    # When its last message (the ready message or a heartbeat) came (monotonic).
    heard_at: float = field(default_factory=time.monotonic)

    def check_serving(self) -> bool:
        """Read the worker's messages that came (ready, heartbeats) and return whether it serves now."""
        if self.restart_at is None:
            with contextlib.suppress(EOFError, OSError):
                while self.ready.poll():
                    self.ready.recv()
                    self.serving = True
                    self.heard_at = time.monotonic()
        return self.serving and self.restart_at is None and self.process.is_alive()

    def silent_for(self, now: float) -> float:
        """Return the seconds since a serving worker's last message, 0 for a worker not serving."""
        if not self.serving or self.restart_at is not None:
            return 0.0
        return now - self.heard_at


class Supervisor:
    """Starts the workers, restarts the ones that exit unexpectedly, and stops them all."""

    def __init__(self, config: RegistryConfig, count: int, peers_token: str) -> None:
        self.config = config
        self.count = count
        self.peers_token = peers_token
        self.workers: dict[int, _Worker] = {}
        # Since when (monotonic) no worker has been serving, or None.
        self._none_running_since: float | None = None
        self._context = multiprocessing.get_context("spawn")
        self._stop_signal: int | None = None

    def run(self) -> int:
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in handled}
        try:
            for index in range(self.count):
                self._start(index)
            self._wait_ready()
            if self._stop_signal is None:
                logger.info("registry serving on %s with %d workers", self.config.listen, self.count)
            self._watch()
            return 0
        except WorkersFailed as error:
            logger.error("%s", error)
            return 1
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signal = signum

    def _start(self, index: int, failures: int = 0) -> None:
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_worker_main, args=(self.config, index, self.count, self.peers_token, os.getpid(), writer),
            name=f"modelward-registry-worker-{index}",
        )
        process.start()
        writer.close()
        self.workers[index] = _Worker(index, process, reader, failures=failures)

    def _wait_ready(self) -> None:
        waiting = dict(self.workers)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while waiting and self._stop_signal is None:
            if time.monotonic() > deadline:
                raise WorkersFailed(f"workers {sorted(waiting)} did not start serving within {STARTUP_TIMEOUT:.0f} s")
            handles = [handle for worker in waiting.values() for handle in (worker.ready, worker.process.sentinel)]
            multiprocessing.connection.wait(handles, timeout=0.2)
            for index, worker in list(waiting.items()):
                if worker.check_serving():
                    del waiting[index]
                    continue
                if not worker.process.is_alive():
                    raise WorkersFailed(
                        f"registry worker {index} exited with code {worker.process.exitcode} while starting; "
                        "its log lines above say why"
                    )

    def _watch(self) -> None:
        while self._stop_signal is None:
            sentinels = [worker.process.sentinel for worker in self.workers.values() if worker.restart_at is None]
            multiprocessing.connection.wait(sentinels, timeout=0.2)
            if self._stop_signal is not None:
                return
            now = time.monotonic()
            for worker in list(self.workers.values()):
                if worker.restart_at is None and not worker.process.is_alive():
                    self._schedule_restart(worker, now)
                elif worker.check_serving() and worker.silent_for(now) > HEARTBEAT_TIMEOUT:
                    logger.error(
                        "registry worker %d (pid %s) sent no heartbeat for %.0f s (stopped, or its event loop "
                        "blocked); killing it",
                        worker.index, worker.process.pid, worker.silent_for(now),
                    )
                    worker.process.kill()
                elif worker.restart_at is not None and now >= worker.restart_at:
                    worker.ready.close()
                    self._start(worker.index, worker.failures)
            self._check_some_running(now)

    def _schedule_restart(self, worker: _Worker, now: float) -> None:
        ran = now - worker.started_at
        worker.failures = 0 if ran >= STEADY_AFTER else worker.failures + 1
        delay = 0.0 if worker.failures == 0 else min(MAX_RESTART_DELAY, FIRST_RESTART_DELAY * 2 ** (worker.failures - 1))
        worker.restart_at = now + delay
        logger.error(
            "registry worker %d (pid %s) exited with code %s after %.0f s; starting a new one in %.1f s",
            worker.index, worker.process.pid, worker.process.exitcode, ran, delay,
        )

    def _check_some_running(self, now: float) -> None:
        # Evaluate every worker, so each one's ready message is read as it comes.
        if any([worker.check_serving() for worker in self.workers.values()]):
            self._none_running_since = None
            return
        if self._none_running_since is None:
            self._none_running_since = now
        elif now - self._none_running_since > GIVE_UP_AFTER:
            raise WorkersFailed(f"no registry worker has served for {GIVE_UP_AFTER:.0f} s; stopping the registry")

    def _stop_all(self) -> None:
        for worker in self.workers.values():
            if worker.restart_at is None and worker.process.is_alive():
                worker.process.terminate()
        # Each worker waits up to the grace period for its calls, then stops its relay and consumer.
        deadline = time.monotonic() + self.config.shutdown_grace + 15
        for worker in self.workers.values():
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                logger.error("registry worker %d did not stop in time; killing it", worker.index)
                worker.process.kill()
                worker.process.join()
            worker.ready.close()
        if self.workers:
            logger.info("registry workers stopped")


def _worker_main(
    config: RegistryConfig, index: int, count: int, peers_token: str, supervisor: int,
    ready: multiprocessing.connection.Connection,
) -> None:
    """Run one registry in this worker process, its log lines marked with its number."""
    # Ctrl-C reaches every process of the terminal's group. The supervisor turns it into SIGTERM
    # for the workers, and serve() handles SIGINT once it runs, so a worker still starting up
    # does not stop with a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with(supervisor)
    configure_logging(config.log_level, process_label=f"worker {index}")
    from modelward_registry.bootstrap import serve

    peers = WorkerPeers(peers_token, index, count)
    heartbeats: list[asyncio.Task[None]] = []

    def on_ready(port: int) -> None:
        ready.send(port)
        heartbeats.append(asyncio.get_running_loop().create_task(_send_heartbeats(ready), name="worker-heartbeat"))

    try:
        asyncio.run(serve(config, peers=peers, on_ready=on_ready))
    except DatabaseUnavailable as error:
        logger.error("%s", error)
        sys.exit(1)


async def _send_heartbeats(ready: multiprocessing.connection.Connection) -> None:
    """Tell the supervisor every HEARTBEAT_INTERVAL seconds that this worker's event loop runs."""
    while True:
        await asyncio.sleep(HEARTBEAT_INTERVAL)
        try:
            ready.send(None)
        except OSError as error:
            # The supervisor is gone; PR_SET_PDEATHSIG stops this worker.
            logger.warning("cannot send a heartbeat to the supervisor: %s", error)
            return


def _exit_with(supervisor: int) -> None:
    """Ask Linux to send SIGTERM to this worker when the supervisor dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:
        os._exit(1)  # the supervisor died before the request above took effect
