from __future__ import annotations

import pytest

from modelward_common.errors import FailedPrecondition, InvalidArgument, NotFound
from modelward_governance.domain.portfolio import (
    ModelState,
    PortfolioModel,
    RiskTier,
    Stage,
    apply_registry_event,
    evaluated_versions,
    parse_registry_event,
    record_activity,
    record_approval,
    resolve_version,
)
from modelward_protos.events.v1 import registry_events_pb2 as events
from modelward_protos.registry.v1 import resources_pb2 as resources
from tests.unit.governance.builders import T0, days, make_model, make_version

UID = "uid-fraud"


def created_model() -> PortfolioModel:
    event = events.ModelCreated(
        model_uid=UID,
        model_id="fraud",
        description="card fraud",
        owner="user:ana@example.com",
        team="risk",
        risk_tier=resources.RISK_TIER_HIGH,
        task_type="binary_classification",
        tags={"domain": "payments"},
    )
    return apply_registry_event(None, event, T0)


def version_created(number: int, **fields: object) -> events.ModelVersionCreated:
    message = resources.ModelVersion(
        name=f"models/fraud/versions/{number}",
        version=number,
        created_by="user:ds@example.com",
        feature_names=["amount", "merchant"],
        metrics=[resources.Metric(name="auc", value=0.9, dataset_split="test")],
        artifact=resources.Artifact(sha256="e" * 64),
        lineage=resources.Lineage(
            training_dataset=resources.DatasetRef(sha256="f" * 64), code_commit="1" * 40
        ),
        stage=resources.STAGE_NONE,
        **fields,  # type: ignore[arg-type]
    )
    return events.ModelVersionCreated(model_uid=UID, model_version=message)


def test_model_created_sets_every_field() -> None:
    model = created_model()

    assert model.uid == UID
    assert model.name == "models/fraud"
    assert model.owner == "user:ana@example.com"
    assert model.risk_tier is RiskTier.HIGH
    assert model.tags == {"domain": "payments"}
    assert model.state is ModelState.ACTIVE
    assert model.last_activity_time == T0


def test_second_model_created_is_rejected() -> None:
    model = created_model()

    with pytest.raises(FailedPrecondition, match="already exists as models/fraud"):
        apply_registry_event(model, events.ModelCreated(model_uid=UID, model_id="fraud"), T0)


def test_event_for_unknown_model_is_rejected() -> None:
    with pytest.raises(FailedPrecondition) as raised:
        apply_registry_event(None, events.ModelArchived(model_uid=UID), T0)

    assert raised.value.reason == "MODEL_NOT_IN_PORTFOLIO"


def test_model_updated_changes_only_masked_fields() -> None:
    event = events.ModelUpdated(
        model_uid=UID,
        update_mask=["owner", "risk_tier"],
        owner="team:risk",
        risk_tier=resources.RISK_TIER_LOW,
        description="ignored because it is not in the mask",
    )

    model = apply_registry_event(created_model(), event, T0 + days(1))

    assert model.owner == "team:risk"
    assert model.risk_tier is RiskTier.LOW
    assert model.description == "card fraud"


def test_rename_keeps_uid_and_versions() -> None:
    model = apply_registry_event(created_model(), version_created(1), T0)

    renamed = apply_registry_event(
        model, events.ModelRenamed(model_uid=UID, old_model_id="fraud", new_model_id="fraud-v2"), T0
    )

    assert renamed.uid == UID
    assert renamed.name == "models/fraud-v2"
    assert renamed.version_name(1) == "models/fraud-v2/versions/1"
    assert renamed.owner == model.owner
    assert set(renamed.versions) == {1}


def test_tags_set_and_deleted() -> None:
    model = apply_registry_event(
        created_model(), events.ModelTagsSet(model_uid=UID, tags={"pii": "yes"}), T0
    )
    model = apply_registry_event(model, events.ModelTagsDeleted(model_uid=UID, keys=["domain"]), T0)

    assert model.tags == {"pii": "yes"}


def test_version_created_copies_lineage_and_touches_activity() -> None:
    model = apply_registry_event(created_model(), version_created(1), T0 + days(3))
    version = model.get_version(1)

    assert version.created_by == "user:ds@example.com"
    assert version.artifact_sha256 == "e" * 64
    assert version.training_dataset_sha256 == "f" * 64
    assert version.code_commit == "1" * 40
    assert version.feature_names == ("amount", "merchant")
    assert version.metric("auc", "test") is not None
    assert version.stage is Stage.NONE
    assert model.last_activity_time == T0 + days(3)


