"""decide_create_version keeps only what a caller may set on a new version."""

from __future__ import annotations

import pytest

from modelward_common.errors import InvalidArgument
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.domain import decisions
from modelward_registry.domain.model import empty_aggregate
from tests.support.builders import new_version


def _active_model(latest_version: int = 0):  # type: ignore[no-untyped-def]
    aggregate = empty_aggregate("uid-1")
    aggregate.model.model_id = "churn"
    aggregate.model.state = res.MODEL_STATE_ACTIVE
    aggregate.model.latest_version = latest_version
    return aggregate


def test_create_version_drops_registry_fields() -> None:
    request = new_version("churn").model_version
    sent = res.ModelVersion()
    sent.CopyFrom(request)
    sent.name = "models/other/versions/9"
    sent.version = 9
    sent.created_by = "user:someone-else@example.com"
    sent.create_time.seconds = 1
    sent.update_time.seconds = 2
    sent.stage = res.STAGE_PRODUCTION
    sent.pending_stage = res.STAGE_PRODUCTION
    sent.aliases.append("champion")
    sent.etag = '"4"'
    # Field number 101 with the varint 1: a field this registry does not know, as a newer client could send.
    sent_bytes = sent.SerializeToString() + b"\xa8\x06\x01"
    sent = res.ModelVersion.FromString(sent_bytes)

    [event] = decisions.decide_create_version(_active_model(latest_version=2), sent, "user:ana@example.com")

    created = event.model_version
    assert event.model_uid == "uid-1"
    assert created.version == 3
    assert created.created_by == "user:ana@example.com"
    assert created.stage == res.STAGE_NONE
    assert not created.HasField("create_time")
    assert not created.HasField("update_time")
    assert created.name == ""
    assert created.pending_stage == res.STAGE_UNSPECIFIED
    assert list(created.aliases) == []
    assert created.etag == ""
    assert not created.SerializeToString().endswith(b"\xa8\x06\x01")
    expected = res.ModelVersion()
    expected.CopyFrom(request)
    expected.version, expected.created_by, expected.stage = 3, "user:ana@example.com", res.STAGE_NONE
    assert created == expected


def test_create_version_checks_parent_version() -> None:
    request = new_version("churn").model_version
    request.lineage.parent_version = 3
    with pytest.raises(InvalidArgument) as raised:
        decisions.decide_create_version(_active_model(latest_version=2), request, "user:ana@example.com", fields_checked=True)
    assert raised.value.field == "model_version.lineage.parent_version"
    assert "1 to 2" in raised.value.message

    [event] = decisions.decide_create_version(_active_model(latest_version=3), request, "user:ana@example.com", fields_checked=True)
    assert event.model_version.lineage.parent_version == 3


@pytest.mark.parametrize(
    ("parent", "latest", "fix"),
    [
        (-1, 2, "name an existing version of this model, or 0 for none"),
        (2**63 - 1, 2, "name an existing version (1 to 2) or 0 for none"),
        (1, 0, "use 0 for none, since this model has no versions yet"),
    ],
)
def test_parent_version_error_fix(parent: int, latest: int, fix: str) -> None:
    request = new_version("churn").model_version
    request.lineage.parent_version = parent
    with pytest.raises(InvalidArgument) as raised:
        decisions.decide_create_version(_active_model(latest_version=latest), request, "user:ana@example.com")
    assert raised.value.field == "model_version.lineage.parent_version"
    assert raised.value.message.endswith(fix)
    assert "4611686018427387904" not in raised.value.message
