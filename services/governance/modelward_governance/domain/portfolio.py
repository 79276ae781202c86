"""Governance's own view of every model and version, built from the registry's events.

The appliers take the generated protobuf payloads of `modelward.events.v1` as plain data: they
are the published contract, so converting them to a second set of dataclasses first would only
add a copy. Each applier returns a new `PortfolioModel` and never mutates its input. The event
time (the CloudEvents `ce-time`) is passed in because payloads do not carry it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias, cast

from google.protobuf.message import DecodeError, Message

from modelward_common.errors import FailedPrecondition, InvalidArgument, NotFound, sample_of
from modelward_protos.events.v1 import registry_events_pb2 as events
from modelward_protos.registry.v1 import resources_pb2 as resources


class RiskTier(enum.Enum):
    UNSPECIFIED = "unspecified"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Stage(enum.Enum):
    UNSPECIFIED = "unspecified"
    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


class ModelState(enum.Enum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


RISK_TIER_FROM_PROTO: Mapping[int, RiskTier] = {
    resources.RISK_TIER_UNSPECIFIED: RiskTier.UNSPECIFIED,
    resources.RISK_TIER_LOW: RiskTier.LOW,
    resources.RISK_TIER_MEDIUM: RiskTier.MEDIUM,
    resources.RISK_TIER_HIGH: RiskTier.HIGH,
    resources.RISK_TIER_CRITICAL: RiskTier.CRITICAL,
}
STAGE_FROM_PROTO: Mapping[int, Stage] = {
    resources.STAGE_UNSPECIFIED: Stage.UNSPECIFIED,
    resources.STAGE_NONE: Stage.NONE,
    resources.STAGE_STAGING: Stage.STAGING,
    resources.STAGE_PRODUCTION: Stage.PRODUCTION,
    resources.STAGE_ARCHIVED: Stage.ARCHIVED,
}


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    # Split the value was measured on, such as `test`, or empty when the registry has none.
    dataset_split: str = ""


@dataclass(frozen=True)
class PortfolioVersion:
    version: int
    created_by: str
    create_time: datetime
    description: str = ""
    artifact_uri: str = ""
    artifact_sha256: str = ""
    training_dataset_sha256: str = ""
    evaluation_dataset_sha256: str = ""
    code_repository: str = ""
    code_commit: str = ""
    pipeline_run_id: str = ""
    has_signature: bool = False
    metrics: tuple[Metric, ...] = ()
    feature_names: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    stage: Stage = Stage.NONE
    # When the version entered `stage`; its creation time until the first stage change.
    stage_time: datetime | None = None
    # Stage of a promotion that waits for governance, None when none waits.
    pending_stage: Stage | None = None
    # When governance last approved a promotion of this version, and who approved it.
    last_review_time: datetime | None = None
    approved_by: tuple[str, ...] = ()

    def metric(self, name: str, dataset_split: str = "") -> Metric | None:
        """Return the metric with this name, on this split when one is given."""
        for metric in self.metrics:
            if metric.name == name and (not dataset_split or metric.dataset_split == dataset_split):
                return metric
        return None


@dataclass(frozen=True)
class PortfolioModel:
    """Governance's view of a model, keyed by `uid` so that a rename changes only `model_id`."""

    uid: str
    model_id: str
    create_time: datetime
    description: str = ""
    owner: str = ""
    team: str = ""
    risk_tier: RiskTier = RiskTier.UNSPECIFIED
    task_type: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    state: ModelState = ModelState.ACTIVE
    aliases: Mapping[str, int] = field(default_factory=dict)
    versions: Mapping[int, PortfolioVersion] = field(default_factory=dict)
    # Latest creation of the model or a version, promotion decision or production data report.
    last_activity_time: datetime | None = None

    @property
    def name(self) -> str:
        return f"models/{self.model_id}"

    def version_name(self, version: int) -> str:
        return f"models/{self.model_id}/versions/{version}"

    def get_version(self, version: int) -> PortfolioVersion:
        """Return one version, raising NotFound when the model has no such version."""
        found = self.versions.get(version)
        if found is None:
            raise NotFound(
                f"{self.version_name(version)} not found: the model's versions are "
                f"{sample_of(sorted(self.versions))}",
                field="version",
            )
        return found

    def aliases_of(self, version: int) -> tuple[str, ...]:
        return tuple(sorted(alias for alias, number in self.aliases.items() if number == version))

    def latest_version(self) -> PortfolioVersion | None:
        """Return the highest-numbered version that is not archived."""
        live = [number for number, found in self.versions.items() if found.stage != Stage.ARCHIVED]
        return self.versions[max(live)] if live else None

    def production_versions(self) -> tuple[PortfolioVersion, ...]:
        return tuple(
            found for _, found in sorted(self.versions.items()) if found.stage == Stage.PRODUCTION
        )


