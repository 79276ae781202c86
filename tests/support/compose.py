"""docker-compose.yml and the Dockerfile read as Docker reads them, without a Docker daemon.

`load_compose` parses the compose file and substitutes variables by the Compose rules that the
file uses (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$VAR`
and `$$`). `ServiceAddresses` maps the names and ports by which compose services reach each
other (`postgres:5432`, `registry:50051`) onto 127.0.0.1 ports of servers a test starts. It
rewrites a service's environment with that map, so a test runs each process with the values
compose would give it, changing only addresses, paths and names.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
POSTGRES_INIT_DIR = ROOT / "deploy" / "postgres-init"
# Where Compose mounts a service's secrets.
SECRETS_DIR = "/run/secrets/"

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_ADDRESS = re.compile(r"(?P<host>[A-Za-z0-9_.-]+):(?P<port>\d+)")
_CREATE_DATABASE = re.compile(r"CREATE\s+DATABASE\s+(?P<name>[a-z_][a-z0-9_]*)", re.IGNORECASE)


class MissingVariable(ValueError):
    """A `${VAR:?message}` or `${VAR?message}` whose variable is unset: Compose refuses to start."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name
        self.message = message


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Substitute variables in one string as Compose does."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        value = variables.get(name)
        operator, argument = match["operator"], match["argument"] or ""
        # With a colon, an empty value counts as unset.
        unset = value is None or (operator is not None and operator.startswith(":") and value == "")
        if operator and operator.endswith("-") and unset:
            return argument
        if operator and operator.endswith("?") and unset:
            raise MissingVariable(name, argument)
        return value or ""

    return _VARIABLE.sub(substitute, text)


def _interpolate_tree(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, variables) for key, value in node.items()}
    return node


def load_compose(variables: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """Parse the compose file, merge its YAML anchors and substitute `variables`."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return _interpolate_tree(document, variables)  # type: ignore[no-any-return]


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """Return a service's `environment`, written as a mapping or as a list of NAME=value."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {name: "" if value is None else str(value) for name, value in environment.items()}


def published_ports(service: Mapping[str, Any]) -> list[int]:
    """Return the container ports of a service's `ports`, written as `[host_ip:]host_port:container_port`."""
    return [int(str(entry).rsplit(":", 1)[-1].split("/")[0]) for entry in service.get("ports", [])]


def start_order(services: Mapping[str, Any]) -> list[str]:
    """Order the services so each comes after everything in its `depends_on`, as Compose starts them."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        assert name not in visiting, f"depends_on has a cycle through {name}"
        visiting.add(name)
        for dependency in services[name].get("depends_on", {}):
            assert dependency in services, f"{name} depends on {dependency}, which is not a service"
            visit(dependency)
        visiting.discard(name)
        ordered.append(name)

    for name in services:
        visit(name)
    return ordered


def init_database_names(directory: Path = POSTGRES_INIT_DIR) -> list[str]:
    """Return the databases the postgres image's init scripts create, in the order it runs them.

    The image runs the `.sql` files in name order. A statement other than CREATE DATABASE fails
    the test, so a new kind of statement is noticed and this reader taught about it.
    """
    names = []
    for script in sorted(directory.glob("*.sql")):
        text = "\n".join(line.split("--", 1)[0] for line in script.read_text(encoding="utf-8").splitlines())
        for statement in (part.strip() for part in text.split(";")):
            if not statement:
                continue
            match = _CREATE_DATABASE.fullmatch(statement)
            assert match, f"{script.name}: the compose test reads only CREATE DATABASE statements, not {statement!r}"
            names.append(match["name"])
    return names


@dataclass
class ServiceAddresses:
    """Where each compose address of the test's stack really is.

    `ports` maps (service, container port) to a port on 127.0.0.1. `postgres_user` and
    `databases` rename the compose PostgreSQL user and databases to the test's own role and
    databases on the shared server; `secrets` maps a secret's name to the file that contains it;
    `image_paths` maps folders inside the image, such as its home folder, to local folders.
    """

    ports: dict[tuple[str, int], int]
    postgres_service: str
    postgres_user: tuple[str, str]
    databases: dict[str, str]
    secrets: dict[str, Path]
    image_paths: dict[str, Path] = field(default_factory=dict)

    def address(self, service: str, port: int) -> str:
        assert (service, port) in self.ports, (
            f"{service}:{port} is not an address of the stack: the service publishes {self._ports_of(service)}"
        )
        return f"127.0.0.1:{self.ports[service, port]}"

    def _ports_of(self, service: str) -> list[int]:
        return sorted(port for name, port in self.ports if name == service)

    def map_environment(self, service: str, environment: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
        """Rewrite a compose service's environment for a process on this machine.

        Raises AssertionError when a value names an address, secret or database that compose would
        not provide to this service, such as a port the target does not listen on.
        """
        mounted = set(secrets)
        return {name: self.map_value(service, name, value, mounted) for name, value in environment.items()}

    def map_value(self, service: str, name: str, value: str, mounted_secrets: set[str]) -> str:
        if value.startswith(SECRETS_DIR):
            secret = value.removeprefix(SECRETS_DIR)
            assert secret in mounted_secrets, f"{service}: {name} reads secret {secret!r}, which is not mounted"
            return str(self.secrets[secret])
        for image_path, local_path in self.image_paths.items():
            if value == image_path or value.startswith(image_path + "/"):
                return str(local_path) + value.removeprefix(image_path)
        if "://" in value:
            return self._map_url(service, name, value)
        match = _ADDRESS.fullmatch(value)
        if match is None:
            return value
        host, port = match["host"], int(match["port"])
        if host == "0.0.0.0":
            # A listen address: the port must be one the service publishes, and here it listens on
            # loopback only.
            return self.address(service, port)
        return self.address(host, port)

    def _map_url(self, service: str, name: str, url: str) -> str:
        parts = urlsplit(url)
        assert parts.hostname and parts.port, f"{service}: {name} must name a host and a port, not {url!r}"
        address = self.address(parts.hostname, parts.port)
        userinfo = ""
        path = parts.path
        if parts.hostname == self.postgres_service:
            compose_user, local_user = self.postgres_user
            assert parts.username == compose_user, f"{service}: {name} logs in as {parts.username!r}, not {compose_user!r}"
            database = path.removeprefix("/")
            assert database in self.databases, (
                f"{service}: {name} names database {database!r}, which the init scripts do not create "
                f"(they create {sorted(self.databases)})"
            )
            path = "/" + self.databases[database]
            userinfo = local_user + (f":{parts.password}" if parts.password is not None else "") + "@"
        elif parts.username is not None:
            userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "") + "@"
        return urlunsplit((parts.scheme, userinfo + address, path, parts.query, parts.fragment))


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """Return the Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    instructions = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        instruction, _, arguments = whole.partition(" ")
        instructions.append((instruction.upper(), arguments.strip()))
    return instructions


def dockerfile_environment(path: Path = DOCKERFILE) -> dict[str, str]:
    """Return the variables the image's ENV instructions set (the `ENV NAME=value ...` form)."""
    environment: dict[str, str] = {}
    for instruction, arguments in dockerfile_instructions(path):
        if instruction != "ENV":
            continue
        for assignment in shlex.split(arguments):
            assert "=" in assignment, f"Dockerfile: write ENV as NAME=value, not {assignment!r}"
            variable, value = assignment.split("=", 1)
            environment[variable] = interpolate(value, environment)
    return environment
