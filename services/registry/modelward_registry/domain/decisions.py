"""Command rules of the registry: each function checks a request against the aggregate and
returns the events that record it, or raises a ModelwardError that names the fix.

An empty list means the request changes nothing, so nothing is appended.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from modelward_common.errors import Aborted, AlreadyExists, FailedPrecondition, FieldViolations, InvalidArgument, NotFound
from modelward_common.principals import canonical_principal
from modelward_protos.events.v1 import registry_events_pb2 as ev
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_registry.domain import validation as rules
from modelward_registry.domain.model import STAGE_NAMES, ModelAggregate
from modelward_registry.domain.names import model_name, version_name

MODEL_UPDATE_PATHS = ("description", "owner", "team", "risk_tier", "task_type", "tags")
VERSION_UPDATE_PATHS = ("description", "metrics", "hyperparameters", "feature_names", "tags", "signature")
IMMUTABLE_VERSION_PATHS = ("artifact", "lineage", "version", "stage", "aliases", "created_by", "create_time")
_MUTABLE = (res.MODEL_STATE_ACTIVE, res.MODEL_STATE_ARCHIVED)


def _check_model_fields(model: res.Model, prefix: str, paths: Sequence[str]) -> None:
    if "description" in paths:
        rules.check_text(model.description, f"{prefix}description", rules.MAX_DESCRIPTION)
    if "owner" in paths:
        rules.check_owner(model.owner, f"{prefix}owner")
    if "team" in paths:
        rules.check_team(model.team, f"{prefix}team")
    if "risk_tier" in paths and model.risk_tier not in res.RiskTier.values():
        raise InvalidArgument(f"{prefix}risk_tier", model.risk_tier, "use LOW, MEDIUM, HIGH or CRITICAL")
    if "task_type" in paths:
        rules.check_task_type(model.task_type, f"{prefix}task_type")
    if "tags" in paths:
        rules.check_tags(model.tags, f"{prefix}tags")


def _with_canonical_owner(model: res.Model) -> res.Model:
    """Return the model with its owner in canonical form, so owner checks match the caller's principal."""
    owner = canonical_principal(model.owner)
    if owner == model.owner:
        return model
    copy = res.Model()
    copy.CopyFrom(model)
    copy.owner = owner
    return copy


def decide_create_model(uid: str, model_id: str, model: res.Model) -> list[Message]:
    rules.check_model_id(model_id)
    _check_model_fields(model, "model.", MODEL_UPDATE_PATHS)
    model = _with_canonical_owner(model)
    return [
        ev.ModelCreated(
            model_uid=uid,
            model_id=model_id,
            description=model.description,
            owner=model.owner,
            team=model.team,
            risk_tier=model.risk_tier,
            task_type=model.task_type,
            tags=dict(model.tags),
        )
    ]


def check_update_mask(paths: Sequence[str], allowed: Sequence[str], immutable: Sequence[str] = ()) -> list[str]:
    if not paths:
        raise InvalidArgument(
            "update_mask", "", f"name the fields to change, among {', '.join(allowed)}", problem="is empty"
        )
    for path in paths:
        if path in immutable:
            raise InvalidArgument("update_mask", path, "create a new version instead", problem="names an immutable field")
        if path not in allowed:
            raise InvalidArgument("update_mask", path, f"use paths among {', '.join(allowed)}")
    return list(dict.fromkeys(paths))


def _check_etag(aggregate: ModelAggregate, etag: str, current: str, resource: str) -> None:
    if etag and etag != current:
        raise_stale_etag(resource, etag, current)


def raise_stale_etag(resource: str, etag: str, current: str) -> None:
    raise Aborted(
        f"etag {etag} of {resource} is stale (current {current}); read it again and reapply your change",
        reason="STALE_ETAG",
    )


def decide_update_model(aggregate: ModelAggregate, model: res.Model, paths: Sequence[str]) -> list[Message]:
    paths = check_update_mask(paths, MODEL_UPDATE_PATHS)
    _check_model_fields(model, "model.", paths)
    model = _with_canonical_owner(model)
    aggregate.require_state(*_MUTABLE, action="update the model")
    _check_etag(aggregate, model.etag, aggregate.etag(), model_name(aggregate.model_id))
    changed = [path for path in paths if _model_field_differs(aggregate.model, model, path)]
    if not changed:
        return []
    event = ev.ModelUpdated(model_uid=aggregate.uid, update_mask=changed)
    for path in changed:
        if path == "tags":
            event.tags.update(model.tags)
        else:
            setattr(event, path, getattr(model, path))
    return [event]