def evaluated_versions(model: PortfolioModel) -> tuple[PortfolioVersion, ...]:
    """Select the versions that policies are evaluated for and findings are kept on.

    These are the versions in STAGING or PRODUCTION, those with a pending promotion, and the
    latest version that is not archived. An older draft drops out when a newer version arrives,
    which resolves its findings. An archived or deleted model has no evaluated versions.
    """
    if model.state != ModelState.ACTIVE:
        return ()
    latest = model.latest_version()
    selected = []
    for number, version in sorted(model.versions.items()):
        governed = version.stage in (Stage.STAGING, Stage.PRODUCTION)
        pending = version.pending_stage is not None
        if governed or pending or (latest is not None and number == latest.version):
            selected.append(version)
    return tuple(selected)


def resolve_version(
    model: PortfolioModel, *, version: int = 0, alias: str = ""
) -> PortfolioVersion:
    """Return the version named by number or by alias; exactly one of them must be given."""
    if (version > 0) == bool(alias):
        raise InvalidArgument(
            "target", {"version": version, "alias": alias}, "set exactly one of version or alias"
        )
    if alias:
        number = model.aliases.get(alias)
        if number is None:
            raise NotFound(
                f"alias {alias!r} of {model.name} not found: the model's aliases are "
                f"{sample_of(sorted(model.aliases))}",
                field="alias",
            )
        return model.get_version(number)
    return model.get_version(version)


def record_activity(model: PortfolioModel, at: datetime) -> PortfolioModel:
    """Move the model's last activity forward to `at`, as for a production data report."""
    if model.last_activity_time is not None and model.last_activity_time >= at:
        return model
    return dataclasses.replace(model, last_activity_time=at)


def record_approval(
    model: PortfolioModel, version: int, reviewers: tuple[str, ...], at: datetime
) -> PortfolioModel:
    """Store governance's approval of a version's promotion: its reviewers and review time."""
    updated = dataclasses.replace(
        model.get_version(version), last_review_time=at, approved_by=tuple(sorted(set(reviewers)))
    )
    return record_activity(_with_version(model, updated), at)


RegistryEvent: TypeAlias = (
    events.ModelCreated
    | events.ModelUpdated
    | events.ModelRenamed
    | events.ModelArchived
    | events.ModelDeleted
    | events.ModelTagsSet
    | events.ModelTagsDeleted
    | events.ModelVersionCreated
    | events.ModelVersionUpdated
    | events.ModelVersionTagsSet
    | events.ModelVersionTagsDeleted
    | events.AliasSet
    | events.AliasDeleted
    | events.StageChanged
    | events.PromotionRequested
    | events.PromotionResolved
)

# CloudEvents type (`ce-type`) of every registry event to its payload class.
REGISTRY_EVENT_TYPES: Mapping[str, type[Message]] = {
    f"modelward.registry.v1.{cls.DESCRIPTOR.name}": cls
    for cls in (
        events.ModelCreated,
        events.ModelUpdated,
        events.ModelRenamed,
        events.ModelArchived,
        events.ModelDeleted,
        events.ModelTagsSet,
        events.ModelTagsDeleted,
        events.ModelVersionCreated,
        events.ModelVersionUpdated,
        events.ModelVersionTagsSet,
        events.ModelVersionTagsDeleted,
        events.AliasSet,
        events.AliasDeleted,
        events.StageChanged,
        events.PromotionRequested,
        events.PromotionResolved,
    )
}


def parse_registry_event(event_type: str, payload: bytes) -> RegistryEvent:
    """Decode a registry event payload from its CloudEvents type and protobuf bytes."""
    cls = REGISTRY_EVENT_TYPES.get(event_type)
    if cls is None:
        raise InvalidArgument(
            "ce-type",
            event_type,
            f"expected one of {', '.join(sorted(REGISTRY_EVENT_TYPES))}",
            problem="is not a registry event type",
        )
    try:
        message = cls.FromString(payload)
    except DecodeError as error:
        raise InvalidArgument(
            "payload",
            f"{len(payload)} bytes",
            f"expected a serialized {event_type}: {error}",
            problem="could not be decoded",
        ) from error
    return cast(RegistryEvent, message)


