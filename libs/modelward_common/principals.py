"""The form of a principal: the same rule for owners, token subjects and role bindings."""

from __future__ import annotations

import re
import unicodedata

PRINCIPAL_RULE = (
    "'user:<email>', 'team:<slug>', 'group:<slug>' or 'service:<slug>', without whitespace, control or "
    "invisible format characters, at most 320 characters"
)
# The owner and actor columns are 320 characters wide, and PostgreSQL rejects longer values and any NUL.
MAX_PRINCIPAL = 320
PRINCIPAL_PATTERN = re.compile(r"(user|team|group|service):[^\s:\x00-\x1f\x7f][^\s\x00-\x1f\x7f]*")
# Unicode categories that print nothing or break a line: controls (Cc), format characters such as
# U+200B ZERO WIDTH SPACE (Cf), and line and paragraph separators (Zl, Zp). With them, two
# principals that look the same could be different strings.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})

GROUP_PREFIX = "group:"
_USER_PREFIX = "user:"


def is_valid_principal(value: str) -> bool:
    if len(value) > MAX_PRINCIPAL or PRINCIPAL_PATTERN.fullmatch(value) is None:
        return False
    # The pattern has already refused ASCII whitespace and controls, and ASCII has no other
    # invisible characters, so only non-ASCII text needs the per-character look-up. Every
    # authenticated call checks its principal, so the common case stays cheap.
    if value.isascii():
        return True
    return not any(char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in value)


def canonical_principal(value: str) -> str:
    """Return the one stored form of a principal: `user:` names in lowercase, others unchanged.

    E-mail providers treat addresses as case-insensitive, and identity providers return them in
    the case the user typed, so `user:Lea@Example.com` and `user:lea@example.com` are one person.
    Every place that stores or compares a principal applies this function.
    """
    if value.startswith(_USER_PREFIX):
        return _USER_PREFIX + value[len(_USER_PREFIX):].lower()
    return value


def is_group(value: str) -> bool:
    """Tell whether a principal is a group, which no credential may act as.

    Groups come only from a JWT's groups claim. SetPrincipalActive cannot deactivate them, so a
    token or certificate acting as a group could never be locked out.
    """
    return value.startswith(GROUP_PREFIX)