def _model_field_differs(current: res.Model, proposed: res.Model, path: str) -> bool:
    if path == "tags":
        return dict(current.tags) != dict(proposed.tags)
    return bool(getattr(current, path) != getattr(proposed, path))


def decide_rename(aggregate: ModelAggregate, new_model_id: str, etag: str, name_taken: bool) -> list[Message]:
    rules.check_model_id(new_model_id, "new_model_id")
    aggregate.require_state(*_MUTABLE, action="rename the model")
    _check_etag(aggregate, etag, aggregate.etag(), model_name(aggregate.model_id))
    if new_model_id == aggregate.model_id:
        return []
    if name_taken:
        raise AlreadyExists(
            f"cannot rename to {model_name(new_model_id)}: a model of that name exists (names are unique "
            "regardless of case); choose another new_model_id",
            field="new_model_id",
        )
    return [ev.ModelRenamed(model_uid=aggregate.uid, old_model_id=aggregate.model_id, new_model_id=new_model_id)]


def decide_archive(aggregate: ModelAggregate, etag: str) -> list[Message]:
    aggregate.require_state(*_MUTABLE, action="archive the model")
    _check_etag(aggregate, etag, aggregate.etag(), model_name(aggregate.model_id))
    if aggregate.model.state == res.MODEL_STATE_ARCHIVED:
        return []
    return [ev.ModelArchived(model_uid=aggregate.uid)]


def decide_delete(aggregate: ModelAggregate, etag: str) -> list[Message]:
    if aggregate.model.state == res.MODEL_STATE_DELETED:
        return []
    _check_etag(aggregate, etag, aggregate.etag(), model_name(aggregate.model_id))
    if aggregate.production_version:
        raise FailedPrecondition(
            f"cannot delete {model_name(aggregate.model_id)}: version {aggregate.production_version} is in "
            "PRODUCTION; transition it to ARCHIVED first",
            reason="VERSION_IN_PRODUCTION",
        )
    return [ev.ModelDeleted(model_uid=aggregate.uid)]


def decide_set_model_tags(aggregate: ModelAggregate, tags: dict[str, str]) -> list[Message]:
    if not tags:
        raise InvalidArgument("tags", "{}", "send at least one tag", problem="is empty")
    rules.check_tags(tags)
    aggregate.require_state(*_MUTABLE, action="set tags")
    merged = {**aggregate.model.tags, **tags}
    if len(merged) > rules.MAX_TAGS:
        raise InvalidArgument("tags", f"{len(merged)} tags after the change", f"keep at most {rules.MAX_TAGS} tags", problem="is too many")
    if all(aggregate.model.tags.get(key) == value for key, value in tags.items()):
        return []
    return [ev.ModelTagsSet(model_uid=aggregate.uid, tags=tags)]


def decide_delete_model_tags(aggregate: ModelAggregate, keys: Sequence[str]) -> list[Message]:
    keys = rules.check_tag_keys(keys)
    aggregate.require_state(*_MUTABLE, action="delete tags")
    present = [key for key in dict.fromkeys(keys) if key in aggregate.model.tags]
    if not present:
        return []
    return [ev.ModelTagsDeleted(model_uid=aggregate.uid, keys=present)]


# --- versions -------------------------------------------------------------------------------


def check_version_fields(
    version: res.ModelVersion, prefix: str, paths: Sequence[str], violations: FieldViolations | None = None
) -> None:
    """Check the fields named in `paths`. With `violations` the errors are collected there; without,
    one error naming every invalid field is raised. A version too large for its event is rejected
    at once."""
    size = version.ByteSize()
    if size > rules.MAX_VERSION_BYTES:
        raise InvalidArgument(
            prefix.rstrip("."), f"{size:,} bytes",
            f"send at most {rules.MAX_VERSION_BYTES:,} bytes, because the version's event must fit in one NATS "
            "message; keep long values, such as large hyperparameters or feature lists, in the artifact",
            problem="is too large",
        )
    collected = violations if violations is not None else FieldViolations()
    if "description" in paths:
        collected.check(rules.check_text, version.description, f"{prefix}description", rules.MAX_DESCRIPTION)
    if "hyperparameters" in paths:
        collected.check(
            rules.check_string_map, version.hyperparameters, f"{prefix}hyperparameters",
            key_limit=rules.MAX_PARAM_KEY, value_limit=rules.MAX_PARAM_VALUE, count_limit=rules.MAX_PARAMS,
        )
    if "metrics" in paths:
        collected.check(_check_metrics, version, prefix)
    if "feature_names" in paths:
        collected.check(_check_features, version, prefix)
    if "tags" in paths:
        collected.check(rules.check_tags, version.tags, f"{prefix}tags")
    if "signature" in paths:
        collected.check(_check_signature, version.signature, f"{prefix}signature")
    if violations is None:
        collected.raise_if_any()


