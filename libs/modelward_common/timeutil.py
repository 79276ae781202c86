"""UTC timestamps that read back the same from PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from modelward_common.errors import InvalidArgument

# The range that google/protobuf/timestamp.proto defines: 0001-01-01T00:00:00Z to
# 9999-12-31T23:59:59.999999999Z.
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799
MAX_TIMESTAMP_NANOS = 999_999_999
# The range that google/protobuf/duration.proto defines: about +-10,000 years, with nanos of
# the same sign as seconds.
MAX_DURATION_SECONDS = 315_576_000_000
MAX_DURATION_NANOS = 999_999_999


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime with microsecond precision on both backends.

    SQLite stores the value as text without an offset, so values are normalised to UTC on the
    way in and marked as UTC on the way out; text order then equals time order.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given; pass a timezone-aware UTC datetime")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_timestamp(value: dt.datetime) -> Timestamp:
    """Return the Timestamp of a datetime (a naive one read as UTC), equal to Timestamp.FromDatetime's.

    Every write converts a few times, so this uses the distance to the epoch, which took 0.5 µs
    here against FromDatetime's 1.6 µs.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def from_timestamp(stamp: Timestamp) -> dt.datetime:
    """Return the UTC datetime of a Timestamp, nanoseconds cut to microseconds, equal to Timestamp.ToDatetime's."""
    return _EPOCH + dt.timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


def request_time(stamp: Timestamp, field: str) -> dt.datetime:
    """Convert a Timestamp from a request, or raise InvalidArgument naming `field` and the valid range."""
    seconds_valid = MIN_TIMESTAMP_SECONDS <= stamp.seconds <= MAX_TIMESTAMP_SECONDS
    if not seconds_valid or not 0 <= stamp.nanos <= MAX_TIMESTAMP_NANOS:
        raise InvalidArgument(
            field, f"seconds={stamp.seconds} nanos={stamp.nanos}",
            f"use seconds from {MIN_TIMESTAMP_SECONDS} to {MAX_TIMESTAMP_SECONDS} (years 1 to 9999 UTC) "
            f"and nanos from 0 to {MAX_TIMESTAMP_NANOS}",
            problem="is out of range",
        )
    return from_timestamp(stamp)


def request_duration(duration: Duration, field: str) -> float:
    """Return a Duration from a request in seconds, or raise InvalidArgument naming `field`.

    protobuf's own conversions raise ValueError on such a Duration, which would surface as
    INTERNAL.
    """
    seconds, nanos = duration.seconds, duration.nanos
    in_range = abs(seconds) <= MAX_DURATION_SECONDS and abs(nanos) <= MAX_DURATION_NANOS
    if not in_range or (seconds > 0 > nanos) or (seconds < 0 < nanos):
        raise InvalidArgument(
            field, f"seconds={seconds} nanos={nanos}",
            f"use seconds from -{MAX_DURATION_SECONDS} to {MAX_DURATION_SECONDS}, nanos from "
            f"-{MAX_DURATION_NANOS} to {MAX_DURATION_NANOS}, and give nanos the sign of seconds "
            "(1.5 s is seconds=1 nanos=500000000)",
        )
    return seconds + nanos / 1e9


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
