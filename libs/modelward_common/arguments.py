"""Number parsers for command-line flags, shared by the CLI and both services.

Python's float() also takes "nan" and "inf", and int() takes negatives; none of those makes
sense as a timeout, interval, count or limit, so each parser names the value and the fix.
"""

from __future__ import annotations

import argparse
import math


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


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; give a number such as 30")
    return value