def test_version_updated_and_version_tags() -> None:
    model = apply_registry_event(created_model(), version_created(1), T0)
    update = events.ModelVersionUpdated(
        model_uid=UID,
        version=1,
        update_mask=["feature_names", "metrics"],
        model_version=resources.ModelVersion(
            feature_names=["amount"], metrics=[resources.Metric(name="auc", value=0.7)]
        ),
    )
    model = apply_registry_event(model, update, T0)
    model = apply_registry_event(
        model, events.ModelVersionTagsSet(model_uid=UID, version=1, tags={"a": "1"}), T0
    )
    model = apply_registry_event(
        model, events.ModelVersionTagsDeleted(model_uid=UID, version=1, keys=["a"]), T0
    )

    version = model.get_version(1)
    assert version.feature_names == ("amount",)
    assert [metric.value for metric in version.metrics] == [0.7]
    assert version.tags == {}


def test_alias_stage_and_promotion_events() -> None:
    model = apply_registry_event(created_model(), version_created(1), T0)
    model = apply_registry_event(
        model, events.AliasSet(model_uid=UID, alias="champion", version=1), T0
    )
    model = apply_registry_event(
        model,
        events.PromotionRequested(
            model_uid=UID, version=1, target_stage=resources.STAGE_PRODUCTION
        ),
        T0 + days(1),
    )
    assert model.get_version(1).pending_stage is Stage.PRODUCTION

    model = apply_registry_event(
        model,
        events.PromotionResolved(
            model_uid=UID, version=1, target_stage=resources.STAGE_PRODUCTION, approved=True
        ),
        T0 + days(2),
    )
    model = apply_registry_event(
        model,
        events.StageChanged(
            model_uid=UID,
            version=1,
            from_stage=resources.STAGE_NONE,
            to_stage=resources.STAGE_PRODUCTION,
        ),
        T0 + days(2),
    )

    version = model.get_version(1)
    assert model.aliases_of(1) == ("champion",)
    assert version.pending_stage is None
    assert version.stage is Stage.PRODUCTION
    assert version.stage_time == T0 + days(2)
    assert model.last_activity_time == T0 + days(2)

    model = apply_registry_event(
        model, events.AliasDeleted(model_uid=UID, alias="champion", version=1), T0
    )
    assert model.aliases == {}


def test_archive_and_delete_change_state() -> None:
    archived = apply_registry_event(created_model(), events.ModelArchived(model_uid=UID), T0)
    deleted = apply_registry_event(archived, events.ModelDeleted(model_uid=UID), T0)

    assert archived.state is ModelState.ARCHIVED
    assert deleted.state is ModelState.DELETED


def test_event_for_unseen_version_is_rejected() -> None:
    with pytest.raises(FailedPrecondition) as raised:
        apply_registry_event(
            created_model(), events.AliasSet(model_uid=UID, alias="x", version=4), T0
        )

    assert raised.value.reason == "VERSION_NOT_IN_PORTFOLIO"


def test_parse_registry_event_round_trip() -> None:
    payload = events.ModelArchived(model_uid=UID).SerializeToString()

    event = parse_registry_event("modelward.registry.v1.ModelArchived", payload)

    assert isinstance(event, events.ModelArchived)
    assert event.model_uid == UID


def test_parse_registry_event_rejects_unknown_type() -> None:
    with pytest.raises(InvalidArgument, match="is not a registry event type"):
        parse_registry_event("modelward.registry.v1.Nothing", b"")


def test_evaluated_versions_are_governed_pending_and_latest() -> None:
    model = make_model(
        make_version(1, stage=Stage.PRODUCTION),
        make_version(2),
        make_version(3, pending_stage=Stage.STAGING),
        make_version(4),
        make_version(5, stage=Stage.ARCHIVED),
    )

    assert [version.version for version in evaluated_versions(model)] == [1, 3, 4]


def test_archived_model_has_no_evaluated_versions() -> None:
    model = make_model(make_version(1, stage=Stage.PRODUCTION), state=ModelState.ARCHIVED)

    assert evaluated_versions(model) == ()


def test_resolve_version_by_alias_and_number() -> None:
    model = make_model(make_version(1), make_version(2), aliases={"champion": 2})

    assert resolve_version(model, alias="champion").version == 2
    assert resolve_version(model, version=1).version == 1
    with pytest.raises(NotFound, match="alias 'shadow' of models/churn not found"):
        resolve_version(model, alias="shadow")
    with pytest.raises(NotFound, match="models/churn/versions/9 not found"):
        resolve_version(model, version=9)
    with pytest.raises(InvalidArgument, match="set exactly one of version or alias"):
        resolve_version(model, version=1, alias="champion")


def test_record_approval_and_activity() -> None:
    model = make_model(make_version(1))

    approved = record_approval(model, 1, ("user:b@example.com", "user:a@example.com"), T0 + days(5))
    touched = record_activity(approved, T0 + days(1))

    assert approved.get_version(1).approved_by == ("user:a@example.com", "user:b@example.com")
    assert approved.get_version(1).last_review_time == T0 + days(5)
    assert touched.last_activity_time == T0 + days(5)
