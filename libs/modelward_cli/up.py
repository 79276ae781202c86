"""`modelward up`: run the embedded default stack in the foreground.

Starts three child processes in this order: a nats-server with JetStream, the registry service
on SQLite and, when it is installed, the governance service on SQLite. It waits until each is
healthy, and stops them in reverse order on SIGINT, SIGTERM or SIGHUP. Files in the data folder:

    up.lock            locked with flock(2) while `up` runs, contains the pids of `up` and its children
    ports.json         ports chosen on the first start, reused by later starts while they are free
    endpoints.json     addresses of the running services, removed when `up` stops
    admin-token        bootstrap admin API token (mode 0600), created on the first start and kept;
                       both services accept it, and the CLI and SDK send it when no other token is set
    nats-users.json, nats.conf, nats-subscriber.json
                       NATS users and permissions (mode 0600), see modelward_cli.nats_auth: each
                       service connects as its own user, and notification consumers read the
                       streams as the user in nats-subscriber.json
    registry.sqlite    registry database
    governance.sqlite  governance database
    nats/jetstream/    JetStream store
    logs/NAME.log      output of each child, appended across starts

MODELWARD_UP_REGISTRY_COMMAND and MODELWARD_UP_GOVERNANCE_COMMAND, when set, replace the
`python -m modelward_registry serve` (or governance) part of a service's command line. The value
is split with shlex and the flags are still appended. Tests use this to run a stand-in service.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import fcntl
import importlib.util
import ipaddress
import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelward_cli.nats_auth import ensure_nats_auth
from modelward_common.auth.api_tokens import generate_api_token
from modelward_common.nats_server import NatsServer, NatsServerNotFound

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_SERVICE_FAILED = 3
EXIT_LOCKED = 4

LOCK_FILE = "up.lock"
PORTS_FILE = "ports.json"
ENDPOINTS_FILE = "endpoints.json"
ADMIN_TOKEN_FILE = "admin-token"

DEFAULT_STARTUP_TIMEOUT = 30.0
# Longer than the registry's default --shutdown-grace of 10 s, so a registry that drains
# in-flight calls on SIGTERM is not killed before it finishes.
DEFAULT_STOP_TIMEOUT = 20.0
WATCH_INTERVAL = 0.25
HEALTH_POLL_INTERVAL = 0.2

# Ports that `up` tries first for a service with no port in ports.json. nats-server gets any free
# port, because 4222 is often taken by a system-wide nats-server.
PREFERRED_PORTS: dict[str, int | None] = {"nats": None, "registry": 50051, "governance": 50052}

# Health checks go to local services only, so they must not follow an HTTP proxy from the
# environment. Short reconnect backoff makes a service that starts listening late visible quickly.
_HEALTH_CHANNEL_OPTIONS = [
    ("grpc.enable_http_proxy", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]

_EXIT_CODES_HELP = f"""\
exit codes:
  {EXIT_OK}  stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP
  {EXIT_ERROR}  could not start: invalid option, port in use, service not installed, or similar
  2  invalid command line
  {EXIT_SERVICE_FAILED}  a service exited unexpectedly or did not become healthy in time
  {EXIT_LOCKED}  another 'modelward up' is running on the same data folder
"""


@dataclass(frozen=True)
class ServiceSpec:
    """A gRPC service that `up` runs as `python -m MODULE serve`."""

    name: str
    module: str
    command_override_env: str
    # Service name sent in grpc.health.v1 Check requests. The name "" stands for the whole server.
    health_service: str


REGISTRY = ServiceSpec(
    name="registry",
    module="modelward_registry",
    command_override_env="MODELWARD_UP_REGISTRY_COMMAND",
    health_service="modelward.registry.v1.RegistryService",
)
GOVERNANCE = ServiceSpec(
    name="governance",
    module="modelward_governance",
    command_override_env="MODELWARD_UP_GOVERNANCE_COMMAND",
    health_service="",
)


class StartupError(Exception):
    """The stack cannot start because of an option or the environment."""


class ServiceFailed(Exception):
    """A child process exited or did not become healthy."""

    def __init__(self, name: str, problem: str, log_path: Path) -> None:
        super().__init__(f"{name} {problem}; see its log {log_path}")
        self.name = name
        self.log_path = log_path


class StopRequested(Exception):
    """A stop signal arrived while the stack was starting."""


class DataDirLocked(Exception):
    """Another `modelward up` holds the lock of the data folder."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "pid unknown"
        stop_hint = f"'kill {pid}'" if pid else "its terminal"
        super().__init__(
            f"another modelward up ({holder}) is running on {data_dir}: stop it with Ctrl-C or "
            f"{stop_hint}, or choose another --data-dir"
        )
        self.pid = pid