def _check_metrics(version: res.ModelVersion, prefix: str) -> None:
    if len(version.metrics) > rules.MAX_METRICS:
        raise InvalidArgument(f"{prefix}metrics", f"{len(version.metrics)} metrics", f"send at most {rules.MAX_METRICS}")
    seen: set[tuple[str, str]] = set()
    for index, metric in enumerate(version.metrics):
        rules.check_metric(metric.name, metric.value, metric.dataset_split, f"{prefix}metrics[{index}]")
        key = (metric.name, metric.dataset_split)
        if key in seen:
            raise InvalidArgument(
                f"{prefix}metrics[{index}]", f"{metric.name}@{metric.dataset_split or '-'}",
                "send each metric name once per dataset_split", problem="is a duplicate",
            )
        seen.add(key)


def _check_features(version: res.ModelVersion, prefix: str) -> None:
    names = list(version.feature_names)
    if len(names) > rules.MAX_FEATURES:
        raise InvalidArgument(f"{prefix}feature_names", f"{len(names)} names", f"send at most {rules.MAX_FEATURES}")
    for index, name in enumerate(names):
        if not name or len(name) > rules.MAX_FEATURE_NAME or "\x00" in name:
            raise InvalidArgument(f"{prefix}feature_names[{index}]", name, f"use 1-{rules.MAX_FEATURE_NAME} characters")
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise InvalidArgument(f"{prefix}feature_names", duplicate, "list each feature once", problem="is listed twice")


def _check_signature(signature: res.Signature, field: str) -> None:
    for side in ("inputs", "outputs"):
        for index, column in enumerate(getattr(signature, side)):
            where = f"{field}.{side}[{index}]"
            if not column.name or len(column.name) > rules.MAX_FEATURE_NAME:
                raise InvalidArgument(f"{where}.name", column.name, f"use 1-{rules.MAX_FEATURE_NAME} characters")
            if not column.dtype or len(column.dtype) > 64:
                raise InvalidArgument(f"{where}.dtype", column.dtype, "use a type name such as 'float64' or 'string'")
            if any(size < -1 for size in column.shape):
                raise InvalidArgument(f"{where}.shape", list(column.shape), "use sizes of 0 or more, or -1 for a variable size")


def _check_lineage(version: res.ModelVersion, prefix: str, latest_version: int | None, violations: FieldViolations) -> None:
    lineage = version.lineage
    for name in ("training_dataset", "evaluation_dataset"):
        dataset: res.DatasetRef = getattr(lineage, name)
        where = f"{prefix}lineage.{name}"
        violations.check(rules.check_text, dataset.uri, f"{where}.uri", rules.MAX_URI)
        violations.check(rules.check_sha256, dataset.sha256, f"{where}.sha256", required=False)
        violations.check(rules.check_non_negative, dataset.row_count, f"{where}.row_count")
    violations.check(rules.check_text, lineage.code_repository, f"{prefix}lineage.code_repository", rules.MAX_URI)
    violations.check(rules.check_commit, lineage.code_commit, f"{prefix}lineage.code_commit")
    violations.check(rules.check_text, lineage.pipeline_run_id, f"{prefix}lineage.pipeline_run_id", 256)
    violations.check(_check_parent_version, lineage.parent_version, f"{prefix}lineage.parent_version", latest_version)


def _check_parent_version(parent_version: int, field: str, latest_version: int | None) -> None:
    """Check a parent version against the model's latest version, or only its sign when the model
    is not read yet (`latest_version` None)."""
    if parent_version < 0:
        raise InvalidArgument(field, parent_version, "name an existing version of this model, or 0 for none")
    if latest_version is None or parent_version <= latest_version:
        return
    if latest_version == 0:
        raise InvalidArgument(field, parent_version, "use 0 for none, since this model has no versions yet")
    raise InvalidArgument(field, parent_version, f"name an existing version (1 to {latest_version}) or 0 for none")


def _check_artifact_uri(uri: str, field: str) -> None:
    if not uri:
        raise InvalidArgument(field, "", "give the URI where the artifact is stored", problem="is missing")
    rules.check_text(uri, field, rules.MAX_URI)


