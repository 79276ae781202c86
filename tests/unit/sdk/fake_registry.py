"""A RegistryService on a thread-pool gRPC server whose answers each test scripts."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from modelward_protos.registry.v1 import registry_service_pb2 as rpc
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc
from modelward_protos.registry.v1 import resources_pb2 as res


@dataclass
class Script:
    # Calls of each method that fail with `failure` before the method succeeds.
    unavailable_calls: int = 0
    failure: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    # Seconds each GetModel call sleeps before it answers.
    delay: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    metadata: list[dict[str, str]] = field(default_factory=list)
    requests: list[object] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, request: object, context: grpc.ServicerContext) -> int:
        with self.lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            self.metadata.append({item.key: item.value for item in context.invocation_metadata()})
            self.requests.append(request)
            return self.calls[method]


class FakeRegistry(rpc_grpc.RegistryServiceServicer):
    def __init__(self, script: Script) -> None:
        self.script = script

    def _fail_if_scripted(self, method: str, request: object, context: grpc.ServicerContext) -> None:
        attempt = self.script.record(method, request, context)
        if attempt <= self.script.unavailable_calls:
            context.abort(self.script.failure, f"{method} attempt {attempt}: server restarting")

    def GetModel(self, request: rpc.GetModelRequest, context: grpc.ServicerContext) -> res.Model:
        self._fail_if_scripted("GetModel", request, context)
        time.sleep(self.script.delay)
        if request.name == "models/missing":
            context.abort(grpc.StatusCode.NOT_FOUND, "model models/missing not found")
        return res.Model(name=request.name)

    def CreateModel(self, request: rpc.CreateModelRequest, context: grpc.ServicerContext) -> res.Model:
        self._fail_if_scripted("CreateModel", request, context)
        if not request.model_id.isalnum():
            context.abort_with_status(rpc_status.to_status(_bad_request("model_id", request.model_id)))
        return res.Model(name=f"models/{request.model_id}")

    def UpdateModel(self, request: rpc.UpdateModelRequest, context: grpc.ServicerContext) -> res.Model:
        self._fail_if_scripted("UpdateModel", request, context)
        return request.model

    def ListModels(self, request: rpc.ListModelsRequest, context: grpc.ServicerContext) -> rpc.ListModelsResponse:
        self._fail_if_scripted("ListModels", request, context)
        # Five models in pages of two; the token is the index of the next model.
        start = int(request.page_token or "0")
        stop = min(start + 2, 5)
        token = str(stop) if stop < 5 else ""
        models = [res.Model(name=f"models/m{index}") for index in range(start, stop)]
        return rpc.ListModelsResponse(models=models, next_page_token=token, total_size=5)


def _bad_request(field_name: str, value: str) -> status_pb2.Status:
    message = f"{field_name} {value!r} is invalid: use letters and digits"
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason="INVALID_ARGUMENT", domain="modelward.io", metadata={"field": field_name}))
    violations = any_pb2.Any()
    violations.Pack(error_details_pb2.BadRequest(
        field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field_name, description=message)]
    ))
    return status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[info, violations])


@contextlib.contextmanager
def fake_registry(script: Script) -> Iterator[str]:
    """Serve FakeRegistry on 127.0.0.1 and yield its target."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rpc_grpc.add_RegistryServiceServicer_to_server(FakeRegistry(script), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=0)


