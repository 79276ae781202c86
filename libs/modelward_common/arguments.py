"""Parsers for command-line flags, shared by the CLI and both services.

Python's float() also takes "nan" and "inf", and int() takes negatives. No timeout, interval,
count or limit can use those values, so each parser here refuses them and names the value and
the fix."""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable
from typing import Any

from modelward_common.db import async_database_url


def positive_float(text: str) -> float:
    """Parse a finite number above 0, such as a timeout in seconds."""
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def non_negative_float(text: str) -> float:
    """Parse a finite number of 0 or more, such as an interval where 0 turns something off."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def positive_int(text: str) -> int:
    """Parse a whole number of 1 or more."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def non_negative_int(text: str) -> int:
    """Parse a whole number of 0 or more, such as a size where 0 turns something off."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def int_between(low: int, high: int) -> Callable[[str], int]:
    """Return a parser of whole numbers from `low` to `high`, such as sizes that gRPC keeps in 32 bits."""

    def parse(text: str) -> int:
        value = _int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; give a whole number from {low:,} to {high:,}")
        return value

    return parse


def float_between(low: float, high: float, *, zero_turns_off: bool = False) -> Callable[[str], float]:
    """Return a parser of finite numbers from `low` to `high`, and also 0 when 0 turns a feature off.

    A lower bound keeps intervals from spinning a loop: 1e-300 seconds is finite and positive.
    """

    def parse(text: str) -> float:
        value = _finite_float(text)
        if zero_turns_off and value == 0:
            return value
        if not low <= value <= high:
            off = "0 to turn it off, or " if zero_turns_off else ""
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; give {off}a number from {low:g} to {high:g}")
        return value

    return parse


# Largest count or size gRPC takes in its channel options: a signed 32-bit integer.
GRPC_INT_MAX = 2**31 - 1


def _int(text: str) -> int:
    # int() also takes "2_0" (20) and digits of other scripts, which are typos in a flag.
    if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; write digits only, such as 4")
    return int(text)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; give a number such as 30")
    return value


def database_url_argument(text: str) -> str:
    """Parse a database URL, giving a URL without a driver its async one (db.async_database_url)."""
    try:
        return async_database_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class EnvironmentValue(str):
    """A flag's default read from an environment variable, which `variable` names."""

    variable: str


def environment_default(variable: str, default: str | None = None) -> str | None:
    """Return the environment variable's value, marked with its name, or `default` when it is unset."""
    value = os.environ.get(variable)
    if value is None:
        return default
    marked = EnvironmentValue(value)
    marked.variable = variable
    return marked


def name_environment_variables(parser: argparse.ArgumentParser) -> None:
    """Wrap the type of each flag whose default came from an environment variable, so that the
    message for an invalid value names the variable.

    argparse checks a string default with the flag's type when the flag is absent, and its
    message names only the flag, although the value came from the environment.
    """
    for action in parser._actions:  # noqa: SLF001 - argparse has no public list of its actions
        if isinstance(action.default, EnvironmentValue):
            action.type = _naming_variable(action.type if callable(action.type) else str, action.default)


def _naming_variable(convert: Callable[[str], Any], default: EnvironmentValue) -> Callable[[str], Any]:
    def converted(text: str) -> Any:
        try:
            # A plain str, so no parsed value keeps the marker.
            return convert(str(text))
        except (argparse.ArgumentTypeError, ValueError, TypeError) as error:
            if text is not default:
                raise
            reason = str(error) if isinstance(error, argparse.ArgumentTypeError) else f"invalid value {text!r}"
            raise argparse.ArgumentTypeError(f"{reason} (from the environment variable {default.variable})") from error

    return converted
