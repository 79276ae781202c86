"""The shared principal rule: forms, invisible characters and the canonical form."""

from __future__ import annotations

import pytest

from modelward_common.principals import canonical_principal, is_group, is_valid_principal


@pytest.mark.parametrize("value", [
    "user:lea@example.com\u200b",  # zero width space (Cf)
    "user:\u200dlea@example.com",  # zero width joiner (Cf)
    "user:lea@example.com\u2060",  # word joiner (Cf)
    "user:lea\u00adx@example.com",  # soft hyphen (Cf)
    "user:lea@example.com\u202e",  # right-to-left override (Cf)
    "user:lea@example.com\ufeff",  # byte order mark (Cf)
    "user:lea@example.com\u2028",  # line separator (Zl)
    "user:lea@example.com\u2029",  # paragraph separator (Zp)
    "user:lea@example.com\u0085",  # next line (Cc)
    "user:lea\u00a0@example.com",  # no-break space (Zs)
    "user:lea\u3000@example.com",  # ideographic space (Zs)
    "team:ops\x7f",
    "user:lea\u034f@example.com",  # combining grapheme joiner (Mn)
    "user:lea@example.com\ufe0f",  # variation selector (Mn)
    "user:l\u00e9\ufe0fa@example.com",  # variation selector after a non-ASCII letter
    "user:\u0301lea@example.com",  # combining accent with nothing to combine with
    "user:lex\u0336@example.com",  # a combining stroke on an ASCII letter, which has no composed form
    "user:\u3164lea@example.com",  # Hangul filler (Lo)
    "user:lea\uffa0@example.com",  # halfwidth Hangul filler (Lo)
    "user:lea\u2800@example.com",  # Braille blank (So)
])
def test_invisible_characters_invalid(value: str) -> None:
    assert not is_valid_principal(value)


@pytest.mark.parametrize("value", [
    "user:lea@example.com", "user:léa@exemplo.com.br", "team:ops", "group:ml-team", "service:scorer",
    "user:le\u0301a@exemplo.com.br",  # decomposed é, judged in its composed form
    "user:\u0928\u092e\u0938\u094d\u0924\u0947@example.in",  # Devanagari, whose marks follow letters
])
def test_visible_principals_valid(value: str) -> None:
    assert is_valid_principal(value)


def test_canonical_lowercases_users_only() -> None:
    assert canonical_principal("user:Lea@Example.COM") == "user:lea@example.com"
    assert canonical_principal("team:Ops") == "team:Ops"
    assert canonical_principal("service:Scorer") == "service:Scorer"
    assert canonical_principal("") == ""


def test_group_detected() -> None:
    assert is_group("group:ml")
    assert not is_group("user:group@example.com")


def test_canonical_composes_decomposed_letters() -> None:
    decomposed = "user:Le\u0301a@Example.com"
    composed = "user:l\u00e9a@example.com"
    assert canonical_principal(decomposed) == composed
    assert canonical_principal(composed) == composed
