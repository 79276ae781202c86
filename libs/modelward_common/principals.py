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
# Characters of other categories that print as nothing or as a blank: the combining grapheme
# joiner, Hangul and Khmer fillers, the Braille blank and the variation selectors.
_BLANKS = frozenset([
    0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0,
    *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0),
])
# Combining marks: after a letter of a script that needs them they are part of the name, but
# after an ASCII character (or first) no composed form exists, so they only hide a difference.
_MARK_CATEGORIES = frozenset({"Mn", "Me"})

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
    # Judged in the composed form that canonical_principal stores: "e" plus U+0301 becomes "é".
    return _all_visible(unicodedata.normalize("NFC", value))


def _all_visible(value: str) -> bool:
    previous = ""
    for char in value:
        category = unicodedata.category(char)
        if char.isspace() or category in _INVISIBLE_CATEGORIES or ord(char) in _BLANKS:
            return False
        if category in _MARK_CATEGORIES and (not previous or previous.isascii()):
            return False
        previous = char
    return True


def canonical_principal(value: str) -> str:
    """Return the one stored form of a principal: composed (NFC) and, for `user:` names, lowercase.

    E-mail providers treat addresses as case-insensitive, and identity providers return them in
    the case the user typed, so `user:Lea@Example.com` and `user:lea@example.com` are one person.
    Likewise "é" and "e" followed by U+0301 are one letter. Every place that stores or compares a
    principal applies this function.
    """
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    if value.startswith(_USER_PREFIX):
        return _USER_PREFIX + value[len(_USER_PREFIX):].lower()
    return value


def is_group(value: str) -> bool:
    """Tell whether a principal is a group, which no credential may act as.

    Groups come only from a JWT's groups claim. SetPrincipalActive cannot deactivate them, so a
    token or certificate acting as a group could never be locked out.
    """
    return value.startswith(GROUP_PREFIX)
