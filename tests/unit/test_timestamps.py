"""to_timestamp and from_timestamp agree with protobuf's own conversions."""

from __future__ import annotations

import datetime as dt
import random

from google.protobuf.timestamp_pb2 import Timestamp

from modelward_common.timeutil import MAX_TIMESTAMP_SECONDS, MIN_TIMESTAMP_SECONDS, from_timestamp, to_timestamp


def _samples() -> list[dt.datetime]:
    draw = random.Random(7)
    fixed = [
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 5, 12, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
        dt.datetime(2026, 12, 5, 12, 0, 0, 500_000),  # naive: read as UTC
    ]
    drawn = [
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        + dt.timedelta(seconds=draw.randint(MIN_TIMESTAMP_SECONDS, MAX_TIMESTAMP_SECONDS), microseconds=draw.randint(0, 999_999))
        for _ in range(2000)
    ]
    return fixed + [value for value in drawn if value.year <= 9999]


def test_to_timestamp_equals_from_datetime() -> None:
    for value in _samples():
        expected = Timestamp()
        expected.FromDatetime(value)
        assert to_timestamp(value) == expected, value


def test_from_timestamp_equals_to_datetime() -> None:
    draw = random.Random(11)
    stamps = [to_timestamp(value) for value in _samples()]
    stamps += [Timestamp(seconds=draw.randint(MIN_TIMESTAMP_SECONDS, MAX_TIMESTAMP_SECONDS), nanos=draw.randint(0, 999_999_999))
               for _ in range(2000)]
    for stamp in stamps:
        converted = from_timestamp(stamp)
        assert converted == stamp.ToDatetime(tzinfo=dt.UTC), stamp
        assert converted.tzinfo is dt.UTC
