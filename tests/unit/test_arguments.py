"""Flags of both services refuse values no interval, size or limit can take, and database URLs
they cannot open with an async driver."""

from __future__ import annotations

import argparse

import pytest

from modelward_common.arguments import (
    GRPC_INT_MAX,
    database_url_argument,
    float_between,
    int_between,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from modelward_governance import config as governance_config
from modelward_registry import config as registry_config


@pytest.mark.parametrize("parse, text, value", [
    (positive_float, "2.5", 2.5),
    (non_negative_float, "0", 0.0),
    (positive_int, "3", 3),
    (non_negative_int, "0", 0),
])
def test_parsers_accept_sensible_numbers(parse, text, value) -> None:  # type: ignore[no-untyped-def]
    assert parse(text) == value


@pytest.mark.parametrize("parse, text, problem", [
    (positive_float, "nan", "not a finite number"),
    (positive_float, "inf", "not a finite number"),
    (positive_float, "0", "must be above 0"),
    (non_negative_float, "-1", "must be 0 or more"),
    (non_negative_float, "soon", "is not a number"),
    (positive_int, "0", "must be 1 or more"),
    (positive_int, "1.5", "is not a whole number"),
    # int() reads "2_0" as 20 and accepts digits of other scripts: typos, refused here.
    (positive_int, "2_0", "write digits only"),
    (positive_int, "\u0662", "write digits only"),
    (non_negative_int, "-3", "must be 0 or more"),
])
def test_parsers_name_the_value_and_rule(parse, text, problem) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        parse(text)
    assert repr(text) in str(raised.value)
    assert problem in str(raised.value)


def _parser(module) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser(exit_on_error=False)
    module.add_arguments(parser)
    return parser


@pytest.mark.parametrize("module, flag, bad", [
    (registry_config, "--shutdown-grace", "-1"),
    (registry_config, "--alias-cache-entries", "-1"),
    (registry_config, "--alias-cache-staleness", "nan"),
    (registry_config, "--rate-limit", "inf"),
    (registry_config, "--rate-burst", "0"),
    (registry_config, "--max-concurrent-rpcs", "0"),
    (registry_config, "--max-message-bytes", "lots"),
    (registry_config, "--jwt-clock-skew", "-5"),
    (governance_config, "--sweep-interval", "nan"),
    (governance_config, "--window-close-interval", "-1"),
    (governance_config, "--access-sync-interval", "inf"),
    (governance_config, "--orphan-max-idle-days", "0"),
    (governance_config, "--redundancy-threshold", "nan"),
    (governance_config, "--redundancy-threshold", "1.5"),
    (governance_config, "--redundancy-max-partners", "0"),
    (governance_config, "--redundancy-max-partners", "1001"),
    (governance_config, "--orphan-max-idle-days", "99999999999999"),
    (governance_config, "--sweep-interval", "1e-300"),
    (governance_config, "--gc-freeze-interval", "-1"),
    (governance_config, "--gc-full-interval", "nan"),
    (registry_config, "--max-message-bytes", "2147483648"),
    (governance_config, "--max-concurrent-rpcs", "2147483648"),
    (registry_config, "--alias-cache-staleness", "1e-300"),
])
def test_service_flags_refuse_impossible_numbers(module, flag, bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(argparse.ArgumentError) as raised:
        _parser(module).parse_args([flag, bad])
    assert flag in str(raised.value)


def test_environment_values_go_through_the_same_check(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MODELWARD_SWEEP_INTERVAL", "nan")
    # argparse checks a string default only when the flag is absent from the command line.
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        _parser(governance_config).parse_args([])


@pytest.mark.parametrize("module, variable, flag", [
    (governance_config, "MODELWARD_REDUNDANCY_MAX_PARTNERS", "--redundancy-max-partners"),
    (governance_config, "MODELWARD_SWEEP_INTERVAL", "--sweep-interval"),
    (registry_config, "MODELWARD_RATE_LIMIT", "--rate-limit"),
])
def test_invalid_environment_value_names_its_variable(module, variable, flag, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(variable, "abc")
    with pytest.raises(argparse.ArgumentError) as raised:
        _parser(module).parse_args([])
    assert flag in str(raised.value)
    assert f"(from the environment variable {variable})" in str(raised.value)


def test_invalid_flag_value_names_no_variable(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MODELWARD_REDUNDANCY_MAX_PARTNERS", "5")
    with pytest.raises(argparse.ArgumentError) as raised:
        _parser(governance_config).parse_args(["--redundancy-max-partners", "abc"])
    assert "environment" not in str(raised.value)
    assert _parser(governance_config).parse_args([]).redundancy_max_partners == 5


def test_zero_turns_an_interval_off() -> None:
    args = _parser(governance_config).parse_args(["--sweep-interval", "0", "--window-close-interval", "0.1"])
    assert args.sweep_interval == 0
    assert args.window_close_interval == 0.1
    args = _parser(governance_config).parse_args(["--gc-freeze-interval", "0", "--gc-full-interval", "0"])
    assert (args.gc_freeze_interval, args.gc_full_interval) == (0, 0)


def test_range_error_names_the_bounds() -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        int_between(1, GRPC_INT_MAX)("2147483648")
    assert "1 to 2,147,483,647" in str(raised.value)
    with pytest.raises(argparse.ArgumentTypeError) as interval:
        float_between(0.1, 60, zero_turns_off=True)("0.001")
    assert "0 to turn it off" in str(interval.value)


@pytest.mark.parametrize("text, url", [
    ("postgresql://ana:secret@db:5432/registry", "postgresql+asyncpg://ana:secret@db:5432/registry"),
    ("postgres://db/registry", "postgresql+asyncpg://db/registry"),
    ("postgresql+asyncpg://db/registry", "postgresql+asyncpg://db/registry"),
    ("sqlite:///data/registry.sqlite", "sqlite+aiosqlite:///data/registry.sqlite"),
    ("sqlite+aiosqlite:///registry.sqlite", "sqlite+aiosqlite:///registry.sqlite"),
])
def test_database_url_gets_async_driver(text: str, url: str) -> None:
    assert database_url_argument(text) == url


@pytest.mark.parametrize("text, named", [
    ("postgresql+psycopg2://ana:secret@db/registry", "scheme 'postgresql+psycopg2'"),
    ("mysql://ana:secret@db/registry", "scheme 'mysql'"),
    ("ana:secret@db/registry", "a text without '://'"),
])
def test_database_url_rejects_other_drivers(text: str, named: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        database_url_argument(text)
    assert named in str(raised.value)
    assert "postgresql+asyncpg://" in str(raised.value)
    assert "secret" not in str(raised.value)
