"""The generated protobuf modules match protos/, and every declared RPC is implemented."""

from __future__ import annotations

import filecmp
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "libs" / "modelward_protos"


def _differences(left: Path, right: Path) -> list[str]:
    comparison = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [f"only in checked-in code: {name}" for name in comparison.left_only]
    found += [f"missing from checked-in code: {name}" for name in comparison.right_only]
    found += [f"differs: {name}" for name in comparison.diff_files]
    for name, sub in comparison.subdirs.items():
        found += [f"{name}/{item}" for item in _differences(left / name, right / name)]
    return found


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = tmp_path / "modelward_protos"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_protos.py"), "--out", str(fresh)],
        check=True, capture_output=True,
    )
    differences = _differences(GENERATED, fresh)
    assert differences == [], "run `python scripts/gen_protos.py`: " + "; ".join(differences)


def _services() -> list[tuple[descriptor.ServiceDescriptor, str]]:
    """Each service declared under protos/ with the module that implements it."""
    implementations = {
        "modelward.registry.v1.RegistryService": "modelward_registry.entrypoints.grpc_service:RegistryServicer",
        "modelward.governance.v1.GovernanceService": "modelward_governance.entrypoints.grpc_service:GovernanceServicer",
        "modelward.access.v1.AccessService": "modelward_registry.entrypoints.access_service:AccessServicer",
        "modelward.audit.v1.AuditService": "modelward_common.audit_service:AuditServicer",
    }
    found = []
    for path in sorted(GENERATED.rglob("*_pb2.py")):
        module_name = ".".join(path.relative_to(GENERATED.parent).with_suffix("").parts)
        module = importlib.import_module(module_name)
        for service in module.DESCRIPTOR.services_by_name.values():
            found.append((service, implementations.get(service.full_name, "")))
    return found


@pytest.mark.parametrize(("service", "implementation"), _services(), ids=lambda value: getattr(value, "full_name", ""))
def test_every_rpc_is_implemented(service: descriptor.ServiceDescriptor, implementation: str) -> None:
    assert implementation, f"{service.full_name} has no servicer registered in this test"
    module_name, class_name = implementation.split(":")
    try:
        servicer = getattr(importlib.import_module(module_name), class_name)
    except ModuleNotFoundError:
        pytest.fail(f"{service.full_name} is declared but {module_name} does not exist")
    missing = [
        method.name
        for method in service.methods
        if method.name not in servicer.__dict__
    ]
    assert missing == [], f"{class_name} does not implement {missing}"