def apply_registry_event(
    model: PortfolioModel | None, event: RegistryEvent, occurred_at: datetime
) -> PortfolioModel:
    """Apply one registry event to the model it belongs to and return the updated model.

    `model` is None only for ModelCreated. Raises FailedPrecondition when the event does not fit
    the model (a second ModelCreated, an event for an unknown model or version), which means the
    consumer saw events out of order and should park the event.
    """
    if isinstance(event, events.ModelCreated):
        if model is not None:
            raise FailedPrecondition(
                f"ModelCreated for model uid {event.model_uid} "
                f"which already exists as {model.name}",
                field="model_uid",
                reason="MODEL_ALREADY_EXISTS",
            )
        return _model_created(event, occurred_at)

    if model is None:
        raise FailedPrecondition(
            f"{type(event).__name__} for unknown model uid {event.model_uid}: "
            "its ModelCreated event was not applied",
            field="model_uid",
            reason="MODEL_NOT_IN_PORTFOLIO",
        )
    if event.model_uid != model.uid:
        raise FailedPrecondition(
            f"{type(event).__name__} for model uid {event.model_uid} applied to model uid "
            f"{model.uid}",
            field="model_uid",
            reason="MODEL_UID_MISMATCH",
        )
    applier = _APPLIERS[type(event)]
    return applier(model, event, occurred_at)


def _model_created(event: events.ModelCreated, at: datetime) -> PortfolioModel:
    return PortfolioModel(
        uid=event.model_uid,
        model_id=event.model_id,
        create_time=at,
        description=event.description,
        owner=event.owner,
        team=event.team,
        risk_tier=RISK_TIER_FROM_PROTO[event.risk_tier],
        task_type=event.task_type,
        tags=dict(event.tags),
        last_activity_time=at,
    )


_MODEL_UPDATE_PATHS = frozenset({"description", "owner", "team", "risk_tier", "task_type", "tags"})


def _model_updated(
    model: PortfolioModel, event: events.ModelUpdated, at: datetime
) -> PortfolioModel:
    changes: dict[str, Any] = {}
    for path in event.update_mask:
        if path not in _MODEL_UPDATE_PATHS:
            raise FailedPrecondition(
                f"ModelUpdated for {model.name} names unknown field {path!r} in update_mask",
                field="update_mask",
            )
        if path == "risk_tier":
            changes[path] = RISK_TIER_FROM_PROTO[event.risk_tier]
        elif path == "tags":
            changes[path] = dict(event.tags)
        else:
            changes[path] = getattr(event, path)
    return dataclasses.replace(model, **changes)


def _model_renamed(
    model: PortfolioModel, event: events.ModelRenamed, at: datetime
) -> PortfolioModel:
    return dataclasses.replace(model, model_id=event.new_model_id)


def _model_archived(
    model: PortfolioModel, event: events.ModelArchived, at: datetime
) -> PortfolioModel:
    return dataclasses.replace(model, state=ModelState.ARCHIVED)


def _model_deleted(
    model: PortfolioModel, event: events.ModelDeleted, at: datetime
) -> PortfolioModel:
    return dataclasses.replace(model, state=ModelState.DELETED)


def _model_tags_set(
    model: PortfolioModel, event: events.ModelTagsSet, at: datetime
) -> PortfolioModel:
    return dataclasses.replace(model, tags={**model.tags, **event.tags})


def _model_tags_deleted(
    model: PortfolioModel, event: events.ModelTagsDeleted, at: datetime
) -> PortfolioModel:
    removed = set(event.keys)
    return dataclasses.replace(
        model, tags={key: value for key, value in model.tags.items() if key not in removed}
    )


def _version_from_proto(message: resources.ModelVersion, at: datetime) -> PortfolioVersion:
    lineage = message.lineage
    return PortfolioVersion(
        version=message.version,
        created_by=message.created_by,
        create_time=at,
        description=message.description,
        artifact_uri=message.artifact.uri,
        artifact_sha256=message.artifact.sha256,
        training_dataset_sha256=lineage.training_dataset.sha256,
        evaluation_dataset_sha256=lineage.evaluation_dataset.sha256,
        code_repository=lineage.code_repository,
        code_commit=lineage.code_commit,
        pipeline_run_id=lineage.pipeline_run_id,
        has_signature=bool(message.signature.inputs or message.signature.outputs),
        metrics=_metrics_from_proto(message.metrics),
        feature_names=tuple(message.feature_names),
        tags=dict(message.tags),
        stage=STAGE_FROM_PROTO[message.stage] if message.stage else Stage.NONE,
        stage_time=at,
    )


def _metrics_from_proto(metrics: Iterable[resources.Metric]) -> tuple[Metric, ...]:
    return tuple(
        Metric(name=metric.name, value=metric.value, dataset_split=metric.dataset_split)
        for metric in metrics
    )


def _with_version(model: PortfolioModel, version: PortfolioVersion) -> PortfolioModel:
    return dataclasses.replace(model, versions={**model.versions, version.version: version})


def _version_created(
    model: PortfolioModel, event: events.ModelVersionCreated, at: datetime
) -> PortfolioModel:
    version = _version_from_proto(event.model_version, at)
    if version.version in model.versions:
        raise FailedPrecondition(
            f"ModelVersionCreated for {model.version_name(version.version)} which already exists",
            field="model_version.version",
            reason="VERSION_ALREADY_EXISTS",
        )
    return record_activity(_with_version(model, version), at)


