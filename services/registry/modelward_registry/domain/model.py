"""The model aggregate: its state, the events that change it, and how each event applies.

A command handler loads the aggregate (the model and the versions the command touches),
calls a `decide_*` function that checks the rules and returns new events, and `apply`s them.
Rebuilding the projections folds the same `apply` over the whole log, so the live state and
the rebuilt one come from one piece of code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message

from modelward_common.errors import FailedPrecondition, NotFound
from modelward_common.timeutil import to_timestamp
from modelward_protos.events.v1 import registry_events_pb2 as ev
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.domain.names import model_name, version_name

EVENT_CLASSES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.name: cls
    for cls in (
        ev.ModelCreated, ev.ModelUpdated, ev.ModelRenamed, ev.ModelArchived, ev.ModelDeleted,
        ev.ModelTagsSet, ev.ModelTagsDeleted, ev.ModelVersionCreated, ev.ModelVersionUpdated,
        ev.ModelVersionTagsSet, ev.ModelVersionTagsDeleted, ev.AliasSet, ev.AliasDeleted,
        ev.StageChanged, ev.PromotionRequested, ev.PromotionResolved,
    )
}

STATE_NAMES = {value: res.ModelState.Name(value).removeprefix("MODEL_STATE_") for value in res.ModelState.values()}
STAGE_NAMES = {value: res.Stage.Name(value).removeprefix("STAGE_") for value in res.Stage.values()}


def decode_event(event_type: str, payload: bytes) -> Message:
    message = EVENT_CLASSES[event_type]()
    message.ParseFromString(payload)
    return message


@dataclass
class ModelAggregate:
    """A model's current state with the subset of its versions a command needs.

    `model` holds every field of the Model resource except `name`, `etag`, `aliases` and the
    timestamps kept here; `versions` maps version number to the version's full state.
    """

    uid: str
    model: res.Model
    stream_version: int = 0
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, res.ModelVersion] = field(default_factory=dict)
    # Version numbers that already have a projection row, so the rest are inserted.
    stored_versions: set[int] = field(default_factory=set)
    # False until the model's projection row exists.
    stored: bool = False
    # Which parts the last applied events changed, so the projection writes only those.
    touched_versions: set[int] = field(default_factory=set)
    aliases_touched: bool = False
    # Version number of the version in PRODUCTION, 0 when none.
    production_version: int = 0

    @property
    def model_id(self) -> str:
        return self.model.model_id

    def version(self, number: int) -> res.ModelVersion:
        try:
            return self.versions[number]
        except KeyError:
            raise NotFound(
                f"version {version_name(self.model_id, number)} not found; "
                f"the model's versions are 1 to {self.model.latest_version}"
            ) from None

    def etag(self) -> str:
        return f'"{self.stream_version}"'

    def require_state(self, *allowed: int, action: str) -> None:
        if self.model.state not in allowed:
            state = STATE_NAMES[self.model.state]
            raise FailedPrecondition(
                f"cannot {action}: model {model_name(self.model_id)} is {state}",
                reason=f"MODEL_{state}",
            )


def empty_aggregate(uid: str) -> ModelAggregate:
    return ModelAggregate(uid=uid, model=res.Model(uid=uid))


# --- applying events ------------------------------------------------------------------------


def apply(aggregate: ModelAggregate, event: Message, at: dt.datetime) -> None:
    """Apply one event to the aggregate and advance its stream version."""
    handler = _APPLIERS[type(event)]
    handler(aggregate, event, at)
    aggregate.stream_version += 1


def _touch_model(aggregate: ModelAggregate, at: dt.datetime) -> None:
    aggregate.model.update_time.CopyFrom(to_timestamp(at))


def _apply_model_created(aggregate: ModelAggregate, event: ev.ModelCreated, at: dt.datetime) -> None:
    model = aggregate.model
    model.uid = event.model_uid
    model.model_id = event.model_id
    model.description = event.description
    model.owner = event.owner
    model.team = event.team
    model.risk_tier = event.risk_tier
    model.task_type = event.task_type
    model.tags.clear()
    model.tags.update(event.tags)
    model.state = res.MODEL_STATE_ACTIVE
    model.create_time.CopyFrom(to_timestamp(at))
    _touch_model(aggregate, at)


def _apply_model_updated(aggregate: ModelAggregate, event: ev.ModelUpdated, at: dt.datetime) -> None:
    model = aggregate.model
    for path in event.update_mask:
        if path == "tags":
            model.tags.clear()
            model.tags.update(event.tags)
        else:
            setattr(model, path, getattr(event, path))
    _touch_model(aggregate, at)


def _apply_model_renamed(aggregate: ModelAggregate, event: ev.ModelRenamed, at: dt.datetime) -> None:
    aggregate.model.model_id = event.new_model_id
    _touch_model(aggregate, at)


def _apply_model_archived(aggregate: ModelAggregate, event: ev.ModelArchived, at: dt.datetime) -> None:
    aggregate.model.state = res.MODEL_STATE_ARCHIVED
    _touch_model(aggregate, at)


def _apply_model_deleted(aggregate: ModelAggregate, event: ev.ModelDeleted, at: dt.datetime) -> None:
    aggregate.model.state = res.MODEL_STATE_DELETED
    _touch_model(aggregate, at)


def _apply_model_tags_set(aggregate: ModelAggregate, event: ev.ModelTagsSet, at: dt.datetime) -> None:
    aggregate.model.tags.update(event.tags)
    _touch_model(aggregate, at)


def _apply_model_tags_deleted(aggregate: ModelAggregate, event: ev.ModelTagsDeleted, at: dt.datetime) -> None:
    for key in event.keys:
        aggregate.model.tags.pop(key, None)
    _touch_model(aggregate, at)


def _touch_version(aggregate: ModelAggregate, number: int, at: dt.datetime) -> res.ModelVersion:
    version = aggregate.version(number)
    version.update_time.CopyFrom(to_timestamp(at))
    # The version's etag is the stream version of the event that changes it.
    version.etag = f'"{aggregate.stream_version + 1}"'
    aggregate.touched_versions.add(number)
    return version


def _apply_version_created(aggregate: ModelAggregate, event: ev.ModelVersionCreated, at: dt.datetime) -> None:
    version = res.ModelVersion()
    version.CopyFrom(event.model_version)
    version.ClearField("name")
    version.stage = res.STAGE_NONE
    version.create_time.CopyFrom(to_timestamp(at))
    aggregate.versions[version.version] = version
    aggregate.model.latest_version = max(aggregate.model.latest_version, version.version)
    _touch_version(aggregate, version.version, at)
    _touch_model(aggregate, at)


def _apply_version_updated(aggregate: ModelAggregate, event: ev.ModelVersionUpdated, at: dt.datetime) -> None:
    version = _touch_version(aggregate, event.version, at)
    source = event.model_version
    for path in event.update_mask:
        if path in ("hyperparameters", "tags"):
            target = getattr(version, path)
            target.clear()
            target.update(getattr(source, path))
        elif path in ("metrics", "feature_names"):
            target = getattr(version, path)
            del target[:]
            target.extend(getattr(source, path))
        elif path == "signature":
            version.signature.CopyFrom(source.signature)
        else:
            setattr(version, path, getattr(source, path))


def _apply_version_tags_set(aggregate: ModelAggregate, event: ev.ModelVersionTagsSet, at: dt.datetime) -> None:
    _touch_version(aggregate, event.version, at).tags.update(event.tags)


def _apply_version_tags_deleted(aggregate: ModelAggregate, event: ev.ModelVersionTagsDeleted, at: dt.datetime) -> None:
    version = _touch_version(aggregate, event.version, at)
    for key in event.keys:
        version.tags.pop(key, None)


def _set_version_aliases(aggregate: ModelAggregate, number: int, at: dt.datetime) -> None:
    if number not in aggregate.versions:
        return
    version = _touch_version(aggregate, number, at)
    del version.aliases[:]
    version.aliases.extend(sorted(alias for alias, target in aggregate.aliases.items() if target == number))


def _apply_alias_set(aggregate: ModelAggregate, event: ev.AliasSet, at: dt.datetime) -> None:
    aggregate.aliases[event.alias] = event.version
    aggregate.aliases_touched = True
    if event.previous_version:
        _set_version_aliases(aggregate, event.previous_version, at)
    _set_version_aliases(aggregate, event.version, at)
    _touch_model(aggregate, at)


def _apply_alias_deleted(aggregate: ModelAggregate, event: ev.AliasDeleted, at: dt.datetime) -> None:
    aggregate.aliases.pop(event.alias, None)
    aggregate.aliases_touched = True
    _set_version_aliases(aggregate, event.version, at)
    _touch_model(aggregate, at)


def _apply_stage_changed(aggregate: ModelAggregate, event: ev.StageChanged, at: dt.datetime) -> None:
    version = _touch_version(aggregate, event.version, at)
    version.stage = event.to_stage
    if event.to_stage == res.STAGE_PRODUCTION:
        aggregate.production_version = event.version
    elif aggregate.production_version == event.version:
        aggregate.production_version = 0
    _touch_model(aggregate, at)


def _apply_promotion_requested(aggregate: ModelAggregate, event: ev.PromotionRequested, at: dt.datetime) -> None:
    _touch_version(aggregate, event.version, at).pending_stage = event.target_stage


def _apply_promotion_resolved(aggregate: ModelAggregate, event: ev.PromotionResolved, at: dt.datetime) -> None:
    _touch_version(aggregate, event.version, at).pending_stage = res.STAGE_UNSPECIFIED


_APPLIERS: dict[type[Message], Callable[[ModelAggregate, object, dt.datetime], None]] = {  # type: ignore[dict-item]
    ev.ModelCreated: _apply_model_created,
    ev.ModelUpdated: _apply_model_updated,
    ev.ModelRenamed: _apply_model_renamed,
    ev.ModelArchived: _apply_model_archived,
    ev.ModelDeleted: _apply_model_deleted,
    ev.ModelTagsSet: _apply_model_tags_set,
    ev.ModelTagsDeleted: _apply_model_tags_deleted,
    ev.ModelVersionCreated: _apply_version_created,
    ev.ModelVersionUpdated: _apply_version_updated,
    ev.ModelVersionTagsSet: _apply_version_tags_set,
    ev.ModelVersionTagsDeleted: _apply_version_tags_deleted,
    ev.AliasSet: _apply_alias_set,
    ev.AliasDeleted: _apply_alias_deleted,
    ev.StageChanged: _apply_stage_changed,
    ev.PromotionRequested: _apply_promotion_requested,
    ev.PromotionResolved: _apply_promotion_resolved,
}