def check_new_version(version: res.ModelVersion) -> None:
    """Check what can be checked without the model, so bad input fails before any I/O.

    The error names every invalid field, and its message starts with the first one's.
    """
    prefix = "model_version."
    artifact = version.artifact
    violations = FieldViolations()
    violations.check(_check_artifact_uri, artifact.uri, f"{prefix}artifact.uri")
    violations.check(rules.check_sha256, artifact.sha256, f"{prefix}artifact.sha256", required=True)
    violations.check(rules.check_non_negative, artifact.size_bytes, f"{prefix}artifact.size_bytes")
    violations.check(rules.check_format, artifact.format, f"{prefix}artifact.format")
    check_version_fields(version, prefix, VERSION_UPDATE_PATHS, violations)
    _check_lineage(version, prefix, None, violations)
    violations.raise_if_any()


# The fields of a CreateModelVersion request that become the new version. The registry sets the rest.
_CREATED_VERSION_FIELDS = frozenset(
    {"description", "artifact", "signature", "lineage", "hyperparameters", "metrics", "feature_names", "tags"}
)


def decide_create_version(
    aggregate: ModelAggregate, version: res.ModelVersion, created_by: str, *, fields_checked: bool = False
) -> list[Message]:
    """Return the events of a new version. With `fields_checked` the caller has run check_new_version,
    which checked every field but the parent version, since that needs the model."""
    if not fields_checked:
        check_new_version(version)
    aggregate.require_state(res.MODEL_STATE_ACTIVE, action="create a version")
    _check_parent_version(
        version.lineage.parent_version, "model_version.lineage.parent_version", aggregate.model.latest_version
    )
    event = ev.ModelVersionCreated(model_uid=aggregate.uid)
    created = event.model_version
    # One copy in C, then what the caller may not set is cleared, fields unknown to this registry too.
    created.CopyFrom(version)
    created.DiscardUnknownFields()
    for field, _ in created.ListFields():
        if field.name not in _CREATED_VERSION_FIELDS:
            created.ClearField(field.name)
    created.version = aggregate.model.latest_version + 1
    created.created_by = created_by
    created.stage = res.STAGE_NONE
    return [event]


def decide_update_version(aggregate: ModelAggregate, number: int, version: res.ModelVersion, paths: Sequence[str]) -> list[Message]:
    paths = check_update_mask(paths, VERSION_UPDATE_PATHS, IMMUTABLE_VERSION_PATHS)
    check_version_fields(version, "model_version.", paths)
    aggregate.require_state(*_MUTABLE, action="update a version")
    current = aggregate.version(number)
    _check_etag(aggregate, version.etag, current.etag, version_name(aggregate.model_id, number))
    changed = [path for path in paths if _version_field_differs(current, version, path)]
    if not changed:
        return []
    update = res.ModelVersion()
    for path in changed:
        if path in ("hyperparameters", "tags"):
            getattr(update, path).update(getattr(version, path))
        elif path in ("metrics", "feature_names"):
            getattr(update, path).extend(getattr(version, path))
        elif path == "signature":
            update.signature.CopyFrom(version.signature)
        else:
            setattr(update, path, getattr(version, path))
    return [ev.ModelVersionUpdated(model_uid=aggregate.uid, version=number, update_mask=changed, model_version=update)]


def _version_field_differs(current: res.ModelVersion, proposed: res.ModelVersion, path: str) -> bool:
    left, right = getattr(current, path), getattr(proposed, path)
    if path in ("hyperparameters", "tags"):
        return dict(left) != dict(right)
    if path in ("metrics", "feature_names"):
        return list(left) != list(right)
    return bool(left != right)


def decide_set_version_tags(aggregate: ModelAggregate, number: int, tags: dict[str, str]) -> list[Message]:
    if not tags:
        raise InvalidArgument("tags", "{}", "send at least one tag", problem="is empty")
    rules.check_tags(tags)
    aggregate.require_state(*_MUTABLE, action="set tags")
    current = aggregate.version(number)
    merged = {**current.tags, **tags}
    if len(merged) > rules.MAX_TAGS:
        raise InvalidArgument("tags", f"{len(merged)} tags after the change", f"keep at most {rules.MAX_TAGS} tags", problem="is too many")
    if all(current.tags.get(key) == value for key, value in tags.items()):
        return []
    return [ev.ModelVersionTagsSet(model_uid=aggregate.uid, version=number, tags=tags)]


