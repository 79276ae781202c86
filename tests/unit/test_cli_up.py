"""Unit tests of `modelward up`: options, port choice, the data-folder lock and endpoints.json."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelward_cli import main as cli
from modelward_cli import up
from modelward_cli.nats_auth import ensure_nats_auth
from modelward_common.nats_permissions import COMPOSE_PASSWORD_VARIABLES, NatsLayout, render_config

REPOSITORY = Path(__file__).resolve().parents[2]

UP_OPTIONS = [
    "--data-dir",
    "--host",
    "--nats-port",
    "--registry-port",
    "--governance-port",
    "--startup-timeout",
    "--stop-timeout",
]


def parse_up(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["up", *argv])


def up_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser()
    subparsers = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return subparsers.choices["up"]


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 with a listening socket on it for the duration of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def dead_pid() -> int:
    """Return the pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# Command line


def test_up_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELWARD_HOME", raising=False)
    args = parse_up()
    assert args.data_dir == Path("~/.modelward")
    assert args.host == "127.0.0.1"
    assert args.nats_port is None
    assert args.registry_port is None
    assert args.governance_port is None
    assert args.startup_timeout == 30.0
    assert args.stop_timeout == 20.0
    assert args.handler is up.run


def test_up_data_dir_from_modelward_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELWARD_HOME", str(tmp_path / "home"))
    assert parse_up().data_dir == tmp_path / "home"
    assert parse_up("--data-dir", str(tmp_path / "other")).data_dir == tmp_path / "other"


def test_up_accepts_ports_and_timeouts() -> None:
    args = parse_up(
        "--host", "::1",
        "--nats-port", "1",
        "--registry-port", "65535",
        "--governance-port", "50052",
        "--startup-timeout", "2.5",
        "--stop-timeout", "0.5",
    )
    assert args.host == "::1"
    assert args.nats_port == 1
    assert args.registry_port == 65535
    assert args.governance_port == 50052
    assert args.startup_timeout == 2.5
    assert args.stop_timeout == 0.5