_VERSION_UPDATE_PATHS = frozenset(
    {"description", "metrics", "hyperparameters", "feature_names", "tags", "signature"}
)


def _version_updated(
    model: PortfolioModel, event: events.ModelVersionUpdated, at: datetime
) -> PortfolioModel:
    current = _existing_version(model, event.version, event)
    source = event.model_version
    changes: dict[str, Any] = {}
    for path in event.update_mask:
        if path not in _VERSION_UPDATE_PATHS:
            raise FailedPrecondition(
                f"ModelVersionUpdated for {model.version_name(event.version)} names unknown field "
                f"{path!r} in update_mask",
                field="update_mask",
            )
        if path == "metrics":
            changes["metrics"] = _metrics_from_proto(source.metrics)
        elif path == "feature_names":
            changes["feature_names"] = tuple(source.feature_names)
        elif path == "tags":
            changes["tags"] = dict(source.tags)
        elif path == "signature":
            changes["has_signature"] = bool(source.signature.inputs or source.signature.outputs)
        elif path == "description":
            changes["description"] = source.description
        # Governance keeps no hyperparameters, so that path changes nothing here.
    return _with_version(model, dataclasses.replace(current, **changes))


def _existing_version(model: PortfolioModel, version: int, event: Message) -> PortfolioVersion:
    found = model.versions.get(version)
    if found is None:
        raise FailedPrecondition(
            f"{type(event).__name__} for {model.version_name(version)}, which governance has "
            "not seen created",
            field="version",
            reason="VERSION_NOT_IN_PORTFOLIO",
        )
    return found


def _version_tags_set(
    model: PortfolioModel, event: events.ModelVersionTagsSet, at: datetime
) -> PortfolioModel:
    current = _existing_version(model, event.version, event)
    return _with_version(model, dataclasses.replace(current, tags={**current.tags, **event.tags}))


def _version_tags_deleted(
    model: PortfolioModel, event: events.ModelVersionTagsDeleted, at: datetime
) -> PortfolioModel:
    current = _existing_version(model, event.version, event)
    removed = set(event.keys)
    tags = {key: value for key, value in current.tags.items() if key not in removed}
    return _with_version(model, dataclasses.replace(current, tags=tags))


def _alias_set(model: PortfolioModel, event: events.AliasSet, at: datetime) -> PortfolioModel:
    _existing_version(model, event.version, event)
    return dataclasses.replace(model, aliases={**model.aliases, event.alias: event.version})


def _alias_deleted(
    model: PortfolioModel, event: events.AliasDeleted, at: datetime
) -> PortfolioModel:
    aliases = {alias: number for alias, number in model.aliases.items() if alias != event.alias}
    return dataclasses.replace(model, aliases=aliases)


def _stage_changed(
    model: PortfolioModel, event: events.StageChanged, at: datetime
) -> PortfolioModel:
    current = _existing_version(model, event.version, event)
    updated = dataclasses.replace(current, stage=STAGE_FROM_PROTO[event.to_stage], stage_time=at)
    return _with_version(model, updated)


def _promotion_requested(
    model: PortfolioModel, event: events.PromotionRequested, at: datetime
) -> PortfolioModel:
    current = _existing_version(model, event.version, event)
    updated = dataclasses.replace(current, pending_stage=STAGE_FROM_PROTO[event.target_stage])
    return _with_version(model, updated)


def _promotion_resolved(
    model: PortfolioModel, event: events.PromotionResolved, at: datetime
) -> PortfolioModel:
    # A decision either way counts as activity: someone reviewed the model.
    current = _existing_version(model, event.version, event)
    updated = dataclasses.replace(current, pending_stage=None)
    return record_activity(_with_version(model, updated), at)


# The event parameter is Any because each applier takes one payload class of RegistryEvent.
_Applier: TypeAlias = Callable[[PortfolioModel, Any, datetime], PortfolioModel]

_APPLIERS: Mapping[type[Message], _Applier] = {
    events.ModelUpdated: _model_updated,
    events.ModelRenamed: _model_renamed,
    events.ModelArchived: _model_archived,
    events.ModelDeleted: _model_deleted,
    events.ModelTagsSet: _model_tags_set,
    events.ModelTagsDeleted: _model_tags_deleted,
    events.ModelVersionCreated: _version_created,
    events.ModelVersionUpdated: _version_updated,
    events.ModelVersionTagsSet: _version_tags_set,
    events.ModelVersionTagsDeleted: _version_tags_deleted,
    events.AliasSet: _alias_set,
    events.AliasDeleted: _alias_deleted,
    events.StageChanged: _stage_changed,
    events.PromotionRequested: _promotion_requested,
    events.PromotionResolved: _promotion_resolved,
}
