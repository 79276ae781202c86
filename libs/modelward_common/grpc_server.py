"""gRPC server plumbing shared by both services.

- One interceptor turns every ModelwardError into its gRPC status with google.rpc details
  (ErrorInfo, BadRequest naming the field), and sets the request id for logs.
- Abuse limits (limits.py): gRPC's own message size and concurrency limits, a rate limit per
  principal, and the caller's deadline, after which the handler is cancelled so its
  transaction rolls back.
- Each call passes the CallGuard (auth/guard.py) first, when the service has one: the caller
  is authenticated and the RPC's permission checked. Health checking and reflection are open.
- Standard health checking and server reflection.
- Graceful shutdown: health turns NOT_SERVING, new calls are refused, in-flight calls drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from google.protobuf import any_pb2, duration_pb2, message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from modelward_common.auth.guard import CallGuard
from modelward_common.auth.identity import ANONYMOUS_ADMIN, identity_var
from modelward_common.errors import DeadlineExceeded, InvalidArgument, ModelwardError, ResourceExhausted
from modelward_common.limits import RateLimiter, ServerLimits
from modelward_common.request_ids import MAX_REQUEST_ID, check_request_id

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
ANONYMOUS = "user:anonymous"
ERROR_DOMAIN = "modelward.io"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record, so formats can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO", *, process_label: str = "") -> None:
    """Log to stderr, each line marked with `process_label` (such as "worker 2") when one is given."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdLogFilter())
    label = f"[{process_label}] " if process_label else ""
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)s {label}%(name)s [request %(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return str(item.value)
    return ""


def caller_principal(context: grpc.aio.ServicerContext) -> str:
    """Return the principal making the call: the one place that decides who the caller is.

    The CallGuard sets it from the verified token or client certificate before the handler
    runs; with authentication off every caller is `user:anonymous`.
    """
    identity = identity_var.get()
    return identity.principal if identity is not None else ANONYMOUS


def to_status(error: ModelwardError) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    if error.field:
        info.metadata["field"] = error.field
    details = [any_pb2.Any()]
    details[0].Pack(info)
    if isinstance(error, InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=violation.field, description=violation.message)
                for violation in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        details.append(packed)
    if isinstance(error, ResourceExhausted) and error.retry_delay is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(1, int(error.retry_delay * 1e9)))
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(packed)
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]

# Methods exempt from the rate limit: probes and tooling that operators rely on.
_UNLIMITED_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


@dataclass(frozen=True)
class _UndecodableRequest:
    """Stands in for a request body that is not a valid protobuf message.

    gRPC returns UNKNOWN when a deserializer raises, so the deserializer returns this value and
    the handler wrapper raises INVALID_ARGUMENT instead.
    """

    error: str


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None
    parse = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except message.DecodeError as error:
            return _UndecodableRequest(str(error))

    return deserialize


def _checked(request: Any, method: str) -> Any:
    if isinstance(request, _UndecodableRequest):
        raise InvalidArgument(
            "request", method, "send a valid serialized protobuf request message of this method",
            problem=f"has a body that cannot be decoded ({request.error})",
        )
    return request


async def _checked_stream(requests: AsyncIterator[Any], method: str) -> AsyncIterator[Any]:
    async for request in requests:
        yield _checked(request, method)


