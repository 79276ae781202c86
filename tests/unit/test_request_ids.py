"""The shared request id rule and the widths of the columns that store request ids."""

from __future__ import annotations

import pytest

from modelward_common.errors import InvalidArgument
from modelward_common.eventstore import events_table
from modelward_common.request_ids import MAX_REQUEST_ID, check_request_id, check_request_ids
from modelward_registry.adapters.schema import request_ids_table


def test_request_id_at_limit_accepted() -> None:
    assert check_request_id("r" * MAX_REQUEST_ID) == "r" * MAX_REQUEST_ID
    assert check_request_id("") == ""
    assert check_request_id("run 42 / ünïcode") == "run 42 / ünïcode"


@pytest.mark.parametrize(
    ("value", "problem"),
    [("r" * (MAX_REQUEST_ID + 1), "is too long"), ("r" * 100_000, "is too long"),
     ("a\x00b", "contains a control character"), ("a\nb", "contains a control character"),
     ("a\x7fb", "contains a control character")],
    ids=["one-over", "100000", "nul", "newline", "del"],
)
def test_bad_request_id_rejected(value, problem) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_request_id(value)

    assert caught.value.field == "request_id"
    assert problem in caught.value.message
    assert f"at most {MAX_REQUEST_ID} printable characters" in caught.value.message


def test_bad_row_request_id_named_by_index() -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_request_ids(["a", "b", "c" * 200])

    assert caught.value.field == "request_ids[2]"


def test_columns_as_wide_as_limit() -> None:
    assert request_ids_table.c.request_id.type.length == MAX_REQUEST_ID
    assert events_table.c.correlation_id.type.length == MAX_REQUEST_ID
    assert events_table.c.causation_id.type.length == MAX_REQUEST_ID
