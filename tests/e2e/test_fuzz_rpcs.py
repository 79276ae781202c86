"""Fuzz every RPC of both services with generated and malformed requests.

Requests come from Hypothesis strategies built from each method's input descriptor (random
values of the right types in every field), from random bytes sent as the serialized request,
from truncated valid messages, and from fields filled with 1 MiB strings. No message type of
the APIs is recursive, so nesting is as deep as the schema allows. Each call must end with a
documented status, never UNKNOWN or INTERNAL. Rejected calls must leave the event logs as they
were, and both services must still pass a health check at the end.

Examples per method are bounded: the whole module took 69 s on a shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as pb_descriptor
from google.protobuf import message, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelward_common.limits import ServerLimits
from modelward_governance.bootstrap import GovernanceApp
from modelward_protos.audit.v1 import audit_service_pb2
from modelward_protos.governance.v1 import governance_service_pb2
from modelward_protos.registry.v1 import registry_service_pb2
from modelward_registry.bootstrap import RegistryApp
from tests.support.auth import bearer, issuer
from tests.support.builders import new_model, new_version
from tests.support.governance import governance_config
from tests.support.registry import registry_config

FieldDescriptor = pb_descriptor.FieldDescriptor

DOCUMENTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.UNAVAILABLE,
}
CALL_TIMEOUT = 30.0
# Every call authenticates as the bootstrap admin, so fuzzing reaches the handlers.
ADMIN = bearer(issuer().admin_token)
STRUCTURED_EXAMPLES = 60
RAW_EXAMPLES = 25

# Values the services parse specially, mixed into random text so examples reach past the
# first name check.
_NAMES = [
    "", "models/fuzz", "models/fuzz/versions/1", "models/fuzz/versions/0", "models/-", "models/fuzz/versions/-",
    "user:ana@example.com", "team:fuzz", "champion", "PRODUCTION", "owner = \"team:fuzz\"", "metrics.auc > 0.5",
    "promotions/1", "x" * 300, "\x00", "models/../../etc",
]
_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return st.one_of(st.sampled_from(_NAMES), st.text(max_size=40))
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return st.floats()
    if kind == FieldDescriptor.TYPE_FLOAT:
        return st.floats(width=32)
    if kind == FieldDescriptor.TYPE_ENUM:
        return st.one_of(st.sampled_from([value.number for value in field.enum_type.values]), st.integers(-3, 1000))
    low, high = _INT_RANGES[kind]
    return st.one_of(st.integers(low, high), st.integers(-2, 12).filter(lambda n: low <= n <= high))


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message_strategy(field.message_type, depth + 1)
    return _scalar(field)


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def _field(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if _is_map(field):
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        return st.dictionaries(_scalar(key), _value(value, depth), max_size=3)
    if field.is_repeated:
        return st.lists(_value(field, depth), max_size=3)
    return _value(field, depth)


def _assign(target: message.Message, field: FieldDescriptor, value: Any) -> None:
    current = getattr(target, field.name)
    if _is_map(field):
        for key, item in value.items():
            if isinstance(item, message.Message):
                current[key].CopyFrom(item)
            else:
                current[key] = item
    elif field.is_repeated:
        for item in value:
            if isinstance(item, message.Message):
                current.add().CopyFrom(item)
            else:
                current.append(item)
    elif isinstance(value, message.Message):
        current.CopyFrom(value)
    else:
        setattr(target, field.name, value)


def message_strategy(descriptor: pb_descriptor.Descriptor, depth: int = 0) -> st.SearchStrategy[message.Message]:
    """Messages of `descriptor` with a random subset of fields set to random values."""
    message_class = message_factory.GetMessageClass(descriptor)
    if depth > 4:
        return st.just(message_class())
    optional = {field.name: _field(field, depth) for field in descriptor.fields}

    def build(values: dict[str, Any]) -> message.Message:
        built = message_class()
        for name, value in values.items():
            _assign(built, descriptor.fields_by_name[name], value)
        return built

    return st.fixed_dictionaries({}, optional=optional).map(build)


@dataclass
class Target:
    service: str
    method: pb_descriptor.MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"


class Stack:
    """Registry and governance on SQLite, served from their own event loop in a thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-services", daemon=True)
        self.ports: dict[str, int] = {}
        self.apps: list[Any] = []

    def database(self, service: str) -> Path:
        return self.folder / f"{service}.sqlite"

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(60)

    async def _start(self) -> None:
        # The rate limit is off so fuzzing reaches the handlers instead of the limiter.
        limits = ServerLimits(rate_per_second=0)
        registry = RegistryApp(registry_config(
            f"sqlite+aiosqlite:///{self.database('registry')}", "nats://127.0.0.1:1", "FUZZ", run_relay=False, limits=limits))
        self.ports["registry"] = await registry.start()
        self.apps.append(registry)
        governance = GovernanceApp(governance_config(
            f"sqlite+aiosqlite:///{self.database('governance')}", "nats://127.0.0.1:1", "FUZZ",
            f"127.0.0.1:{self.ports['registry']}", run_relay=False, run_consumer=False, sweep_interval=0, limits=limits))
        self.ports["governance"] = await governance.start()
        self.apps.append(governance)

    def stop(self) -> None:
        async def stop_all() -> None:
            for app in reversed(self.apps):
                await app.stop()

        asyncio.run_coroutine_threadsafe(stop_all(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def event_count(self, service: str) -> int:
        with sqlite3.connect(self.database(service)) as connection:
            return int(connection.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("fuzz"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def channels(stack: Stack) -> Iterator[dict[str, grpc.Channel]]:
    opened = {service: grpc.insecure_channel(f"127.0.0.1:{port}") for service, port in stack.ports.items()}
    registry = registry_service_pb2
    seed = opened["registry"]
    create_model = seed.unary_unary("/modelward.registry.v1.RegistryService/CreateModel",
                                    request_serializer=registry.CreateModelRequest.SerializeToString,
                                    response_deserializer=lambda data: data)
    create_version = seed.unary_unary("/modelward.registry.v1.RegistryService/CreateModelVersion",
                                      request_serializer=registry.CreateModelVersionRequest.SerializeToString,
                                      response_deserializer=lambda data: data)
    # A model with a version, so names that parse also find something.
    create_model(new_model("fuzz"), timeout=CALL_TIMEOUT, metadata=ADMIN)
    create_version(new_version("fuzz"), timeout=CALL_TIMEOUT, metadata=ADMIN)
    try:
        yield opened
    finally:
        for channel in opened.values():
            channel.close()


def _targets() -> list[Target]:
    services = {
        "registry": [registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"],
                     audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"]],
        "governance": [governance_service_pb2.DESCRIPTOR.services_by_name["GovernanceService"],
                       audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"]],
    }
    return [Target(name, method) for name, descriptors in services.items() for service in descriptors for method in service.methods]


def _call(channel: grpc.Channel, target: Target, payloads: list[bytes]) -> grpc.StatusCode:
    identity: Callable[[bytes], bytes] = lambda data: data  # noqa: E731
    method = target.method
    try:
        if method.client_streaming:
            channel.stream_unary(target.path, request_serializer=identity, response_deserializer=identity)(
                iter(payloads), timeout=CALL_TIMEOUT, metadata=ADMIN)
        elif method.server_streaming:
            for _ in channel.unary_stream(target.path, request_serializer=identity, response_deserializer=identity)(
                    payloads[0], timeout=CALL_TIMEOUT, metadata=ADMIN):
                pass
        else:
            channel.unary_unary(target.path, request_serializer=identity, response_deserializer=identity)(
                payloads[0], timeout=CALL_TIMEOUT, metadata=ADMIN)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[attr-defined, no-any-return]
    return grpc.StatusCode.OK


def _check(stack: Stack, channels: dict[str, grpc.Channel], target: Target, payloads: list[bytes], what: str) -> None:
    before = stack.event_count(target.service)
    code = _call(channels[target.service], target, payloads)
    assert code in DOCUMENTED, f"{target.path} returned {code.name} for {what}: {payloads[:2]!r:.300}"
    if code != grpc.StatusCode.OK:
        assert stack.event_count(target.service) == before, f"{target.path} wrote events although it returned {code.name}"


TARGETS = _targets()
IDS = [f"{target.service}-{target.method.name}" for target in TARGETS]


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.mark.parametrize("target", TARGETS, ids=IDS)
def test_generated_requests(target: Target, stack: Stack, channels: dict[str, grpc.Channel]) -> None:
    @_settings(STRUCTURED_EXAMPLES)
    @given(requests=st.lists(message_strategy(target.method.input_type), min_size=1, max_size=2))
    def run(requests: list[message.Message]) -> None:
        _check(stack, channels, target, [request.SerializeToString() for request in requests], "generated fields")

    run()


@pytest.mark.parametrize("target", TARGETS, ids=IDS)
def test_malformed_requests(target: Target, stack: Stack, channels: dict[str, grpc.Channel]) -> None:
    @_settings(RAW_EXAMPLES)
    @given(data=st.binary(min_size=1, max_size=256))
    def random_bytes(data: bytes) -> None:
        _check(stack, channels, target, [data], "random bytes")

    @_settings(RAW_EXAMPLES)
    @given(request=message_strategy(target.method.input_type), cut=st.integers(min_value=1))
    def truncated(request: message.Message, cut: int) -> None:
        data = request.SerializeToString()
        if len(data) > 1:
            _check(stack, channels, target, [data[: cut % len(data)]], "a truncated message")

    random_bytes()
    truncated()


@pytest.mark.parametrize("target", TARGETS, ids=IDS)
def test_huge_strings(target: Target, stack: Stack, channels: dict[str, grpc.Channel]) -> None:
    message_class = message_factory.GetMessageClass(target.method.input_type)
    strings = [field for field in target.method.input_type.fields
               if field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated]
    for field in strings[:4]:
        request = message_class()
        setattr(request, field.name, "models/" + "x" * (1024 * 1024))
        _check(stack, channels, target, [request.SerializeToString()], f"a 1 MiB {field.name}")


def test_services_still_serving(stack: Stack, channels: dict[str, grpc.Channel]) -> None:
    for service, channel in channels.items():
        response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service