def decide_delete_version_tags(aggregate: ModelAggregate, number: int, keys: Sequence[str]) -> list[Message]:
    keys = rules.check_tag_keys(keys)
    aggregate.require_state(*_MUTABLE, action="delete tags")
    current = aggregate.version(number)
    present = [key for key in dict.fromkeys(keys) if key in current.tags]
    if not present:
        return []
    return [ev.ModelVersionTagsDeleted(model_uid=aggregate.uid, version=number, keys=present)]


# --- aliases and stages ---------------------------------------------------------------------


def decide_set_alias(aggregate: ModelAggregate, number: int, alias: str) -> list[Message]:
    rules.check_alias(alias)
    aggregate.require_state(res.MODEL_STATE_ACTIVE, action="set an alias")
    version = aggregate.version(number)
    if version.stage == res.STAGE_ARCHIVED:
        raise FailedPrecondition(
            f"cannot point alias {alias!r} at {version_name(aggregate.model_id, number)}: the version is "
            "ARCHIVED; transition it to another stage first",
            reason="VERSION_ARCHIVED",
        )
    previous = aggregate.aliases.get(alias, 0)
    if previous == number:
        return []
    if not previous and len(aggregate.aliases) >= rules.MAX_ALIASES:
        raise FailedPrecondition(
            f"cannot add alias {alias!r} to {aggregate.model_id}: the model has {len(aggregate.aliases)} aliases, "
            f"the limit is {rules.MAX_ALIASES}; delete one with DeleteAlias or move an existing alias",
            field="alias", reason="TOO_MANY_ALIASES",
        )
    return [ev.AliasSet(model_uid=aggregate.uid, alias=alias, version=number, previous_version=previous)]


def decide_delete_alias(aggregate: ModelAggregate, alias: str) -> list[Message]:
    rules.check_alias(alias)
    aggregate.require_state(*_MUTABLE, action="delete an alias")
    if alias not in aggregate.aliases:
        raise NotFound(f"alias {alias!r} not found on {model_name(aggregate.model_id)}", field="alias")
    return [ev.AliasDeleted(model_uid=aggregate.uid, alias=alias, version=aggregate.aliases[alias])]


def decide_transition(
    aggregate: ModelAggregate,
    number: int,
    stage: int,
    *,
    archive_existing: bool,
    etag: str,
    requested_by: str,
    governed_stages: frozenset[int],
) -> list[Message]:
    if stage not in (res.STAGE_NONE, res.STAGE_STAGING, res.STAGE_PRODUCTION, res.STAGE_ARCHIVED):
        raise InvalidArgument("stage", stage, "use NONE, STAGING, PRODUCTION or ARCHIVED")
    aggregate.require_state(res.MODEL_STATE_ACTIVE, action="change a version's stage")
    version = aggregate.version(number)
    _check_etag(aggregate, etag, version.etag, version_name(aggregate.model_id, number))
    if version.stage == stage:
        return []
    if version.pending_stage != res.STAGE_UNSPECIFIED:
        raise FailedPrecondition(
            f"{version_name(aggregate.model_id, number)} has a pending promotion to "
            f"{STAGE_NAMES[version.pending_stage]}; wait for governance's decision",
            reason="PROMOTION_PENDING",
        )
    production = aggregate.production_version
    if stage == res.STAGE_PRODUCTION and production and not archive_existing:
        raise FailedPrecondition(
            f"version {production} of {model_name(aggregate.model_id)} is in PRODUCTION; set "
            "archive_existing or archive it first, since one version serves at a time",
            reason="PRODUCTION_OCCUPIED",
        )
    if stage in governed_stages:
        return [
            ev.PromotionRequested(
                model_uid=aggregate.uid, version=number, target_stage=stage,
                requested_by=requested_by, archive_existing=archive_existing,
            )
        ]
    return stage_change_events(aggregate, number, stage)


def stage_change_events(aggregate: ModelAggregate, number: int, stage: int) -> list[Message]:
    """Events of a stage change; entering PRODUCTION archives the version that served before."""
    events: list[Message] = []
    production = aggregate.production_version
    if stage == res.STAGE_PRODUCTION and production and production != number:
        events.append(
            ev.StageChanged(
                model_uid=aggregate.uid, version=production,
                from_stage=res.STAGE_PRODUCTION, to_stage=res.STAGE_ARCHIVED,
            )
        )
    current = aggregate.version(number)
    events.append(
        ev.StageChanged(model_uid=aggregate.uid, version=number, from_stage=current.stage, to_stage=stage)
    )
    return events
