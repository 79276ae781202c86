"""The part every async client shares: the channel, the metadata, deadlines, retries and paging."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import grpc
from google.protobuf import message

from modelward_sdk.errors import DeadlineExceededError, from_grpc_error
from modelward_sdk.retry import RETRYABLE_CODES, RetryPolicy
from modelward_sdk.settings import (
    DEFAULT_TIMEOUT, ConnectionSettings, Service, TlsSettings, resolve_settings,
)

logger = logging.getLogger(__name__)

# The services accept messages up to 16 MiB; the client matches so large reports are readable.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

Request = TypeVar("Request", bound=message.Message)
Item = TypeVar("Item")


def open_channel(settings: ConnectionSettings) -> grpc.aio.Channel:
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    if settings.tls is None:
        return grpc.aio.insecure_channel(settings.target, options=options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=settings.tls.root_certificates,
        private_key=settings.tls.private_key,
        certificate_chain=settings.tls.certificate_chain,
    )
    return grpc.aio.secure_channel(settings.target, credentials, options=options)


class AsyncClientBase:
    """Owns one channel; closing the client closes it unless the caller passed the channel in.

    Settings not given as `settings` are resolved as `modelward_sdk.settings` describes.
    """

    service: ClassVar[Service]
    stub_type: ClassVar[Callable[[grpc.aio.Channel], Any]]

    def __init__(
        self,
        target: str | None = None,
        *,
        token: str | None = None,
        tls: TlsSettings | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        settings: ConnectionSettings | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.settings = settings or resolve_settings(
            self.service, target, token=token, tls=tls, timeout=timeout, retry=retry
        )
        self._owns_channel = channel is None
        self.channel = channel if channel is not None else open_channel(self.settings)
        self.stub = self.stub_type(self.channel)
        self._rng = random.Random()

    async def close(self) -> None:
        if self._owns_channel:
            await self.channel.close()

    async def __aenter__(self: Any) -> Any:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(
        self,
        stub_method: Callable[..., Awaitable[Any]],
        request: message.Message,
        *,
        retry: bool,
        timeout: float | None = None,
    ) -> Any:
        """Call a unary method with one deadline over all attempts, retrying UNAVAILABLE and CANCELLED when `retry`."""
        method = _method_name(stub_method)
        budget = timeout if timeout is not None else self.settings.timeout
        deadline = time.monotonic() + budget
        policy = self.settings.retry
        attempt = 1
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceededError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"{method} did not finish within {budget:g} s over {attempt - 1} attempts",
                    method=method,
                )
            try:
                return await stub_method(request, timeout=remaining, metadata=self.settings.metadata())
            except grpc.aio.AioRpcError as error:
                retryable = retry and error.code() in RETRYABLE_CODES and attempt < policy.max_attempts
                if not retryable:
                    raise from_grpc_error(error, method) from None
                wait = min(policy.backoff(attempt, self._rng), max(0.0, deadline - time.monotonic()))
                logger.warning(
                    "%s failed with %s on attempt %d of %d (%s); retrying in %.2f s",
                    method, error.code().name, attempt, policy.max_attempts, error.details(), wait,
                )
                await asyncio.sleep(wait)
                attempt += 1

    async def _stream_call(
        self,
        stub_method: Callable[..., Any],
        requests: AsyncIterable[message.Message],
        *,
        timeout: float | None = None,
    ) -> Any:
        """Call a client-streaming method once: the request stream cannot be replayed, so no retry."""
        method = _method_name(stub_method)
        budget = timeout if timeout is not None else self.settings.timeout
        try:
            return await stub_method(requests, timeout=budget, metadata=self.settings.metadata())
        except grpc.aio.AioRpcError as error:
            raise from_grpc_error(error, method) from None

    async def _pages(
        self,
        stub_method: Callable[..., Awaitable[Any]],
        request: Request,
        items_field: str,
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[Any]:
        """Yield the items of every page, following next_page_token; each page is one retried read."""
        while True:
            response = await self._call(stub_method, request, retry=True, timeout=timeout)
            for item in getattr(response, items_field):
                yield item
            token = response.next_page_token
            if not token:
                return
            request = _with_token(request, token)


def _with_token(request: Request, token: str) -> Request:
    following = type(request)()
    following.CopyFrom(request)
    following.page_token = token  # type: ignore[attr-defined]
    return following


def _method_name(stub_method: Callable[..., Any]) -> str:
    # grpc stub callables keep the full method path in `_method` as bytes.
    raw = getattr(stub_method, "_method", b"")
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def as_async_iterable(items: AsyncIterable[Item] | Any) -> AsyncIterator[Item]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