@pytest.mark.parametrize(
    "argv",
    [
        ["--registry-port", "0"],
        ["--nats-port", "65536"],
        ["--governance-port", "fifty"],
        ["--startup-timeout", "0"],
        ["--stop-timeout", "-1"],
        ["--stop-timeout", "soon"],
        ["--startup-timeout", "nan"],
    ],
)
def test_up_rejects_invalid_values(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_up(*argv)
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "invalid" in capsys.readouterr().err


def test_up_help_states_default_of_every_option() -> None:
    for action in up_parser()._actions:
        if action.option_strings == ["-h", "--help"]:
            continue
        assert action.help is not None, action.option_strings
        assert "default" in action.help, action.option_strings
    documented = {option for action in up_parser()._actions for option in action.option_strings}
    assert documented >= set(UP_OPTIONS)


def test_up_help_states_units_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["up", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "seconds each service has to become healthy" in text
    assert "TCP port of the registry" in text
    assert "~/.modelward" in text
    assert "exit codes:" in text
    assert f"{up.EXIT_LOCKED}  another 'modelward up'" in text


def test_main_without_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EXIT_USAGE
    assert "usage: modelward" in capsys.readouterr().err


def test_every_subcommand_sets_handler() -> None:
    parser = cli.build_parser()
    subparsers = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert set(subparsers.choices) >= {"up"}
    for name, subparser in subparsers.choices.items():
        assert callable(subparser.get_default("handler")), name


# Service commands


def test_registry_command_runs_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(up.REGISTRY.command_override_env, raising=False)
    command = up.service_command(
        up.REGISTRY, "127.0.0.1:50051", "sqlite+aiosqlite:////data/registry.sqlite", "nats://127.0.0.1:4300"
    )
    assert command == [
        sys.executable, "-m", "modelward_registry", "serve",
        "--listen", "127.0.0.1:50051",
        "--database-url", "sqlite+aiosqlite:////data/registry.sqlite",
        "--nats-url", "nats://127.0.0.1:4300",
    ]


def test_governance_command_has_registry_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(up.GOVERNANCE.command_override_env, raising=False)
    command = up.service_command(
        up.GOVERNANCE, "127.0.0.1:50052", "sqlite+aiosqlite:////d/governance.sqlite", "nats://127.0.0.1:4300",
        extra_flags=["--registry-target", "127.0.0.1:50051"],
    )
    assert command[:4] == [sys.executable, "-m", "modelward_governance", "serve"]
    assert command[-2:] == ["--registry-target", "127.0.0.1:50051"]


def test_command_override_replaces_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(up.REGISTRY.command_override_env, "/opt/py '/tmp/stand in.py' --verbose")
    command = up.service_command(up.REGISTRY, "127.0.0.1:1", "sqlite+aiosqlite:////x", "nats://127.0.0.1:2")
    assert command[:3] == ["/opt/py", "/tmp/stand in.py", "--verbose"]
    assert command[3:5] == ["--listen", "127.0.0.1:1"]


def test_service_available_checks_main_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(up.GOVERNANCE.command_override_env, raising=False)
    monkeypatch.setattr(up.importlib.util, "find_spec", lambda name: None)
    assert up.service_available(up.GOVERNANCE) is False

    monkeypatch.setenv(up.GOVERNANCE.command_override_env, "python stand_in.py")
    assert up.service_available(up.GOVERNANCE) is True


def test_service_available_without_package(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = up.ServiceSpec(
        name="absent", module="modelward_no_such_package", command_override_env="MODELWARD_UP_ABSENT", health_service=""
    )
    monkeypatch.delenv("MODELWARD_UP_ABSENT", raising=False)
    assert up.service_available(spec) is False


def test_sqlite_url_is_absolute() -> None:
    config = up.StackConfig(data_dir=Path("/srv/modelward"), host="127.0.0.1")
    assert config.sqlite_url("registry") == "sqlite+aiosqlite:////srv/modelward/registry.sqlite"
    assert config.log_path("nats") == Path("/srv/modelward/logs/nats.log")


# Ports


def test_choose_ports_keeps_first_choice(tmp_path: Path) -> None:
    no_preference = {"nats": None, "registry": None}
    first = up.choose_ports(tmp_path, "127.0.0.1", ["nats", "registry"], {}, no_preference)
    assert first["nats"] != first["registry"]
    assert json.loads((tmp_path / "ports.json").read_text()) == first

    second = up.choose_ports(tmp_path, "127.0.0.1", ["nats", "registry"], {}, no_preference)
    assert second == first


def test_choose_ports_replaces_kept_port_in_use(
    tmp_path: Path, listening_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "ports.json").write_text(json.dumps({"nats": listening_port}))
    with caplog.at_level(logging.WARNING, logger=up.logger.name):
        chosen = up.choose_ports(tmp_path, "127.0.0.1", ["nats"], {}, {"nats": None})
    assert chosen["nats"] != listening_port
    assert json.loads((tmp_path / "ports.json").read_text())["nats"] == chosen["nats"]
    assert f"port {listening_port} kept in ports.json for nats is in use" in caplog.text


def test_choose_ports_prefers_preferred_port(tmp_path: Path) -> None:
    preferred = up.pick_free_port("127.0.0.1")
    chosen = up.choose_ports(tmp_path, "127.0.0.1", ["registry"], {}, {"registry": preferred})
    assert chosen == {"registry": preferred}


def test_choose_ports_skips_preferred_port_in_use(tmp_path: Path, listening_port: int) -> None:
    chosen = up.choose_ports(tmp_path, "127.0.0.1", ["registry"], {}, {"registry": listening_port})
    assert chosen["registry"] != listening_port


def test_choose_ports_gives_each_service_its_own_port(tmp_path: Path) -> None:
    shared = up.pick_free_port("127.0.0.1")
    chosen = up.choose_ports(
        tmp_path, "127.0.0.1", ["registry", "governance"], {}, {"registry": shared, "governance": shared}
    )
    assert chosen["registry"] == shared
    assert chosen["governance"] != shared


def test_choose_ports_uses_requested_port(tmp_path: Path) -> None:
    (tmp_path / "ports.json").write_text(json.dumps({"registry": 1}))
    requested = up.pick_free_port("127.0.0.1")
    chosen = up.choose_ports(tmp_path, "127.0.0.1", ["registry"], {"registry": requested})
    assert chosen == {"registry": requested}
    assert json.loads((tmp_path / "ports.json").read_text()) == {"registry": requested}


def test_choose_ports_rejects_requested_port_in_use(tmp_path: Path, listening_port: int) -> None:
    with pytest.raises(up.StartupError) as error:
        up.choose_ports(tmp_path, "127.0.0.1", ["registry"], {"registry": listening_port})
    assert f"port {listening_port} for registry is in use" in str(error.value)
    assert "--registry-port" in str(error.value)


def test_choose_ports_keeps_ports_of_services_not_started(tmp_path: Path) -> None:
    (tmp_path / "ports.json").write_text(json.dumps({"governance": 50052}))
    chosen = up.choose_ports(tmp_path, "127.0.0.1", ["nats"], {}, {"nats": None})
    saved = json.loads((tmp_path / "ports.json").read_text())
    assert saved == {"governance": 50052, "nats": chosen["nats"]}


@pytest.mark.parametrize(
    "content",
    ["not json", "[4222]", json.dumps({"nats": "4222", "registry": 70000, "governance": True})],
)
def test_choose_ports_ignores_invalid_ports_file(tmp_path: Path, content: str) -> None:
    (tmp_path / "ports.json").write_text(content)
    chosen = up.choose_ports(tmp_path, "127.0.0.1", ["nats"], {}, {"nats": None})
    assert json.loads((tmp_path / "ports.json").read_text()) == chosen


def test_is_port_free(listening_port: int) -> None:
    assert up.is_port_free("127.0.0.1", listening_port) is False
    assert up.is_port_free("127.0.0.1", up.pick_free_port("127.0.0.1")) is True


def test_is_port_free_rejects_invalid_host() -> None:
    with pytest.raises(up.StartupError) as error:
        up.is_port_free("no-such-host.invalid", 4222)
    assert "invalid --host 'no-such-host.invalid'" in str(error.value)


# Addresses and endpoints.json


@pytest.mark.parametrize(
    ("host", "client", "formatted", "loopback"),
    [
        ("127.0.0.1", "127.0.0.1", "127.0.0.1", True),
        ("localhost", "localhost", "localhost", True),
        ("::1", "::1", "[::1]", True),
        ("0.0.0.0", "127.0.0.1", "0.0.0.0", False),
        ("::", "::1", "[::]", False),
        ("192.0.2.7", "192.0.2.7", "192.0.2.7", False),
    ],
)
def test_addresses(host: str, client: str, formatted: str, loopback: bool) -> None:
    assert up.client_address(host) == client
    assert up.format_host(host) == formatted
    assert up.is_loopback(host) is loopback


def test_endpoints_content(tmp_path: Path) -> None:
    document = up.build_endpoints(
        registry="127.0.0.1:50051",
        governance=None,
        nats="nats://127.0.0.1:4300",
        data_dir=tmp_path,
        pid=1234,
        nats_subscriber=tmp_path / "nats-subscriber.json",
    )
    up.write_json_atomically(tmp_path / "endpoints.json", document)
    assert json.loads((tmp_path / "endpoints.json").read_text()) == {
        "registry": "127.0.0.1:50051",
        "governance": None,
        "nats": "nats://127.0.0.1:4300",
        "nats_subscriber": str(tmp_path / "nats-subscriber.json"),
        "data_dir": str(tmp_path),
        "pid": 1234,
    }
    assert [path.name for path in tmp_path.iterdir()] == ["endpoints.json"]


@pytest.mark.parametrize(
    ("status", "text"),
    [(0, "exit status 0"), (2, "exit status 2"), (-9, "killed by SIGKILL"), (-200, "killed by signal 200")],
)
def test_describe_exit(status: int, text: str) -> None:
    assert up.describe_exit(status) == text


# Lock file


def test_lock_records_pid_and_children(tmp_path: Path) -> None:
    lock = up.DataDirLock(tmp_path)
    assert lock.acquire() is None
    assert json.loads(lock.path.read_text()) == {"pid": os.getpid(), "children": {}}

    lock.record_children({"nats": 11, "registry": 12})
    assert json.loads(lock.path.read_text()) == {"pid": os.getpid(), "children": {"nats": 11, "registry": 12}}

    lock.release()
    assert lock.path.read_text() == ""
    assert lock.acquire() is None
    lock.release()


def test_lock_rejects_second_holder(tmp_path: Path) -> None:
    first = up.DataDirLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(up.DataDirLocked) as error:
            up.DataDirLock(tmp_path).acquire()
    finally:
        first.release()
    assert error.value.pid == os.getpid()
    assert f"(pid {os.getpid()}) is running on {tmp_path}" in str(error.value)
    assert "--data-dir" in str(error.value)


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from modelward_cli.up import DataDirLock
    lock = DataDirLock(Path(sys.argv[1]))
    lock.acquire()
    print("locked", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate process that holds the lock of tmp_path until it is killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    yield holder
    holder.kill()
    holder.wait()
    holder.stdout.close()


def test_lock_rejects_holder_in_other_process(tmp_path: Path, lock_holder: subprocess.Popen[str]) -> None:
    with pytest.raises(up.DataDirLocked) as error:
        up.DataDirLock(tmp_path).acquire()
    assert error.value.pid == lock_holder.pid


def test_lock_taken_over_after_holder_killed(tmp_path: Path, lock_holder: subprocess.Popen[str]) -> None:
    lock_holder.kill()
    lock_holder.wait()

    lock = up.DataDirLock(tmp_path)
    previous = lock.acquire()
    lock.release()
    assert previous == up.LockRecord(pid=lock_holder.pid, children={})


def test_lock_takes_over_stale_lock_file(tmp_path: Path) -> None:
    stale_pid = dead_pid()
    (tmp_path / "up.lock").write_text(json.dumps({"pid": stale_pid, "children": {"nats": 41, "registry": 42}}))

    lock = up.DataDirLock(tmp_path)
    previous = lock.acquire()
    assert previous == up.LockRecord(pid=stale_pid, children={"nats": 41, "registry": 42})
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()


@pytest.mark.parametrize("content", ["garbage", "[1, 2]", '{"pid": "x", "children": [3]}'])
def test_lock_takes_over_unreadable_lock_file(tmp_path: Path, content: str) -> None:
    (tmp_path / "up.lock").write_text(content)
    lock = up.DataDirLock(tmp_path)
    assert lock.acquire() == up.LockRecord(pid=None, children={})
    lock.release()


def test_run_exits_when_data_dir_locked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lock = up.DataDirLock(tmp_path)
    lock.acquire()
    try:
        with caplog.at_level(logging.ERROR, logger=up.logger.name):
            status = up.run(parse_up("--data-dir", str(tmp_path)))
    finally:
        lock.release()
    assert status == up.EXIT_LOCKED
    assert "another modelward up" in caplog.text


def test_run_exits_without_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(up, "service_available", lambda spec: False)
    with caplog.at_level(logging.ERROR, logger=up.logger.name):
        status = up.run(parse_up("--data-dir", str(tmp_path)))
    assert status == up.EXIT_ERROR
    assert "the registry service is not installed" in caplog.text
    assert not (tmp_path / "endpoints.json").exists()
    assert (tmp_path / "up.lock").read_text() == ""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# Leftover children


SLEEP = "import time; time.sleep(60)"


def test_stop_leftover_children_stops_only_data_dir_processes(tmp_path: Path) -> None:
    leftover = subprocess.Popen([sys.executable, "-c", SLEEP, str(tmp_path / "logs" / "nats.log")])
    unrelated = subprocess.Popen([sys.executable, "-c", SLEEP, str(tmp_path) + "-other/nats.log"])
    try:
        stopped = up.stop_leftover_children(
            {"nats": leftover.pid, "registry": unrelated.pid, "governance": dead_pid()}, tmp_path, timeout=10
        )
        assert stopped == ["nats"]
        assert leftover.wait(10) == -signal.SIGTERM
        assert unrelated.poll() is None
    finally:
        for process in (leftover, unrelated):
            process.kill()
            process.wait()


def test_process_is_running() -> None:
    process = subprocess.Popen([sys.executable, "-c", SLEEP])
    try:
        assert up.process_is_running(process.pid) is True
        process.kill()
        deadline = time.monotonic() + 10
        while up.process_is_running(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Not reaped yet, so the pid is a zombie, which does not count as running.
        assert up.process_is_running(process.pid) is False
    finally:
        process.kill()
        process.wait()
    assert up.process_is_running(process.pid) is False


def test_nats_auth_environment_carries_password(tmp_path: Path) -> None:
    auth = ensure_nats_auth(tmp_path, "nats://127.0.0.1:4300")
    environment = auth.service_environment("registry")
    assert environment["MODELWARD_NATS_USER"] == "registry"
    assert environment["MODELWARD_NATS_PASSWORD"] == auth.passwords["registry"]
    assert environment["MODELWARD_NATS_CREDS_FILE"] == ""
    config = auth.config_path.read_text()
    for user in ("registry", "governance", "subscriber"):
        assert json.dumps(auth.passwords[user]) in config


def test_nats_auth_adds_missing_user(tmp_path: Path) -> None:
    (tmp_path / "nats-users.json").write_text(json.dumps({"registry": "kept-password"}))
    auth = ensure_nats_auth(tmp_path, "nats://127.0.0.1:4300")
    assert auth.passwords["registry"] == "kept-password"
    assert auth.passwords["governance"]
    assert json.loads((tmp_path / "nats-users.json").read_text()) == auth.passwords
    assert (tmp_path / "nats-users.json").stat().st_mode & 0o777 == 0o600


def test_nats_auth_rejects_invalid_users_file(tmp_path: Path) -> None:
    (tmp_path / "nats-users.json").write_text("{not json")
    with pytest.raises(OSError, match="delete it"):
        ensure_nats_auth(tmp_path, "nats://127.0.0.1:4300")


def test_deploy_nats_config_matches_permissions() -> None:
    """deploy/nats/nats.conf, mounted by docker-compose.yml, is the rendered default layout."""
    expected = render_config(NatsLayout(), COMPOSE_PASSWORD_VARIABLES)
    assert (REPOSITORY / "deploy" / "nats" / "nats.conf").read_text() == expected
