from __future__ import annotations

import pytest

from modelward_common.errors import InvalidArgument
from modelward_governance.domain.findings import FindingKind
from modelward_governance.domain.orphans import (
    OrphanConfig,
    OrphanReasonCode,
    assess_orphan,
    orphan_finding_drafts,
)
from modelward_governance.domain.portfolio import ModelState, Stage, apply_registry_event
from modelward_governance.domain.principals import PrincipalDirectory
from modelward_governance.domain.severity import Severity
from modelward_protos.events.v1 import registry_events_pb2 as events
from tests.unit.governance.builders import T0, days, make_model, make_version

OWNER = "user:owner@example.com"
ACTIVE = PrincipalDirectory()
CONFIG = OrphanConfig(max_idle_days=90)


def codes(
    model: object, principals: PrincipalDirectory = ACTIVE, at_day: int = 1
) -> list[OrphanReasonCode]:
    status = assess_orphan(model, principals, T0 + days(at_day), CONFIG)  # type: ignore[arg-type]
    return [reason.code for reason in status.reasons]


def test_owned_active_model_is_not_orphaned() -> None:
    status = assess_orphan(make_model(make_version(1)), ACTIVE, T0 + days(1), CONFIG)

    assert not status.orphaned
    assert status.reasons == ()


def test_model_without_owner_is_orphaned() -> None:
    assert codes(make_model(make_version(1), owner="")) == [OrphanReasonCode.NO_OWNER]


def test_inactive_owner_orphans_and_reactivation_clears() -> None:
    model = make_model(make_version(1))
    inactive = ACTIVE.with_active(OWNER, False)

    assert codes(model, inactive) == [OrphanReasonCode.OWNER_INACTIVE]
    assert codes(model, inactive.with_active(OWNER, True)) == []


def test_idle_production_model_is_orphaned() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION))

    assert codes(model, at_day=90) == []
    assert codes(model, at_day=91) == [OrphanReasonCode.NO_ACTIVITY]


def test_idle_model_outside_production_is_not_orphaned() -> None:
    model = make_model(make_version(1, stage=Stage.STAGING))

    assert codes(model, at_day=400) == []


def test_activity_resets_idle_clock() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION), last_activity_time=T0 + days(60))

    assert codes(model, at_day=120) == []


def test_reasons_combine() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION), owner="")

    assert codes(model, at_day=200) == [OrphanReasonCode.NO_OWNER, OrphanReasonCode.NO_ACTIVITY]


def test_rename_never_orphans() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION))
    renamed = apply_registry_event(
        model,
        events.ModelRenamed(model_uid=model.uid, old_model_id="churn", new_model_id="churn-2025"),
        T0 + days(10),
    )

    status = assess_orphan(renamed, ACTIVE, T0 + days(11), CONFIG)

    assert renamed.owner == OWNER
    assert renamed.uid == model.uid
    assert not status.orphaned


def test_archived_model_is_never_orphaned() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION), owner="", state=ModelState.ARCHIVED)

    assert codes(model, at_day=400) == []


def test_orphan_drafts_per_reason() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION), owner="")
    status = assess_orphan(model, ACTIVE, T0 + days(200), CONFIG)

    drafts = orphan_finding_drafts(status, CONFIG)

    assert [draft.key.check_id for draft in drafts] == ["orphaned.no_owner", "orphaned.no_activity"]
    assert {draft.key.kind for draft in drafts} == {FindingKind.ORPHANED_MODEL}
    assert [draft.severity for draft in drafts] == [Severity.ERROR, Severity.WARNING]
    assert drafts[1].evidence["idle_days"] == 200


def test_config_rejects_zero_days() -> None:
    with pytest.raises(InvalidArgument, match="max_idle_days 0 is invalid"):
        OrphanConfig(max_idle_days=0)


def test_principal_format_is_validated() -> None:
    with pytest.raises(InvalidArgument, match="principal 'alice' is invalid"):
        ACTIVE.with_active("alice", False)
