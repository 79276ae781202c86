"""Blocking clients: the async clients run on a private event loop in a background thread.

Every method has the signature of its async twin and returns its result; list methods return
plain iterators. Callbacks such as an upload's `progress` run on that background thread.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from modelward_sdk.access import AsyncAccessClient
from modelward_sdk.governance import AsyncGovernanceClient
from modelward_sdk.registry import AsyncRegistryClient
from modelward_sdk.transport import AsyncClientBase

P = ParamSpec("P")
T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="modelward-sdk", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class _SyncClient:
    _async_type: type[AsyncClientBase]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loop = _LoopThread()
        try:
            # grpc.aio channels belong to the loop they are created on, so build the client there.
            self._async: Any = self._loop.run(self._create(args, kwargs))
        except BaseException:
            self._loop.stop()
            raise

    async def _create(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncClientBase:
        return self._async_type(*args, **kwargs)

    @property
    def settings(self) -> Any:
        return self._async.settings

    def close(self) -> None:
        if self._loop.loop.is_closed():
            return
        self._loop.run(self._async.close())
        self._loop.stop()

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _blocking(method: Callable[Concatenate[Any, P], Awaitable[T]]) -> Callable[Concatenate[_SyncClient, P], T]:
    @functools.wraps(method)
    def call(self: _SyncClient, *args: P.args, **kwargs: P.kwargs) -> T:
        async def run() -> T:
            return await method(self._async, *args, **kwargs)

        return self._loop.run(run())

    return call


def _blocking_iter(
    method: Callable[Concatenate[Any, P], AsyncIterator[T]],
) -> Callable[Concatenate[_SyncClient, P], Iterator[T]]:
    @functools.wraps(method)
    def call(self: _SyncClient, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        items = method(self._async, *args, **kwargs)
        try:
            while True:
                try:
                    yield self._loop.run(_next(items))
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.loop.is_closed():
                self._loop.run(items.aclose())  # type: ignore[attr-defined]

    return call


async def _next(items: AsyncIterator[T]) -> T:
    return await items.__anext__()


class RegistryClient(_SyncClient):
    """Blocking RegistryService client; see AsyncRegistryClient for the arguments."""

    _async_type = AsyncRegistryClient

    create_model = _blocking(AsyncRegistryClient.create_model)
    get_model = _blocking(AsyncRegistryClient.get_model)
    list_models = _blocking_iter(AsyncRegistryClient.list_models)
    update_model = _blocking(AsyncRegistryClient.update_model)
    rename_model = _blocking(AsyncRegistryClient.rename_model)
    archive_model = _blocking(AsyncRegistryClient.archive_model)
    delete_model = _blocking(AsyncRegistryClient.delete_model)
    set_model_tags = _blocking(AsyncRegistryClient.set_model_tags)
    delete_model_tags = _blocking(AsyncRegistryClient.delete_model_tags)
    create_model_version = _blocking(AsyncRegistryClient.create_model_version)
    get_model_version = _blocking(AsyncRegistryClient.get_model_version)
    list_model_versions = _blocking_iter(AsyncRegistryClient.list_model_versions)
    update_model_version = _blocking(AsyncRegistryClient.update_model_version)
    transition_stage = _blocking(AsyncRegistryClient.transition_stage)
    set_alias = _blocking(AsyncRegistryClient.set_alias)
    delete_alias = _blocking(AsyncRegistryClient.delete_alias)
    resolve_alias = _blocking(AsyncRegistryClient.resolve_alias)
    history = _blocking_iter(AsyncRegistryClient.history)


class GovernanceClient(_SyncClient):
    """Blocking GovernanceService client; see AsyncGovernanceClient for the arguments."""

    _async_type = AsyncGovernanceClient

    list_portfolio = _blocking_iter(AsyncGovernanceClient.list_portfolio)
    get_model_compliance = _blocking(AsyncGovernanceClient.get_model_compliance)
    get_policy = _blocking(AsyncGovernanceClient.get_policy)
    replace_policy = _blocking(AsyncGovernanceClient.replace_policy)
    validate_policy = _blocking(AsyncGovernanceClient.validate_policy)
    dry_run_policy = _blocking(AsyncGovernanceClient.dry_run_policy)
    list_findings = _blocking_iter(AsyncGovernanceClient.list_findings)
    approve_version = _blocking(AsyncGovernanceClient.approve_version)
    reject_version = _blocking(AsyncGovernanceClient.reject_version)
    get_promotion = _blocking(AsyncGovernanceClient.get_promotion)
    list_promotions = _blocking_iter(AsyncGovernanceClient.list_promotions)
    check_deployment = _blocking(AsyncGovernanceClient.check_deployment)
    set_principal_active = _blocking(AsyncGovernanceClient.set_principal_active)
    list_dead_letters = _blocking_iter(AsyncGovernanceClient.list_dead_letters)
    retry_dead_letter = _blocking(AsyncGovernanceClient.retry_dead_letter)
    upload_reference_data = _blocking(AsyncGovernanceClient.upload_reference_data)
    report_production_data = _blocking(AsyncGovernanceClient.report_production_data)
    report_labels = _blocking(AsyncGovernanceClient.report_labels)
    get_drift_report = _blocking(AsyncGovernanceClient.get_drift_report)
    drift_windows = _blocking_iter(AsyncGovernanceClient.drift_windows)
    list_alerts = _blocking_iter(AsyncGovernanceClient.list_alerts)
    set_monitoring_config = _blocking(AsyncGovernanceClient.set_monitoring_config)


class AccessClient(_SyncClient):
    """Blocking AccessService client; see AsyncAccessClient for the arguments."""

    _async_type = AsyncAccessClient

    create_role_binding = _blocking(AsyncAccessClient.create_role_binding)
    delete_role_binding = _blocking(AsyncAccessClient.delete_role_binding)
    list_role_bindings = _blocking_iter(AsyncAccessClient.list_role_bindings)
    create_api_token = _blocking(AsyncAccessClient.create_api_token)
    revoke_api_token = _blocking(AsyncAccessClient.revoke_api_token)
    list_api_tokens = _blocking_iter(AsyncAccessClient.list_api_tokens)
