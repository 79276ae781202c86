"""The form of a principal: the same rule for owners, token subjects and role bindings."""

from __future__ import annotations

import re

PRINCIPAL_RULE = (
    "'user:<email>', 'team:<slug>', 'group:<slug>' or 'service:<slug>', without spaces or control "
    "characters, at most 320 characters"
)
# The owner and actor columns are 320 characters wide, and PostgreSQL rejects longer values and any NUL.
MAX_PRINCIPAL = 320
PRINCIPAL_PATTERN = re.compile(r"(user|team|group|service):[^\s:\x00-\x1f\x7f][^\s\x00-\x1f\x7f]*")


def is_valid_principal(value: str) -> bool:
    return len(value) <= MAX_PRINCIPAL and PRINCIPAL_PATTERN.fullmatch(value) is not None
