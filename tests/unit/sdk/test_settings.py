"""Where the SDK finds addresses and credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelward_sdk import ConfigurationError
from modelward_sdk.names import enum_label, enum_value, version_name
from modelward_sdk.settings import resolve_settings, resolve_target, resolve_token
from modelward_protos.registry.v1 import resources_pb2 as res


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MODELWARD_REGISTRY", "MODELWARD_GOVERNANCE", "MODELWARD_TOKEN", "MODELWARD_PRINCIPAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODELWARD_HOME", str(tmp_path))
    return tmp_path


def test_target_order_explicit_env_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "endpoints.json").write_text(json.dumps({"registry": "127.0.0.1:7001", "governance": None}))
    assert resolve_target("registry") == "127.0.0.1:7001"
    monkeypatch.setenv("MODELWARD_REGISTRY", "127.0.0.1:7002")
    assert resolve_target("registry") == "127.0.0.1:7002"
    assert resolve_target("registry", "127.0.0.1:7003") == "127.0.0.1:7003"


def test_missing_target_names_sources(home: Path) -> None:
    with pytest.raises(ConfigurationError, match="MODELWARD_GOVERNANCE"):
        resolve_target("governance")
    (home / "endpoints.json").write_text(json.dumps({"registry": "127.0.0.1:7001", "governance": None}))
    with pytest.raises(ConfigurationError, match="no governance address"):
        resolve_target("governance")


def test_token_order_explicit_env_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_token() is None
    (home / "admin-token").write_text("from-file\n")
    assert resolve_token() == "from-file"
    monkeypatch.setenv("MODELWARD_TOKEN", "from-env")
    assert resolve_token() == "from-env"
    assert resolve_token("explicit") == "explicit"


def test_metadata_carries_only_token(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWARD_PRINCIPAL", "user:ana@example.com")
    settings = resolve_settings("registry", "127.0.0.1:1", token="t0k")
    assert settings.metadata() == (("authorization", "Bearer t0k"),)
    with pytest.raises(ConfigurationError, match="timeout"):
        resolve_settings("registry", "127.0.0.1:1", timeout=0)


def test_enum_short_names() -> None:
    assert enum_value(res.RiskTier, "high") == res.RISK_TIER_HIGH
    assert enum_value(res.RiskTier, "RISK_TIER_LOW") == res.RISK_TIER_LOW
    assert enum_value(res.Stage, 3) == res.STAGE_PRODUCTION
    assert enum_label(res.Stage, res.STAGE_PRODUCTION) == "production"
    with pytest.raises(ValueError, match="low, medium, high, critical"):
        enum_value(res.RiskTier, "extreme")


def test_version_name_forms() -> None:
    assert version_name("churn", 3) == "models/churn/versions/3"
    assert version_name("models/churn/versions/3") == "models/churn/versions/3"
    with pytest.raises(ValueError, match="names no version"):
        version_name("churn")