async def _peek_first(requests: AsyncIterator[Any]) -> tuple[AsyncIterator[Any], Any | None]:
    """Read the first message of a stream; return the whole stream again and that message (None: empty)."""
    first = await anext(requests, None)

    async def replay() -> AsyncIterator[Any]:
        if first is None:
            return
        yield first
        async for request in requests:
            yield request

    return replay(), first


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Apply the rate limit and the caller's deadline, and map ModelwardError to its status;
    log anything else and return INTERNAL."""

    def __init__(self, rate_limiter: RateLimiter | None = None, guard: CallGuard | None = None) -> None:
        self.rate_limiter = rate_limiter
        self.guard = guard
        # Per method, the handler last wrapped and its wrapper, built once instead of per call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap_handler(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap_handler(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        limiter = None if method.startswith(_UNLIMITED_PREFIXES) else self.rate_limiter
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap(handler.unary_unary, method, limiter, self.guard),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap(handler.stream_unary, method, limiter, self.guard, streaming=True),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream and not method.startswith(_UNLIMITED_PREFIXES):
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, method, limiter, self.guard),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        # Health Watch and reflection have no modelward errors to map and no rate limit.
        return handler


def _check_rate(limiter: RateLimiter | None, method: str, context: grpc.aio.ServicerContext) -> None:
    if limiter is None or limiter.rate <= 0:
        return
    principal = caller_principal(context)
    wait = limiter.acquire(principal)
    if wait > 0:
        raise ResourceExhausted(
            f"{principal} exceeded {limiter.rate:g} calls per second (burst {limiter.burst}) calling {method}; "
            f"retry after {wait:.3f} s",
            reason="RATE_LIMITED",
            retry_delay=wait,
        )


def _deadline_exceeded(method: str) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"{method} did not finish before the caller's deadline and was cancelled, rolling back its "
        "transaction; retry with a longer deadline",
        reason="DEADLINE_EXCEEDED",
    )


async def _abort(context: grpc.aio.ServicerContext, method: str, request_id: str, error: Exception) -> None:
    if isinstance(error, ModelwardError):
        logger.info("%s failed with %s: %s", method, error.code.name, error.message)
        await context.abort_with_status(rpc_status.to_status(to_status(error)))
    logger.error("%s failed with an unexpected error", method, exc_info=error)
    status = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error while handling {method}; report request id {request_id}",
    )
    await context.abort_with_status(rpc_status.to_status(status))


def _set_request_id(context: grpc.aio.ServicerContext) -> tuple[str, contextvars.Token[str]]:
    request_id = metadata_value(context, REQUEST_ID_HEADER) or uuid.uuid4().hex
    # Cut to the limit so that logging the rejection of a long id stays short.
    return request_id, request_id_var.set(request_id[:MAX_REQUEST_ID])


def _check_request_id_header(context: grpc.aio.ServicerContext) -> None:
    """Reject an x-request-id that could not be stored whole as an event's correlation id."""
    check_request_id(metadata_value(context, REQUEST_ID_HEADER), f"{REQUEST_ID_HEADER} metadata")


async def _admit(guard: CallGuard | None, method: str, request: Any | None, context: grpc.aio.ServicerContext) -> None:
    """Authenticate and authorise the call, and record who is calling for caller_principal()."""
    if guard is None:
        identity_var.set(ANONYMOUS_ADMIN)
        return
    identity_var.set(await guard.admit(method, request, context))


def _wrap(
    behavior: Behavior, method: str, limiter: RateLimiter | None, guard: CallGuard | None, *, streaming: bool = False
) -> Behavior:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        request_id, token = _set_request_id(context)
        identity_token = identity_var.set(None)
        try:
            _check_request_id_header(context)
            # The guard reads the request's fields, so an undecodable body is rejected first.
            if streaming:
                # The first message names the model a client-streaming call acts on, so it is read
                # before the handler runs and authorised like a unary request.
                request, first = await _peek_first(_checked_stream(request, method))
                await _admit(guard, method, first, context)
            else:
                request = _checked(request, method)
                await _admit(guard, method, request, context)
            _check_rate(limiter, method, context)
            remaining = context.time_remaining()
            if remaining is None:
                return await behavior(request, context)
            if remaining <= 0:
                raise _deadline_exceeded(method)
            # Cancelling the handler at the deadline rolls back its open transaction, so a call
            # the caller has given up on commits nothing. asyncio.timeout cancels this task
            # itself, which costs less per call than wait_for's extra task.
            try:
                async with asyncio.timeout(remaining):
                    return await behavior(request, context)
            except TimeoutError:
                raise _deadline_exceeded(method) from None
        except grpc.aio.AbortError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure becomes a status here
            await _abort(context, method, request_id, error)
        finally:
            identity_var.reset(identity_token)
            request_id_var.reset(token)

    return wrapped


