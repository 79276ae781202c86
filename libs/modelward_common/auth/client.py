"""Client side: attach a bearer token to every call of a grpc.aio channel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc

from modelward_common.auth.tls import channel_credentials


def _with_token(details: grpc.aio.ClientCallDetails, token: str) -> grpc.aio.ClientCallDetails:
    metadata = list(details.metadata or ())
    # A call that brings its own credentials keeps them.
    if not any(key == "authorization" for key, _ in metadata):
        metadata.append(("authorization", f"Bearer {token}"))
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, grpc.aio.Metadata(*metadata), details.credentials, details.wait_for_ready
    )


class _TokenSource:
    def __init__(self, token: str | Callable[[], str]) -> None:
        self._token = token

    def token(self) -> str:
        return self._token() if callable(self._token) else self._token


class _UnaryUnary(_TokenSource, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        return await continuation(_with_token(details, self.token()), request)


class _UnaryStream(_TokenSource, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        return await continuation(_with_token(details, self.token()), request)


class _StreamUnary(_TokenSource, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: grpc.aio.ClientCallDetails, requests: Any) -> Any:
        return await continuation(_with_token(details, self.token()), requests)


class _StreamStream(_TokenSource, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: grpc.aio.ClientCallDetails, requests: Any) -> Any:
        return await continuation(_with_token(details, self.token()), requests)


def bearer_token(token: str | Callable[[], str]) -> list[Any]:
    """Return channel interceptors that send `authorization: Bearer <token>` on every call
    that does not set its own.

    grpc.aio files each interceptor under one call kind only, so there is one per kind.
    """
    return [kind(token) for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]


def service_channel(
    target: str,
    *,
    token_file: str = "",
    tls_ca_file: str = "",
    tls_cert_file: str = "",
    tls_key_file: str = "",
) -> grpc.aio.Channel:
    """Open a channel to another modelward service with a token file and/or TLS client certificate."""
    interceptors: Sequence[Any] = ()
    if token_file:
        token = Path(token_file).read_text(encoding="utf-8").strip()
        interceptors = bearer_token(token)
    if tls_ca_file or tls_cert_file:
        credentials = channel_credentials(tls_ca_file, tls_cert_file, tls_key_file)
        return grpc.aio.secure_channel(target, credentials, interceptors=interceptors)
    return grpc.aio.insecure_channel(target, interceptors=interceptors)
