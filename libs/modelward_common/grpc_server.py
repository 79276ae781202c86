"""gRPC server plumbing shared by both services.

- One interceptor turns every ModelwardError into its gRPC status with google.rpc details
  (ErrorInfo, BadRequest naming the field), and sets the request id for logs.
- Standard health checking and server reflection.
- Graceful shutdown: health turns NOT_SERVING, new calls are refused, in-flight calls drain.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from modelward_common.errors import InvalidArgument, ModelwardError

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
# Placeholder identity header until authentication exists: the caller's principal, such as
# user:ana@example.com. Nothing checks it, so it must not be trusted for access control.
PRINCIPAL_HEADER = "x-modelward-principal"
ANONYMOUS = "user:anonymous"
ERROR_DOMAIN = "modelward.io"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record, so formats can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [request %(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return str(item.value)
    return ""


def to_status(error: ModelwardError) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    if error.field:
        info.metadata["field"] = error.field
    details = [any_pb2.Any()]
    details[0].Pack(info)
    if isinstance(error, InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=error.field, description=error.message)]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        details.append(packed)
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Map ModelwardError to its status; log anything else and return INTERNAL."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # Streaming responses (health Watch, reflection) have no modelward errors to map.
        return handler


def _wrap(behavior: Behavior, method: str) -> Behavior:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        request_id = metadata_value(context, REQUEST_ID_HEADER) or uuid.uuid4().hex
        token = request_id_var.set(request_id[:128])
        try:
            return await behavior(request, context)
        except ModelwardError as error:
            logger.info("%s failed with %s: %s", method, error.code.name, error.message)
            await context.abort_with_status(rpc_status.to_status(to_status(error)))
        except grpc.aio.AbortError:
            raise
        except Exception:
            logger.exception("%s failed with an unexpected error", method)
            status = status_pb2.Status(
                code=code_pb2.INTERNAL,
                message=f"internal error while handling {method}; report request id {request_id}",
            )
            await context.abort_with_status(rpc_status.to_status(status))
        finally:
            request_id_var.reset(token)

    return wrapped


class ServiceHost:
    """A grpc.aio server with health, reflection and the error interceptor."""

    def __init__(
        self,
        listen: str,
        service_names: Iterable[str],
        *,
        max_message_bytes: int = 16 * 1024 * 1024,
        max_concurrent_rpcs: int | None = None,
    ) -> None:
        self.listen = listen
        self.service_names = list(service_names)
        self.server = grpc.aio.server(
            interceptors=[ErrorInterceptor()],
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=max_concurrent_rpcs,
        )
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [*self.service_names, reflection.SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name],
            self.server,
        )
        self.port = 0

    async def start(self) -> int:
        self.port = self.server.add_insecure_port(self.listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.listen}: the address is in use or invalid")
        await self.server.start()
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("gRPC server listening on %s (port %d)", self.listen, self.port)
        return self.port

    async def stop(self, grace: float) -> None:
        """Refuse new calls and let in-flight ones finish for up to `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        logger.info("gRPC server on %s stopped", self.listen)

    async def wait(self) -> None:
        await self.server.wait_for_termination()
