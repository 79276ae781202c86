"""Policy texts that would exhaust the YAML parser get INVALID_ARGUMENT over gRPC, not INTERNAL."""

from __future__ import annotations

import grpc
import pytest

from modelward_governance.domain.policy_yaml import MAX_POLICY_BYTES
from modelward_protos.audit.v1 import audit_service_pb2 as audit
from modelward_protos.audit.v1 import audit_service_pb2_grpc as audit_grpc
from modelward_protos.governance.v1 import governance_service_pb2 as gov
from tests.support.auth import error_reason
from tests.support.governance import governance_config, running_governance

# About 1.8 kB, as a tester sent it: 900 nested lists overflowed PyYAML's recursive composer.
DEEP = "format_version: 1\nname: deep\nrules: " + "[" * 900 + "]" * 900 + "\n"
DEEP_PROBLEM = "yaml_text line 3: invalid YAML: lists and mappings nest more than 16 levels deep"


async def test_deep_and_oversize_policies_rejected(fresh_sqlite_url, nats_server, nats_prefix) -> None:
    config = governance_config(fresh_sqlite_url(), nats_server.url, nats_prefix, "127.0.0.1:1",
                               run_relay=False, run_consumer=False, sweep_interval=0)
    async with running_governance(config) as governance:
        auditor = audit_grpc.AuditServiceStub(governance.channel)
        before = await auditor.VerifyAuditLog(audit.VerifyAuditLogRequest())
        policy = await governance.stub.GetPolicy(gov.GetPolicyRequest())

        validated = await governance.stub.ValidatePolicy(gov.ValidatePolicyRequest(yaml_text=DEEP))
        assert not validated.valid
        assert [problem.line for problem in validated.problems] == [3]
        assert "more than 16 levels deep" in validated.problems[0].message

        with pytest.raises(grpc.aio.AioRpcError) as dry_run:
            await governance.stub.DryRunPolicy(gov.DryRunPolicyRequest(yaml_text=DEEP))
        assert dry_run.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert DEEP_PROBLEM in dry_run.value.details()
        assert error_reason(dry_run.value) == "INVALID_POLICY"

        with pytest.raises(grpc.aio.AioRpcError) as replace:
            await governance.stub.ReplacePolicy(
                gov.ReplacePolicyRequest(yaml_text=DEEP, reason="deep", etag=policy.etag))
        assert replace.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert DEEP_PROBLEM in replace.value.details()

        oversize = policy.yaml_text + "#" + "x" * MAX_POLICY_BYTES + "\n"
        with pytest.raises(grpc.aio.AioRpcError) as too_big:
            await governance.stub.ReplacePolicy(
                gov.ReplacePolicyRequest(yaml_text=oversize, reason="big", etag=policy.etag))
        assert too_big.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"more than the limit of {MAX_POLICY_BYTES}" in too_big.value.details()

        after = await auditor.VerifyAuditLog(audit.VerifyAuditLogRequest())
        assert after.events_checked == before.events_checked
        assert (await governance.stub.GetPolicy(gov.GetPolicyRequest())).revision == policy.revision
