"""Lint the proto files with buf, using the rules in protos/buf.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCAL_BUF = REPO / ".tools" / "node_modules" / ".bin" / "buf"


def find_buf() -> str | None:
    """Return the buf that scripts/test installs into .tools, else the one on PATH, else None."""
    if LOCAL_BUF.exists():
        return str(LOCAL_BUF)
    return shutil.which("buf")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def test_protos_pass_buf_lint() -> None:
    buf = find_buf()
    if buf is None:
        reason = (
            f"buf was found neither at {LOCAL_BUF.relative_to(REPO)} nor on PATH: run "
            "'bash scripts/test', which installs it with npm"
        )
        if running_in_ci():
            pytest.fail(reason)
        pytest.skip(reason)

    result = subprocess.run(
        [buf, "lint"], cwd=REPO / "protos", capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"buf lint reported problems:\n{result.stdout}{result.stderr}"