# Command line


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run nats-server, the registry and the governance service locally",
        description=(
            "Run the embedded default stack in the foreground: a nats-server with JetStream, the\n"
            "registry on SQLite and, when installed, the governance service on SQLite. All data\n"
            "stays in the data folder, so a later 'modelward up' continues where this one stopped.\n"
            "Stop with Ctrl-C."
        ),
        epilog=_EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="PATH",
        default=default_data_dir(),
        help=(
            "folder for the databases, the JetStream store, logs, ports.json and endpoints.json "
            "(default: $MODELWARD_HOME when set, else ~/.modelward; now %(default)s)"
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help=(
            "address that all services listen on (default: %(default)s, reachable from this "
            "machine only); the services require tokens and NATS requires passwords, but traffic "
            "is plaintext, so use another address only on a trusted network"
        ),
    )
    parser.add_argument(
        "--nats-port",
        type=port_number,
        metavar="PORT",
        help="TCP port of nats-server (default: the port kept in ports.json when free, else any free port)",
    )
    parser.add_argument(
        "--registry-port",
        type=port_number,
        metavar="PORT",
        help=(
            "TCP port of the registry (default: the port kept in ports.json when free, "
            f"else {PREFERRED_PORTS['registry']} when free, else any free port)"
        ),
    )
    parser.add_argument(
        "--governance-port",
        type=port_number,
        metavar="PORT",
        help=(
            "TCP port of the governance service (default: the port kept in ports.json when free, "
            f"else {PREFERRED_PORTS['governance']} when free, else any free port)"
        ),
    )
    parser.add_argument(
        "--startup-timeout",
        type=positive_seconds,
        default=DEFAULT_STARTUP_TIMEOUT,
        metavar="SECONDS",
        help="seconds each service has to become healthy (default: %(default)s)",
    )
    parser.add_argument(
        "--stop-timeout",
        type=positive_seconds,
        default=DEFAULT_STOP_TIMEOUT,
        metavar="SECONDS",
        help="seconds each service has to exit after SIGTERM before it is killed (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def default_data_dir() -> Path:
    configured = os.environ.get("MODELWARD_HOME")
    if configured:
        return Path(configured)
    return Path("~/.modelward")


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected an integer from 1 to 65535")
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {port}: expected an integer from 1 to 65535")
    return port


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: expected a number above 0")
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: expected a number above 0")
    return seconds


def run(args: argparse.Namespace) -> int:
    """Run the stack until a stop signal or a child failure, and return the exit code."""
    data_dir = Path(args.data_dir).expanduser().resolve()
    try:
        (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        logger.error("failed to create the data folder %s: %s", data_dir, error)
        return EXIT_ERROR
    if not is_loopback(args.host):
        logger.warning(
            "listening on %s without TLS: tokens and NATS passwords cross the network in "
            "plaintext, so use this only on a trusted network",
            args.host,
        )

    lock = DataDirLock(data_dir)
    try:
        previous = lock.acquire()
    except DataDirLocked as error:
        logger.error("%s", error)
        return EXIT_LOCKED
    except OSError as error:
        logger.error("failed to lock %s: %s", lock.path, error)
        return EXIT_ERROR

    try:
        if previous is not None:
            logger.warning(
                "took over %s from a modelward up (pid %s) that did not stop cleanly",
                lock.path,
                previous.pid if previous.pid else "unknown",
            )
            stop_leftover_children(previous.children, data_dir, args.stop_timeout)
        config = StackConfig(
            data_dir=data_dir,
            host=args.host,
            requested_ports={
                "nats": args.nats_port,
                "registry": args.registry_port,
                "governance": args.governance_port,
            },
            startup_timeout=args.startup_timeout,
            stop_timeout=args.stop_timeout,
        )
        return Stack(config, lock).run()
    finally:
        lock.release()


# The stack


@dataclass
class StackConfig:
    data_dir: Path
    host: str
    requested_ports: dict[str, int | None] = field(default_factory=dict)
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    stop_timeout: float = DEFAULT_STOP_TIMEOUT

    @property
    def endpoints_path(self) -> Path:
        return self.data_dir / ENDPOINTS_FILE

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / ADMIN_TOKEN_FILE

    def log_path(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def sqlite_url(self, name: str) -> str:
        # An absolute path after "sqlite+aiosqlite:///" gives the four slashes SQLAlchemy expects.
        return f"sqlite+aiosqlite:///{self.data_dir / name}.sqlite"


class Child(Protocol):
    name: str
    log_path: Path

    @property
    def pid(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def stop(self, timeout: float) -> None: ...


class Stack:
    """The child processes of one `modelward up`, started in order and stopped in reverse."""

    def __init__(self, config: StackConfig, lock: DataDirLock) -> None:
        self.config = config
        self._lock = lock
        self._children: list[Child] = []
        self._admin_token_created = False
        self._stop_signal: int | None = None

    def run(self) -> int:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous_handlers = {signum: signal.signal(signum, self._on_stop_signal) for signum in handled}
        try:
            return self._start_and_watch()
        finally:
            self._stop_children()
            self.config.endpoints_path.unlink(missing_ok=True)
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signal = signum

    def _start_and_watch(self) -> int:
        try:
            endpoints = self._start_children()
        except StopRequested:
            logger.info("received %s during startup, stopping", _signal_name(self._stop_signal))
            return EXIT_OK
        except StartupError as error:
            logger.error("%s", error)
            return EXIT_ERROR
        except ServiceFailed as failure:
            logger.error("%s", failure)
            return EXIT_SERVICE_FAILED
        except OSError as error:
            logger.error("failed to start the stack in %s: %s", self.config.data_dir, error)
            return EXIT_ERROR

        try:
            write_json_atomically(self.config.endpoints_path, endpoints)
        except OSError as error:
            logger.error("failed to write %s: %s", self.config.endpoints_path, error)
            return EXIT_ERROR
        self._print_running(endpoints)

        failure = self._watch_children()
        if failure is not None:
            logger.error("%s; stopping the other services", failure)
            return EXIT_SERVICE_FAILED
        logger.info("received %s, stopping", _signal_name(self._stop_signal))
        return EXIT_OK

    def _start_children(self) -> dict[str, object]:
        config = self.config
        if not service_available(REGISTRY):
            raise StartupError(
                "the registry service is not installed (module modelward_registry.__main__ was "
                "not found): reinstall modelward with 'pip install -e .'"
            )
        names = ["nats", "registry"]
        with_governance = service_available(GOVERNANCE)
        if with_governance:
            names.append("governance")
        else:
            logger.info(
                "the governance service is not installed (module modelward_governance.__main__ "
                "was not found), starting without it"
            )
        ports = choose_ports(config.data_dir, config.host, names, config.requested_ports)
        self._admin_token_created = ensure_admin_token(config.admin_token_path)
        token_flags = ["--admin-token-file", str(config.admin_token_path)]
        client_host = client_address(config.host)

        nats_url = f"nats://{format_host(client_host)}:{ports['nats']}"
        nats_auth = ensure_nats_auth(config.data_dir, nats_url)
        self._start_nats(ports["nats"], nats_auth.config_path)

        registry_target = f"{format_host(client_host)}:{ports['registry']}"
        self._start_service(
            REGISTRY,
            service_command(
                REGISTRY, self._listen(ports["registry"]), config.sqlite_url("registry"), nats_url, extra_flags=token_flags
            ),
            registry_target,
            nats_auth.service_environment("registry"),
        )

        governance_target = None
        if with_governance:
            governance_target = f"{format_host(client_host)}:{ports['governance']}"
            command = service_command(
                GOVERNANCE,
                self._listen(ports["governance"]),
                config.sqlite_url("governance"),
                nats_url,
                extra_flags=[
                    "--registry-target", registry_target, *token_flags,
                    "--registry-token-file", str(config.admin_token_path),
                ],
            )
            self._start_service(GOVERNANCE, command, governance_target, nats_auth.service_environment("governance"))

        return build_endpoints(
            registry=registry_target,
            governance=governance_target,
            nats=nats_url,
            data_dir=config.data_dir,
            pid=os.getpid(),
            nats_subscriber=nats_auth.subscriber_path,
        )

    def _listen(self, port: int) -> str:
        return f"{format_host(self.config.host)}:{port}"

    def _start_nats(self, port: int, config_file: Path) -> None:
        server = NatsServer(self.config.data_dir / "nats", host=self.config.host, port=port, config_file=config_file)
        # NatsServer reads log_path when it starts, so all logs end up in one folder.
        server.log_path = self.config.log_path("nats")
        child = NatsChild(server)
        self._children.append(child)
        logger.info("starting nats-server on port %d, log %s", port, child.log_path)
        try:
            server.start(timeout=self.config.startup_timeout)
        except NatsServerNotFound as error:
            raise StartupError(str(error)) from error
        except (RuntimeError, TimeoutError) as error:
            raise ServiceFailed("nats", f"did not start: {error}", child.log_path) from error
        self._record_children()
        self._raise_if_stop_requested()

    def _start_service(
        self, spec: ServiceSpec, command: list[str], target: str, environment: Mapping[str, str]
    ) -> None:
        child = ServiceProcess(spec.name, command, self.config.log_path(spec.name), environment)
        logger.info("starting %s on %s, log %s", spec.name, target, child.log_path)
        try:
            child.start()
        except OSError as error:
            raise StartupError(f"cannot run {shlex.join(command)}: {error}") from error
        self._children.append(child)
        self._record_children()
        self._wait_until_serving(child, target, spec.health_service)
        logger.info("%s is serving on %s (pid %d)", spec.name, target, child.pid)

    def _wait_until_serving(self, child: Child, target: str, health_service: str) -> None:
        timeout = self.config.startup_timeout
        deadline = time.monotonic() + timeout
        last_problem = "no answer yet"
        with grpc.insecure_channel(target, options=_HEALTH_CHANNEL_OPTIONS) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service=health_service)
            while True:
                self._raise_if_stop_requested()
                status = child.poll()
                if status is not None:
                    raise ServiceFailed(child.name, f"exited during startup ({describe_exit(status)})", child.log_path)
                try:
                    response = stub.Check(request, timeout=1.0)
                except grpc.RpcError as error:
                    last_problem = f"health check failed with {error.code().name}"
                else:
                    if response.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                    status_name = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
                    last_problem = f"health check returned {status_name}"
                if time.monotonic() >= deadline:
                    raise ServiceFailed(
                        child.name,
                        f"did not report SERVING on {target} within {timeout:g} s ({last_problem})",
                        child.log_path,
                    )
                time.sleep(HEALTH_POLL_INTERVAL)

    def _raise_if_stop_requested(self) -> None:
        if self._stop_signal is not None:
            raise StopRequested()

    def _record_children(self) -> None:
        pids = {child.name: child.pid for child in self._children if child.pid is not None}
        self._lock.record_children(pids)

    def _watch_children(self) -> ServiceFailed | None:
        """Wait for a stop signal, and return the failure of the first child that exits before it."""
        while self._stop_signal is None:
            for child in self._children:
                status = child.poll()
                # A Ctrl-C in a terminal also reaches nats-server, which shares this process
                # group, so a child that exits after the signal arrived is part of the stop.
                if status is not None and self._stop_signal is None:
                    return ServiceFailed(child.name, f"exited unexpectedly ({describe_exit(status)})", child.log_path)
            time.sleep(WATCH_INTERVAL)
        return None

    def _stop_children(self) -> None:
        while self._children:
            child = self._children.pop()
            try:
                child.stop(self.config.stop_timeout)
            except OSError as error:
                logger.error("failed to stop %s (pid %s): %s", child.name, child.pid, error)
            self._record_children()

    def _print_running(self, endpoints: Mapping[str, object]) -> None:
        lines = [f"modelward is running with data in {self.config.data_dir}"]
        for name in ("registry", "governance", "nats"):
            address = endpoints[name]
            if address is None:
                lines.append(f"  {name:<11} not started: modelward_governance is not installed")
            else:
                lines.append(f"  {name:<11} {address!s:<28} log: {self.config.log_path(name)}")
        lines.append(f"Endpoints are in {self.config.endpoints_path}.")
        token_path = self.config.admin_token_path
        state = "created now" if self._admin_token_created else "kept from an earlier start"
        lines.append(f"Admin token ({state}, readable only by you): {token_path}")
        lines.append("  The modelward CLI and SDK send it automatically. For other gRPC clients:")
        lines.append(f"  export MODELWARD_TOKEN=$(cat {shlex.quote(str(token_path))})")
        lines.append("  and send the metadata 'authorization: Bearer $MODELWARD_TOKEN'.")
        lines.append(
            f"NATS has a user per service; read-only credentials for event subscribers: {endpoints['nats_subscriber']}"
        )
        lines.append(f"Stop with Ctrl-C, or with 'kill {os.getpid()}'.")
        print("\n".join(lines), flush=True)


class NatsChild:
    """Adapter that lets the stack treat a NatsServer like its other child processes."""

    name = "nats"

    def __init__(self, server: NatsServer) -> None:
        self.server = server
        self.log_path = server.log_path

    @property
    def pid(self) -> int | None:
        return self.server.process.pid if self.server.process is not None else None

    def poll(self) -> int | None:
        if self.server.process is None:
            return None
        return self.server.process.poll()

    def stop(self, timeout: float) -> None:
        self.server.stop(timeout)


class ServiceProcess:
    """A service child process with stdout and stderr appended to its log file."""

    def __init__(self, name: str, command: list[str], log_path: Path, environment: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        # Variables added to this process's environment, such as credentials, which must not
        # appear on the command line.
        self.environment = dict(environment or {})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        with open(self.log_path, "ab") as log:
            log.write(f"--- modelward up started {self.name} at {started_at}: {shlex.join(self.command)}\n".encode())
            log.flush()
            # A session of its own keeps a terminal's Ctrl-C away from the service, so that `up`
            # alone decides the order in which the services stop.
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.environment, "PYTHONUNBUFFERED": "1"},
            )

    def poll(self) -> int | None:
        if self.process is None:
            return None
        return self.process.poll()

    def stop(self, timeout: float) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s (pid %d) did not exit within %g s after SIGTERM, killing it",
                    self.name,
                    self.process.pid,
                    timeout,
                )
                self.process.kill()
                self.process.wait()
        logger.info("%s stopped (%s)", self.name, describe_exit(self.process.returncode))


def ensure_admin_token(path: Path) -> bool:
    """Create the bootstrap admin token file (mode 0600) unless it exists; return whether it was created.

    An existing file is kept, so clients keep working across restarts; its mode is tightened to
    0600 if someone loosened it.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            logger.warning("admin token file %s was readable by others; setting its mode to 0600", path)
            path.chmod(0o600)
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(generate_api_token().secret + "\n")
    logger.info("created the admin token file %s", path)
    return True


def service_available(spec: ServiceSpec) -> bool:
    """Return whether the service can run, because its command is overridden or `MODULE.__main__` exists."""
    if os.environ.get(spec.command_override_env):
        return True
    try:
        return importlib.util.find_spec(f"{spec.module}.__main__") is not None
    except ModuleNotFoundError:
        return False


def service_command(
    spec: ServiceSpec,
    listen: str,
    database_url: str,
    nats_url: str,
    *,
    extra_flags: Iterable[str] = (),
) -> list[str]:
    override = os.environ.get(spec.command_override_env)
    if override:
        base = shlex.split(override)
    else:
        base = [sys.executable, "-m", spec.module, "serve"]
    return [*base, "--listen", listen, "--database-url", database_url, "--nats-url", nats_url, *extra_flags]


# Ports


def choose_ports(
    data_dir: Path,
    host: str,
    names: Iterable[str],
    requested: Mapping[str, int | None],
    preferred: Mapping[str, int | None] = PREFERRED_PORTS,
) -> dict[str, int]:
    """Choose a port for each service and keep the choice in ports.json.

    A requested port must be free. Otherwise the port kept in ports.json is reused while it is
    free, then the preferred port, then any free port. Raises StartupError for a requested port
    in use or a host that this machine cannot listen on.
    """
    stored_ports = load_ports(data_dir)
    chosen: dict[str, int] = {}
    for name in names:
        requested_port = requested.get(name)
        if requested_port is not None:
            if requested_port in chosen.values() or not is_port_free(host, requested_port):
                raise StartupError(
                    f"port {requested_port} for {name} is in use on {host}: stop the program that uses it, "
                    f"or choose another port with --{name}-port"
                )
            chosen[name] = requested_port
            continue

        port = None
        for candidate in (stored_ports.get(name), preferred.get(name)):
            if candidate is not None and candidate not in chosen.values() and is_port_free(host, candidate):
                port = candidate
                break
        if port is None:
            port = pick_free_port(host, exclude=chosen.values())
        if stored_ports.get(name) not in (None, port):
            logger.warning(
                "port %s kept in ports.json for %s is in use, using port %d instead", stored_ports[name], name, port
            )
        chosen[name] = port

    write_json_atomically(data_dir / PORTS_FILE, {**stored_ports, **chosen})
    return chosen


def load_ports(data_dir: Path) -> dict[str, int]:
    path = data_dir / PORTS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        logger.warning("ignoring %s, which cannot be read as JSON: %s", path, error)
        return {}
    if not isinstance(document, dict):
        logger.warning("ignoring %s, which does not contain a JSON object", path)
        return {}
    return {
        name: port
        for name, port in document.items()
        if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    }


def is_port_free(host: str, port: int) -> bool:
    """Return whether a server can listen on host:port now.

    The probe sets SO_REUSEADDR like nats-server and gRPC do, so connections of a stopped server
    in TIME_WAIT do not count as a use, but a listening socket does.
    """
    family, address = _bind_address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise StartupError(f"cannot listen on {host}: {error}; use an address of this machine for --host") from error
    return True


def pick_free_port(host: str, exclude: Iterable[int] = ()) -> int:
    """Return a port that the kernel reports free on host and that is not in exclude."""
    excluded = set(exclude)
    family, address = _bind_address(host, 0)
    for _ in range(20):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(address)
            except OSError as error:
                raise StartupError(
                    f"cannot listen on {host}: {error}; use an address of this machine for --host"
                ) from error
            port = int(probe.getsockname()[1])
        if port not in excluded:
            return port
    raise StartupError(f"found no free port on {host}")


def _bind_address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[object, ...]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise StartupError(f"invalid --host {host!r}: {error}") from error
    family, _type, _proto, _name, address = infos[0]
    return family, address


# Endpoints and addresses


def build_endpoints(
    *, registry: str, governance: str | None, nats: str, data_dir: Path, pid: int, nats_subscriber: Path
) -> dict[str, object]:
    """Return the content of endpoints.json.

    registry and governance are gRPC targets (HOST:PORT), nats is a nats:// URL, and governance
    is null when the service is not installed. pid is the pid of `modelward up`, so a reader can
    tell a file left by a killed `up` from a running stack. nats_subscriber is the file with the
    read-only NATS user's credentials.
    """
    return {
        "registry": registry,
        "governance": governance,
        "nats": nats,
        "nats_subscriber": str(nats_subscriber),
        "data_dir": str(data_dir),
        "pid": pid,
    }


def write_json_atomically(path: Path, document: Mapping[str, object]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_address(host: str) -> str:
    """Return the address clients should dial for servers listening on host."""
    if host == "0.0.0.0":
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def format_host(host: str) -> str:
    """Put an IPv6 address in brackets, as HOST:PORT and URLs require."""
    return f"[{host}]" if ":" in host else host


# Lock file


@dataclass(frozen=True)
class LockRecord:
    """Content of up.lock: the pid of `up` and the pid of each child by name."""

    pid: int | None
    children: dict[str, int]


class DataDirLock:
    """Exclusive lock on a data folder, held with flock(2) on up.lock while `up` runs.

    The kernel drops a flock when its holder exits, however it exits, so a lock file left by a
    dead `up` is taken over. The file contains the pids of `up` and its children as JSON, for
    error messages and to stop children that a killed `up` left running. The file is emptied,
    not deleted, on release: deleting it would let two processes lock two different files.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> LockRecord | None:
        """Lock the data folder, and return the record of a previous `up` that did not stop cleanly.

        Raises DataDirLocked when another process holds the lock.
        """
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        lock_file = os.fdopen(descriptor, "r+", encoding="utf-8")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_lock_record(lock_file)
            lock_file.close()
            raise DataDirLocked(self.data_dir, holder.pid if holder else None) from None
        except OSError:
            lock_file.close()
            raise

        previous = _read_lock_record(lock_file)
        self._file = lock_file
        self.record_children({})
        return previous

    def record_children(self, children: Mapping[str, int]) -> None:
        if self._file is None:
            raise RuntimeError("record_children() called without holding the lock")
        self._file.seek(0)
        self._file.truncate()
        json.dump({"pid": os.getpid(), "children": dict(children)}, self._file)
        self._file.flush()

    def release(self) -> None:
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()
        self._file.close()
        self._file = None


def _read_lock_record(lock_file: IO[str]) -> LockRecord | None:
    """Return the record in an open lock file, None when it is empty."""
    lock_file.seek(0)
    text = lock_file.read().strip()
    if not text:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return LockRecord(pid=None, children={})
    if not isinstance(document, dict):
        return LockRecord(pid=None, children={})
    pid = document.get("pid")
    children = document.get("children")
    return LockRecord(
        pid=pid if isinstance(pid, int) else None,
        children={
            name: child_pid
            for name, child_pid in (children.items() if isinstance(children, dict) else ())
            if isinstance(child_pid, int) and child_pid > 0
        },
    )


def stop_leftover_children(children: Mapping[str, int], data_dir: Path, timeout: float) -> list[str]:
    """Stop children that a killed `up` left running, and return their names.

    A pid counts as such a child only while its command line contains the data folder, because
    the kernel may have given the pid of a child that exited to an unrelated process.
    """
    # NOTE: this reads /proc, so it finds leftover children on Linux only.

    # Each child has a path inside the data folder on its command line, such as a log or database.
    marker = f"{data_dir}{os.sep}".encode()
    stopped = []
    # Reverse start order, as in a normal stop: the services before nats-server.
    for name, pid in reversed(list(children.items())):
        command_line = _read_command_line(pid)
        if command_line is None or marker not in command_line or not process_is_running(pid):
            continue
        logger.warning("stopping %s (pid %d), left running by the previous modelward up", name, pid)
        terminate_pid(pid, timeout)
        stopped.append(name)
    return stopped


def _read_command_line(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def process_is_running(pid: int) -> bool:
    """Return whether pid is a live process. A zombie waiting for its parent does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # The state letter follows the command name, which is in parentheses and may contain spaces.
    state = stat[stat.rindex(")") + 2]
    return state not in "ZXx"


def terminate_pid(pid: int, timeout: float) -> None:
    """Send SIGTERM to a process that is not our child, and SIGKILL if it is still running after timeout."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not process_is_running(pid):
                return
            time.sleep(0.05)
    logger.error("pid %d is still running after SIGKILL", pid)


def describe_exit(status: int) -> str:
    """Describe a Popen return code, where a negative value is the number of the killing signal."""
    if status < 0:
        return f"killed by {_signal_name(-status)}"
    return f"exit status {status}"


def _signal_name(signum: int | None) -> str:
    if signum is None:
        return "no signal"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
