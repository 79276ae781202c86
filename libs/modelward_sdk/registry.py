"""Async client of the registry service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from google.protobuf import field_mask_pb2

from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_protos.registry.v1 import resources_pb2 as res
from modelward_sdk.names import enum_value, model_name, version_name
from modelward_sdk.transport import AsyncClientBase

MetricsArg = Mapping[str, float] | Iterable[res.Metric]


class AsyncRegistryClient(AsyncClientBase):
    """Typed calls of RegistryService. Names accept `churn` as well as `models/churn`.

    Creates without a `request_id` get a random one, so every create can be retried safely on
    UNAVAILABLE; pass your own to make a rerun of the same job return the first result.
    """

    service = "registry"
    stub_type = rpc_grpc.RegistryServiceStub
    stub: rpc_grpc.RegistryServiceStub

    # Models

    async def create_model(
        self,
        model_id: str,
        *,
        owner: str = "",
        team: str = "",
        description: str = "",
        risk_tier: int | str = 0,
        task_type: str = "",
        tags: Mapping[str, str] | None = None,
        request_id: str | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> res.Model:
        model = res.Model(
            owner=owner, team=team, description=description, task_type=task_type,
            risk_tier=enum_value(res.RiskTier, risk_tier), tags=dict(tags or {}),
        )
        request = rpc.CreateModelRequest(
            model_id=model_id, model=model, request_id=request_id or _new_request_id(), reason=reason
        )
        return await self._call(self.stub.CreateModel, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def get_model(self, model: str, *, timeout: float | None = None) -> res.Model:
        request = rpc.GetModelRequest(name=model_name(model))
        return await self._call(self.stub.GetModel, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def list_models(
        self, *, filter: str = "", order_by: str = "", show_deleted: bool = False, page_size: int = 100,
        timeout: float | None = None,
    ) -> AsyncIterator[res.Model]:
        request = rpc.ListModelsRequest(filter=filter, order_by=order_by, show_deleted=show_deleted, page_size=page_size)
        async for model in self._pages(self.stub.ListModels, request, "models", timeout=timeout):
            yield model

    async def update_model(
        self,
        model: str,
        *,
        description: str | None = None,
        owner: str | None = None,
        team: str | None = None,
        risk_tier: int | str | None = None,
        task_type: str | None = None,
        tags: Mapping[str, str] | None = None,
        etag: str = "",
        reason: str = "",
        timeout: float | None = None,
    ) -> res.Model:
        """Change the fields given; a field left as None keeps its value. `tags` replaces all tags."""
        changes: dict[str, Any] = {
            "description": description, "owner": owner, "team": team, "task_type": task_type,
            "risk_tier": None if risk_tier is None else enum_value(res.RiskTier, risk_tier),
            "tags": None if tags is None else dict(tags),
        }
        paths = [path for path, value in changes.items() if value is not None]
        if not paths:
            raise ValueError("update_model needs at least one field to change")
        body = res.Model(name=model_name(model), etag=etag, **{path: changes[path] for path in paths})
        request = rpc.UpdateModelRequest(model=body, update_mask=field_mask_pb2.FieldMask(paths=paths), reason=reason)
        return await self._call(self.stub.UpdateModel, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def rename_model(
        self, model: str, new_model_id: str, *, etag: str = "", reason: str = "", timeout: float | None = None
    ) -> res.Model:
        request = rpc.RenameModelRequest(name=model_name(model), new_model_id=new_model_id, etag=etag, reason=reason)
        return await self._call(self.stub.RenameModel, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def archive_model(
        self, model: str, *, etag: str = "", reason: str = "", timeout: float | None = None
    ) -> res.Model:
        request = rpc.ArchiveModelRequest(name=model_name(model), etag=etag, reason=reason)
        return await self._call(self.stub.ArchiveModel, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def delete_model(
        self, model: str, *, etag: str = "", reason: str = "", timeout: float | None = None
    ) -> res.Model:
        request = rpc.DeleteModelRequest(name=model_name(model), etag=etag, reason=reason)
        return await self._call(self.stub.DeleteModel, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def set_model_tags(
        self, model: str, tags: Mapping[str, str], *, reason: str = "", timeout: float | None = None
    ) -> res.Model:
        request = rpc.SetModelTagsRequest(name=model_name(model), tags=dict(tags), reason=reason)
        return await self._call(self.stub.SetModelTags, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def delete_model_tags(
        self, model: str, keys: Iterable[str], *, reason: str = "", timeout: float | None = None
    ) -> res.Model:
        request = rpc.DeleteModelTagsRequest(name=model_name(model), keys=list(keys), reason=reason)
        return await self._call(self.stub.DeleteModelTags, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    # Versions

    async def create_model_version(
        self,
        model: str,
        *,
        template: res.ModelVersion | None = None,
        artifact: res.Artifact | None = None,
        lineage: res.Lineage | None = None,
        metrics: MetricsArg | None = None,
        dataset_split: str = "test",
        hyperparameters: Mapping[str, object] | None = None,
        feature_names: Iterable[str] = (),
        signature: res.Signature | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        request_id: str | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> res.ModelVersion:
        """Register a version. Metrics given as a mapping are recorded on `dataset_split`;
        hyperparameter values are stored as text (`str(value)`).

        `template`, such as a ModelVersion read from a file, gives the starting fields; the other
        arguments that are given replace its fields (metrics, hyperparameters and tags are added).
        """
        version = res.ModelVersion()
        if template is not None:
            version.CopyFrom(template)
        if description:
            version.description = description
        if artifact is not None:
            version.artifact.CopyFrom(artifact)
        if lineage is not None:
            version.lineage.CopyFrom(lineage)
        if signature is not None:
            version.signature.CopyFrom(signature)
        version.metrics.extend(metric_list(metrics, dataset_split))
        version.hyperparameters.update({key: str(value) for key, value in (hyperparameters or {}).items()})
        names = list(feature_names)
        if names:
            del version.feature_names[:]
            version.feature_names.extend(names)
        version.tags.update(tags or {})
        request = rpc.CreateModelVersionRequest(
            parent=model_name(model), model_version=version, request_id=request_id or _new_request_id(), reason=reason
        )
        return await self._call(self.stub.CreateModelVersion, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def get_model_version(
        self, model: str, version: int | None = None, *, timeout: float | None = None
    ) -> res.ModelVersion:
        request = rpc.GetModelVersionRequest(name=version_name(model, version))
        return await self._call(self.stub.GetModelVersion, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    async def list_model_versions(
        self, model: str = "-", *, filter: str = "", order_by: str = "", page_size: int = 100,
        timeout: float | None = None,
    ) -> AsyncIterator[res.ModelVersion]:
        """Yield the versions of one model, or of every model when `model` is `-`."""
        request = rpc.ListModelVersionsRequest(
            parent=model_name(model), filter=filter, order_by=order_by, page_size=page_size
        )
        async for version in self._pages(self.stub.ListModelVersions, request, "model_versions", timeout=timeout):
            yield version

    async def update_model_version(
        self,
        name: str,
        *,
        description: str | None = None,
        metrics: MetricsArg | None = None,
        dataset_split: str = "test",
        hyperparameters: Mapping[str, object] | None = None,
        feature_names: Iterable[str] | None = None,
        tags: Mapping[str, str] | None = None,
        signature: res.Signature | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> res.ModelVersion:
        """Change the fields given; artifact and lineage are immutable."""
        body = res.ModelVersion(name=version_name(name))
        paths = []
        if description is not None:
            body.description = description
            paths.append("description")
        if metrics is not None:
            body.metrics.extend(metric_list(metrics, dataset_split))
            paths.append("metrics")
        if hyperparameters is not None:
            body.hyperparameters.update({key: str(value) for key, value in hyperparameters.items()})
            paths.append("hyperparameters")
        if feature_names is not None:
            body.feature_names.extend(feature_names)
            paths.append("feature_names")
        if tags is not None:
            body.tags.update(tags)
            paths.append("tags")
        if signature is not None:
            body.signature.CopyFrom(signature)
            paths.append("signature")
        if not paths:
            raise ValueError("update_model_version needs at least one field to change")
        request = rpc.UpdateModelVersionRequest(
            model_version=body, update_mask=field_mask_pb2.FieldMask(paths=paths), reason=reason
        )
        return await self._call(self.stub.UpdateModelVersion, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def transition_stage(
        self,
        name: str,
        stage: int | str,
        *,
        archive_existing: bool | None = None,
        etag: str = "",
        reason: str = "",
        timeout: float | None = None,
    ) -> res.ModelVersion:
        """Move a version to `stage`. Into a governed stage this requests a promotion: the version
        gets `pending_stage` and moves once governance approves."""
        request = rpc.TransitionStageRequest(
            name=version_name(name), stage=enum_value(res.Stage, stage), etag=etag, reason=reason
        )
        if archive_existing is not None:
            request.archive_existing = archive_existing
        return await self._call(self.stub.TransitionStage, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    # Aliases

    async def set_alias(
        self, name: str, alias: str, *, reason: str = "", timeout: float | None = None
    ) -> res.ModelVersion:
        request = rpc.SetAliasRequest(name=version_name(name), alias=alias, reason=reason)
        return await self._call(self.stub.SetAlias, request, retry=False, timeout=timeout)  # type: ignore[no-any-return]

    async def delete_alias(self, model: str, alias: str, *, reason: str = "", timeout: float | None = None) -> int:
        """Delete the alias and return the version number it pointed to."""
        request = rpc.DeleteAliasRequest(model=model_name(model), alias=alias, reason=reason)
        response = await self._call(self.stub.DeleteAlias, request, retry=False, timeout=timeout)
        return int(response.version)

    async def resolve_alias(self, model: str, alias: str, *, timeout: float | None = None) -> res.ModelVersion:
        request = rpc.ResolveAliasRequest(model=model_name(model), alias=alias)
        return await self._call(self.stub.ResolveAlias, request, retry=True, timeout=timeout)  # type: ignore[no-any-return]

    # History

    async def history(
        self, model: str, *, after_stream_version: int = 0, page_size: int = 100, timeout: float | None = None
    ) -> AsyncIterator[res.HistoryEntry]:
        """Yield the model's events, oldest first."""
        request = rpc.GetModelHistoryRequest(
            name=model_name(model), after_stream_version=after_stream_version, page_size=page_size
        )
        async for entry in self._pages(self.stub.GetModelHistory, request, "entries", timeout=timeout):
            yield entry


def metric_list(metrics: MetricsArg | None, dataset_split: str) -> list[res.Metric]:
    if metrics is None:
        return []
    if isinstance(metrics, Mapping):
        return [res.Metric(name=name, value=float(value), dataset_split=dataset_split) for name, value in metrics.items()]
    return list(metrics)


def _new_request_id() -> str:
    return f"sdk-{uuid.uuid4().hex}"
