"""Python SDK of modelward: async and blocking clients of the registry and governance services.

    from modelward_sdk import RegistryClient, dataset_digest

    with RegistryClient() as registry:            # address from MODELWARD_REGISTRY or endpoints.json
        registry.create_model("churn", owner="team:growth", risk_tier="medium")
        for model in registry.list_models(filter='owner = "team:growth"'):
            print(model.name)

`AccessClient` grants roles and creates API tokens; only admins may call it.

Settings are resolved as `modelward_sdk.settings` describes; errors are `modelward_sdk.errors`.
"""

from modelward_sdk.access import AsyncAccessClient
from modelward_sdk.digests import dataset_digest, file_digest
from modelward_sdk.errors import (
    AbortedError,
    AlreadyExistsError,
    CancelledCallError,
    ConfigurationError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    ModelwardSdkError,
    NotFoundError,
    PermissionDeniedError,
    RpcError,
    UnauthenticatedError,
    UnavailableError,
)
from modelward_sdk.governance import AsyncGovernanceClient, DryRunSummary
from modelward_sdk.names import model_name, version_name
from modelward_sdk.registry import AsyncRegistryClient
from modelward_sdk.retry import RetryPolicy
from modelward_sdk.settings import ConnectionSettings, TlsSettings
from modelward_sdk.sync import AccessClient, GovernanceClient, RegistryClient

__all__ = [
    "AbortedError",
    "AccessClient",
    "AlreadyExistsError",
    "CancelledCallError",
    "AsyncAccessClient",
    "AsyncGovernanceClient",
    "AsyncRegistryClient",
    "ConfigurationError",
    "ConnectionSettings",
    "DeadlineExceededError",
    "DryRunSummary",
    "FailedPreconditionError",
    "FieldViolation",
    "GovernanceClient",
    "InvalidArgumentError",
    "ModelwardSdkError",
    "NotFoundError",
    "PermissionDeniedError",
    "RegistryClient",
    "RetryPolicy",
    "RpcError",
    "TlsSettings",
    "UnauthenticatedError",
    "UnavailableError",
    "dataset_digest",
    "file_digest",
    "model_name",
    "version_name",
]
