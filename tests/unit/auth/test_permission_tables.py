"""Every RPC of every service in protos/ declares the permission it needs."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from google.protobuf import descriptor

from modelward_common.auth.roles import AUDIT_SERVICE, ROLE_PERMISSIONS, Permission
from modelward_governance.entrypoints.permissions import GOVERNANCE_SERVICE
from modelward_governance.entrypoints.permissions import RULES as GOVERNANCE_RULES
from modelward_registry.entrypoints.permissions import ACCESS_SERVICE, REGISTRY_SERVICE
from modelward_registry.entrypoints.permissions import RULES as REGISTRY_RULES

GENERATED = Path(importlib.import_module("modelward_protos").__file__).parent  # type: ignore[arg-type]

# Which process serves each proto service, and so which table must cover it.
HOSTS = {
    REGISTRY_SERVICE: [REGISTRY_RULES],
    ACCESS_SERVICE: [REGISTRY_RULES],
    GOVERNANCE_SERVICE: [GOVERNANCE_RULES],
    AUDIT_SERVICE: [REGISTRY_RULES, GOVERNANCE_RULES],
}


def _services() -> list[descriptor.ServiceDescriptor]:
    found = []
    for path in sorted(GENERATED.rglob("*_pb2.py")):
        module_name = ".".join(path.relative_to(GENERATED.parent).with_suffix("").parts)
        found.extend(importlib.import_module(module_name).DESCRIPTOR.services_by_name.values())
    return found


@pytest.mark.parametrize("service", _services(), ids=lambda service: service.full_name)
def test_every_rpc_declares_permission(service: descriptor.ServiceDescriptor) -> None:
    assert service.full_name in HOSTS, f"{service.full_name} is served by no process known to this test"
    for table in HOSTS[service.full_name]:
        missing = [method.name for method in service.methods if f"/{service.full_name}/{method.name}" not in table]
        assert missing == [], f"add a Rule for {missing} to the permission table of the service hosting {service.full_name}"


@pytest.mark.parametrize("table", [REGISTRY_RULES, GOVERNANCE_RULES], ids=["registry", "governance"])
def test_tables_name_only_real_rpcs(table: dict) -> None:
    declared = {f"/{service.full_name}/{method.name}" for service in _services() for method in service.methods}
    assert sorted(set(table) - declared) == []


def test_every_permission_granted_by_admin() -> None:
    from modelward_common.auth.roles import Role

    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
