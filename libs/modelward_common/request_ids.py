"""The one rule for client-chosen request ids, shared by both services.

It covers the registry's idempotency keys (`request_id` of the create requests), the per-row
`request_ids` of governance's production data and labels, and the `x-request-id` metadata that
becomes an event's correlation id. Columns that store a request id are `MAX_REQUEST_ID` wide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from modelward_common.errors import InvalidArgument

MAX_REQUEST_ID = 128
REQUEST_ID_RULE = f"use at most {MAX_REQUEST_ID} printable characters, such as a UUID"
# Anything but C0 control characters and DEL, up to the limit.
_REQUEST_ID = re.compile(f"[^\\x00-\\x1f\\x7f]{{0,{MAX_REQUEST_ID}}}")


def check_request_id(value: str, field: str = "request_id") -> str:
    """Raise InvalidArgument naming `field` when `value` is too long or has a control character."""
    if not _REQUEST_ID.fullmatch(value):
        problem = "is too long" if len(value) > MAX_REQUEST_ID else "contains a control character"
        raise InvalidArgument(field, value, REQUEST_ID_RULE, problem=problem)
    return value


def check_request_ids(values: Sequence[str], field: str = "request_ids") -> None:
    """Check one request id per row, naming the first bad one as `field[index]`."""
    for index, value in enumerate(values):
        check_request_id(value, f"{field}[{index}]")