def _wrap_stream(
    behavior: StreamBehavior, method: str, limiter: RateLimiter | None, guard: CallGuard | None
) -> StreamBehavior:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        request_id, token = _set_request_id(context)
        identity_token = identity_var.set(None)
        try:
            _check_request_id_header(context)
            request = _checked(request, method)
            await _admit(guard, method, request, context)
            _check_rate(limiter, method, context)
            async for response in behavior(request, context):
                yield response
        except grpc.aio.AbortError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure becomes a status here
            await _abort(context, method, request_id, error)
        finally:
            identity_var.reset(identity_token)
            request_id_var.reset(token)

    return wrapped


class Service(Protocol):
    """A service's whole process: start() returns the gRPC port, stop() drains and closes."""

    async def start(self) -> int: ...

    async def stop(self) -> None: ...


async def finish_tasks(tasks: Sequence[asyncio.Task[Any]], deadline: float) -> None:
    """Wait for the tasks until `deadline` (time.monotonic(), at least a second from now), then
    cancel those still running and wait for them to end.

    A service's background work (a consumer batch, the relay) may outlast its shutdown grace. A
    cancelled consumer batch rolls back and hands its messages back (consumer.py).
    """
    if tasks:
        _, running = await asyncio.wait(tasks, timeout=max(1.0, deadline - time.monotonic()))
        for task in running:
            logger.warning("%s still running after the shutdown grace; cancelling it", task.get_name())
            task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def serve_until_signalled(
    service: Service, shutdown_grace: float, on_ready: Callable[[int], None] | None = None
) -> None:
    """Start `service`, run it until SIGINT or SIGTERM, then stop it, draining calls in flight."""
    port = await service.start()
    if on_ready is not None:
        on_ready(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("shutdown requested; draining in-flight calls for up to %.0f s", shutdown_grace)
    await service.stop()


class ServiceHost:
    """A grpc.aio server with health, reflection and the error interceptor."""

    def __init__(
        self,
        listen: str,
        service_names: Iterable[str],
        *,
        limits: ServerLimits | None = None,
        guard: CallGuard | None = None,
        credentials: grpc.ServerCredentials | None = None,
        reuse_port: bool = False,
    ) -> None:
        """`reuse_port` lets processes of this user listen on the same port, the kernel spreading
        connections among them (the registry's workers)."""
        self.listen = listen
        self.service_names = list(service_names)
        self.limits = limits or ServerLimits()
        self.credentials = credentials
        limiter = RateLimiter(self.limits.rate_per_second, self.limits.rate_burst)
        self.server = grpc.aio.server(
            interceptors=[ErrorInterceptor(limiter, guard)],
            options=[
                ("grpc.max_receive_message_length", self.limits.max_message_bytes),
                ("grpc.max_send_message_length", self.limits.max_message_bytes),
                # Off unless asked: a second server on a taken port must fail, not share it unseen.
                ("grpc.so_reuseport", 1 if reuse_port else 0),
            ],
            maximum_concurrent_rpcs=self.limits.max_concurrent_rpcs,
        )
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [*self.service_names, reflection.SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name],
            self.server,
        )
        self.port = 0

    async def start(self) -> int:
        if self.credentials is None:
            self.port = self.server.add_insecure_port(self.listen)
        else:
            self.port = self.server.add_secure_port(self.listen, self.credentials)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.listen}: the address is in use or invalid")
        await self.server.start()
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("gRPC server listening on %s (port %d, %s)", self.listen, self.port, "TLS" if self.credentials else "plaintext")
        return self.port

    async def stop(self, grace: float) -> None:
        """Refuse new calls and let in-flight ones finish for up to `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        logger.info("gRPC server on %s stopped", self.listen)

    async def wait(self) -> None:
        await self.server.wait_for_termination()
