"""`modelward up` creates its admin token once, readable only by its owner."""

from __future__ import annotations

from pathlib import Path

from modelward_cli import up
from modelward_common.auth.api_tokens import token_id_of


def test_admin_token_created_private(tmp_path: Path) -> None:
    path = tmp_path / up.ADMIN_TOKEN_FILE

    assert up.ensure_admin_token(path) is True

    assert path.stat().st_mode & 0o777 == 0o600
    assert token_id_of(path.read_text().strip()) is not None


def test_admin_token_kept_across_starts(tmp_path: Path) -> None:
    path = tmp_path / up.ADMIN_TOKEN_FILE
    up.ensure_admin_token(path)
    first = path.read_text()

    assert up.ensure_admin_token(path) is False

    assert path.read_text() == first


def test_admin_token_mode_tightened(tmp_path: Path) -> None:
    path = tmp_path / up.ADMIN_TOKEN_FILE
    up.ensure_admin_token(path)
    path.chmod(0o644)

    up.ensure_admin_token(path)

    assert path.stat().st_mode & 0o777 == 0o600

