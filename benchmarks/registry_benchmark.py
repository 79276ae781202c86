"""Registry benchmark: write and read throughput, commit-to-JetStream latency, rebuild and RSS.

Starts its own nats-server and registry processes against a new PostgreSQL database, drives
them over gRPC from this process, prints a Markdown table, and drops the database at the end.

    python benchmarks/registry_benchmark.py                  # every workload
    python benchmarks/registry_benchmark.py --only create    # one of: create resolve latency rebuild
    python benchmarks/registry_benchmark.py --rebuild-events 1000000 --seconds 15
    python benchmarks/registry_benchmark.py --only create --auth-compare   # same workload, auth off then on
    python benchmarks/registry_benchmark.py --only resolve --workers 2 --connections per-client --native-client

`--workers N` runs the registry as `serve --workers N`. Its workers share one port and the kernel
gives each new connection to one of them, so the load spreads only over connections:
`--connections per-client` gives each of the `--clients` callers a channel with its own
connection, as separate serving processes have (the default, `shared`, sends every call over one
channel). The server's CPU is then the sum over the workers, and the busiest process's share is
shown too. `--native-client` also times both workloads from h2load (Debian's nghttp2-client), a
client written in C that sends the gRPC request over HTTP/2: ResolveAlias from `--clients`
connections of one h2load, CreateModelVersion from `--clients` h2load processes with one
connection each, each creating versions of its own model. On a 2-core machine a Python client
takes a fifth to a third of the CPU the calls need, and h2load takes little. Each result also
gives the CPU that PostgreSQL's processes and the whole machine used per call.

With authentication on (the default), the registry accepts JWTs from a key made for the run and
the workload calls carry a JWT of a principal with a global contributor binding, so each call
goes through token verification and the binding check. `--auth-compare` starts two registries
side by side, one with `--auth-disabled` and one with authentication, and times the create and
resolve workloads on them in alternating windows (off, on, on, off, ...; `--auth-rounds` pairs
of windows of `--seconds` each), so a change in the load of a shared machine affects both alike.

Versions carry 20 hyperparameters, 10 metrics, 5 tags and 2 datasets, as tests/support/builders.py
builds them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import grpc
import nats
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from modelward_common.auth.client import bearer_token  # noqa: E402
from modelward_common.auth.guard import Authenticator, CallGuard  # noqa: E402
from modelward_common.auth.jwt import JwtSettings  # noqa: E402
from modelward_common.auth.roles import Binding, Permission, Role, Rule  # noqa: E402
from modelward_common.db import create_engine  # noqa: E402
from modelward_common.eventstore import EventContext, NewEvent, append  # noqa: E402
from modelward_common.nats_server import NatsServer, free_port  # noqa: E402
from modelward_protos.registry.v1 import registry_service_pb2 as rpc  # noqa: E402
from modelward_protos.registry.v1 import registry_service_pb2_grpc as rpc_grpc  # noqa: E402
from modelward_registry.bootstrap import prepare_database  # noqa: E402
from modelward_registry.domain import decisions  # noqa: E402
from modelward_registry.domain.model import apply, empty_aggregate  # noqa: E402
from modelward_registry.rebuild import rebuild_projections  # noqa: E402
from modelward_protos.access.v1 import access_service_pb2_grpc as access_grpc  # noqa: E402
from tests.support.auth import ISSUER, AUDIENCE, as_principal, grant, issuer  # noqa: E402
from tests.support.builders import new_model, new_version  # noqa: E402

PG = os.environ.get("MODELWARD_TEST_PG", "127.0.0.1:5432")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    name = f"mw_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"postgresql://postgres@{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@{PG}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class ProgressRows(list):  # type: ignore[type-arg]
    """Result rows that are also printed to stderr as they come, so a later failure loses none."""

    def append(self, row: tuple[str, str, str]) -> None:
        print(" | ".join(row), file=sys.stderr, flush=True)
        super().append(row)


def auth_flags(enabled: bool) -> list[str]:
    if not enabled:
        return ["--auth-disabled"]
    return [
        "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE, "--jwks-file", str(issuer().jwks_file),
        "--admin-token-file", str(issuer().admin_token_file),
    ]


@contextlib.contextmanager
def registry_process(
    database_url: str, nats_url: str, prefix: str, *, auth: bool = True, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(Path(tempfile.gettempdir()) / f"registry-bench-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "modelward_registry", "serve", "--listen", f"127.0.0.1:{port}",
         "--database-url", database_url, "--nats-url", nats_url, "--subject-prefix", prefix,
         "--stream-name", f"{prefix}_REGISTRY", "--log-level", "WARNING", "--page-token-key", "bench",
         # The benchmark measures throughput, so the per-principal rate limit is off, and the
         # fixed-rate latency run may keep more calls in flight than the default 256.
         "--rate-limit", "0", "--max-concurrent-rpcs", "100000", "--workers", str(workers), *auth_flags(auth)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield process, f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)
        log.close()


async def wait_ready(target: str) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + 30
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"registry at {target} did not become healthy")


async def closed_loop(clients: int, seconds: float, call: Callable[[int], Awaitable[None]]) -> tuple[int, list[float]]:
    """Run `clients` tasks calling back to back for `seconds`; return calls and latencies."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    counter = 0

    async def client(index: int) -> None:
        nonlocal counter
        while time.monotonic() < deadline:
            counter += 1
            started = time.perf_counter()
            await call(counter * clients + index)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return len(latencies), latencies


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it, such as the registry's workers."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parents[int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])].append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(parents.get(current, []))
    return tree


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """Return the CPU seconds used by `pid` and by each process below it that still runs, by process id."""
    used = {}
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            used[member] = cpu_seconds(member)
    return used


def machine_busy_seconds() -> float:
    """Return the CPU seconds the whole machine has been busy so far."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # The fields are user, nice, system, idle, iowait, irq, softirq and steal. Busy time leaves out
    # idle, iowait and steal (time the host gave to other virtual machines).
    return (sum(fields[:8]) - fields[3] - fields[4] - fields[7]) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """Return the CPU seconds used so far by the PostgreSQL server processes that still run."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    total += cpu_seconds(int(entry.name))
    return total


@dataclasses.dataclass
class CpuReading:
    """CPU used so far by the registry's processes, by PostgreSQL and by the whole machine."""

    registry: dict[int, float]
    postgres: float
    machine: float

    @classmethod
    def take(cls, pid: int) -> CpuReading:
        return cls(tree_cpu_seconds(pid), postgres_cpu_seconds(), machine_busy_seconds())


def server_cpu(
    before: CpuReading, after: CpuReading, calls: int, unit: str = "call", process: str = "server"
) -> str:
    """Describe the CPU used between two readings per call, with `process` as the measured process's name.

    One process serves its calls on one core at most, so the busiest process's share bounds the
    calls per second that more clients could get from it.
    """
    spent = [seconds - before.registry.get(member, 0.0) for member, seconds in after.registry.items()]
    calls = max(calls, 1)
    detail = f"{process} CPU {sum(spent) / calls * 1000:.2f} ms per {unit}"
    if len(spent) > 1:
        detail += f" ({max(spent) / calls * 1000:.2f} ms in its busiest process)"
    return (detail + f", PostgreSQL {(after.postgres - before.postgres) / calls * 1000:.2f} ms, "
            f"whole machine {(after.machine - before.machine) / calls * 1000:.2f} ms")


def rss_mb(pid: int) -> tuple[float, float]:
    """Return (current RSS, peak RSS) of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            key, amount = line.split(":")
            values[key] = int(amount.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


BENCH_PRINCIPAL = "user:bench@example.com"


def timed_stubs(args: argparse.Namespace, target: str, shared: rpc_grpc.RegistryServiceStub,
                stack: contextlib.ExitStack) -> list[rpc_grpc.RegistryServiceStub]:
    """Return the stub of each timed caller: the shared one, or one per caller with its own connection."""
    if args.connections == "shared":
        return [shared] * args.clients
    stubs = []
    for _ in range(args.clients):
        # A local subchannel pool keeps channels of one process from sharing a connection.
        channel = grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        stack.callback(lambda channel=channel: asyncio.get_running_loop().create_task(channel.close()))
        stubs.append(rpc_grpc.RegistryServiceStub(channel))
    return stubs


async def bench_create_and_resolve(
    args: argparse.Namespace, results: list[tuple[str, str, str]], *, auth: bool = True
) -> None:
    mode = "auth on" if auth else "auth off"
    if args.workers > 1 or args.connections != "shared":
        mode += f", {args.workers} worker{'s' if args.workers > 1 else ''}, {args.connections} connection"
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(Path(scratch))
        server.start()
        prefix = f"b{uuid.uuid4().hex[:8]}"
        try:
            async with database() as url:
                with registry_process(url, server.url, prefix, auth=auth, workers=args.workers) as (process, target), \
                        contextlib.ExitStack() as channels:
                    await wait_ready(target)
                    # Setup calls go as the bootstrap admin; timed calls carry the bench user's JWT.
                    admin = bearer_token(issuer().admin_token)
                    async with grpc.aio.insecure_channel(target, interceptors=admin) as channel:
                        stub = rpc_grpc.RegistryServiceStub(channel)
                        stubs = timed_stubs(args, target, stub, channels)
                        metadata = as_principal(BENCH_PRINCIPAL) if auth else ()
                        if auth:
                            await grant(access_grpc.AccessServiceStub(channel), BENCH_PRINCIPAL, "contributor")
                        models = [f"bench-{i}" for i in range(args.models)]
                        for name in models:
                            await stub.CreateModel(new_model(name))
                        requests = [new_version(name, seed=f"{name}-{i}") for i, name in enumerate(models)]

                        async def timed(workload: str, call: Callable[[int], Awaitable[None]]) -> None:
                            cpu_before = CpuReading.take(process.pid)
                            calls, latencies = await closed_loop(args.clients, args.seconds, call)
                            cpu = server_cpu(cpu_before, CpuReading.take(process.pid), calls)
                            results.append((f"{workload}, {mode}", f"{calls / args.seconds:,.0f}/s",
                                            f"p50 {percentile(latencies, .5)*1000:.1f} ms, p99 {percentile(latencies, .99)*1000:.1f} ms, "
                                            + cpu))

                        if args.only in ("", "create"):
                            async def create(index: int) -> None:
                                await stubs[index % args.clients].CreateModelVersion(
                                    requests[index % len(requests)], timeout=10, metadata=metadata)

                            await timed("CreateModelVersion", create)
                            if args.native_client and native_client_found(results):
                                await bench_native_create(args, stub, target, process.pid, metadata, models, mode, results)

                        if args.only in ("", "resolve"):
                            for name in models:
                                if args.only == "resolve":
                                    await stub.CreateModelVersion(new_version(name, seed=name))
                                await stub.SetAlias(rpc.SetAliasRequest(name=f"models/{name}/versions/1", alias="champion"))

                            async def resolve(index: int) -> None:
                                await stubs[index % args.clients].ResolveAlias(
                                    rpc.ResolveAliasRequest(model=f"models/{models[index % len(models)]}", alias="champion"),
                                    timeout=10, metadata=metadata,
                                )

                            await timed("ResolveAlias", resolve)
                            if args.native_client and native_client_found(results):
                                await bench_native_resolve(args, stub, target, process.pid, metadata, models[0], mode, results)

                        if args.only in ("", "latency"):
                            await bench_latency(args, stubs, metadata, models, server.url, prefix, results)
                    members = [rss_mb(pid) for pid in process_tree(process.pid)]
                    current, peak = sum(rss for rss, _ in members), max(high for _, high in members)
                    results.append((f"registry RSS after these workloads, {mode}", f"{current:.0f} MB",
                                    f"peak {peak:.0f} MB" + (f" of one process, sum over {len(members)} processes"
                                                             if len(members) > 1 else "")))
        finally:
            server.stop()


def native_client_found(results: list[tuple[str, str, str]]) -> bool:
    """Return whether h2load is on PATH. When it is missing, add a "not run" row to `results`."""
    if shutil.which("h2load") is None:
        results.append(("calls from h2load", "not run", "h2load not found; apt-get install nghttp2-client"))
        return False
    return True


async def h2load_calls(
    target: str, method: str, requests: list[bytes], connections: int, seconds: float,
    metadata: tuple[tuple[str, str], ...],
) -> tuple[list[float], int, str]:
    """Call `method` from h2load, one process per request, each over `connections` connections
    with one call in flight on each, for `seconds` after 1 s of warm-up.

    Returns the duration of each call that got HTTP status 200, the bytes of data received and the
    output of the last process. gRPC reports its own status in trailers, which h2load does not read,
    so callers tell from the data received whether the calls returned a message.
    """
    h2load = shutil.which("h2load")
    assert h2load is not None, "callers check for h2load first"
    with tempfile.TemporaryDirectory() as scratch:
        commands, logs = [], []
        for index, payload in enumerate(requests):
            body, log = Path(scratch) / f"request-{index}", Path(scratch) / f"calls-{index}.log"
            # gRPC's message framing: not compressed, then the length as 4 big-endian bytes.
            body.write_bytes(b"\0" + len(payload).to_bytes(4, "big") + payload)
            command = [h2load, "-c", str(connections), "-m", "1", "-D", str(int(seconds)), "--warm-up-time", "1",
                       "-d", str(body), "--log-file", str(log)]
            for key, value in [("content-type", "application/grpc"), ("te", "trailers"), *metadata]:
                command += ["-H", f"{key}: {value}"]
            commands.append([*command, f"http://{target}/{method}"])
            logs.append(log)
        processes = [await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                          stderr=asyncio.subprocess.PIPE) for command in commands]
        outputs = [await process.communicate() for process in processes]
        durations, received = [], 0
        for process, (stdout, stderr), log in zip(processes, outputs, logs):
            if process.returncode != 0:
                raise RuntimeError(f"h2load exited with code {process.returncode}: {stderr.decode().strip()[-200:]}")
            found = re.search(r"traffic: .*\((\d+)\) data", stdout.decode())
            received += int(found.group(1)) if found else 0
            # Each line: start (µs since the epoch), HTTP status, duration (µs).
            durations += [int(line.split()[2]) / 1e6 for line in log.read_text().splitlines() if line.split()[1] == "200"]
        return durations, received, outputs[-1][0].decode()


async def bench_native_resolve(
    args: argparse.Namespace, stub: rpc_grpc.RegistryServiceStub, target: str, pid: int,
    metadata: tuple[tuple[str, str], ...], model: str, mode: str, results: list[tuple[str, str, str]],
) -> None:
    """Time ResolveAlias from h2load: `--clients` connections, one call in flight on each."""
    request = rpc.ResolveAliasRequest(model=f"models/{model}", alias="champion")
    expected = await stub.ResolveAlias(request, metadata=metadata)
    cpu_before = CpuReading.take(pid)
    try:
        durations, received, output = await h2load_calls(
            target, "modelward.registry.v1.RegistryService/ResolveAlias", [request.SerializeToString()],
            args.clients, args.seconds, metadata)
    except RuntimeError as error:
        results.append(("ResolveAlias from h2load", "failed", str(error)))
        return
    cpu = server_cpu(cpu_before, CpuReading.take(pid), len(durations))
    per_reply = 5 + expected.ByteSize()
    complete = received >= per_reply * len(durations)
    results.append((
        f"ResolveAlias from h2load, {mode}", f"{len(durations) / args.seconds:,.0f}/s",
        f"p50 {percentile(durations, .5)*1000:.1f} ms, p99 {percentile(durations, .99)*1000:.1f} ms, "
        f"{cpu} (warm-up included); "
        f"h2load: {' '.join(output.split('finished in', 1)[-1].split()[:4])}; "
        + ("every reply carried the version" if complete else
           f"SOME REPLIES CARRIED NO VERSION ({received} bytes of data for {len(durations)} calls of {per_reply})"),
    ))


async def bench_native_create(
    args: argparse.Namespace, stub: rpc_grpc.RegistryServiceStub, target: str, pid: int,
    metadata: tuple[tuple[str, str], ...], models: list[str], mode: str, results: list[tuple[str, str, str]],
) -> None:
    """Time CreateModelVersion from h2load: `--clients` processes, each with one connection and
    one call in flight, each creating versions of its own model."""
    chosen = models[:args.clients]

    async def latest_versions() -> dict[str, int]:
        return {name: (await stub.GetModel(rpc.GetModelRequest(name=f"models/{name}"))).latest_version for name in chosen}

    before = await latest_versions()
    requests = [new_version(name, seed=f"native-{name}").SerializeToString() for name in chosen]
    cpu_before = CpuReading.take(pid)
    try:
        durations, _, _ = await h2load_calls(
            target, "modelward.registry.v1.RegistryService/CreateModelVersion", requests, 1, args.seconds, metadata)
    except RuntimeError as error:
        results.append(("CreateModelVersion from h2load", "failed", str(error)))
        return
    cpu_after = CpuReading.take(pid)
    # Calls during the warm-up also create versions, so at least one version per timed call must exist.
    after = await latest_versions()
    created = sum(after[name] - before[name] for name in chosen)
    cpu = server_cpu(cpu_before, cpu_after, created, "version created")
    results.append((
        f"CreateModelVersion from h2load, {mode}", f"{len(durations) / args.seconds:,.0f}/s",
        f"p50 {percentile(durations, .5)*1000:.1f} ms, p99 {percentile(durations, .99)*1000:.1f} ms, "
        f"{cpu}; "
        + (f"{created:,} versions created (warm-up included), every timed call among them" if created >= len(durations)
           else f"ONLY {created:,} VERSIONS CREATED FOR {len(durations):,} TIMED CALLS"),
    ))


async def bench_latency(args: argparse.Namespace, stubs: list[rpc_grpc.RegistryServiceStub],
                        metadata: tuple[tuple[str, str], ...], models: list[str], nats_url: str, prefix: str,
                        results: list[tuple[str, str, str]]) -> None:
    """Send registrations at a fixed rate, round robin over `stubs`, and time each event to JetStream.

    The delay runs from the event's `ce-time` (its `recorded_at`, taken just before the insert, so
    a little before the commit) to the time JetStream stored the message, which the server puts in
    the reply subject of each delivery. A second figure runs to the delivery in this process,
    whose event loop also sends the calls, so it adds this process's own delays.
    """
    client = await nats.connect(nats_url)
    delays: list[float] = []
    deliveries: list[float] = []
    subscription = await client.jetstream().subscribe(
        f"{prefix}.registry.v1.ModelVersionCreated", ordered_consumer=True,
        deliver_policy=nats.js.api.DeliverPolicy.NEW,
    )

    async def collect() -> None:
        async for message in subscription.messages:
            recorded = datetime.datetime.fromisoformat(message.headers["ce-time"].replace("Z", "+00:00")).timestamp()
            deliveries.append(time.time() - recorded)
            delays.append(message.metadata.timestamp.timestamp() - recorded)

    collector = asyncio.create_task(collect())
    interval = 1 / args.rate
    started = time.monotonic()
    total = int(args.rate * args.seconds)
    pending = []
    for index in range(total):
        target = started + index * interval
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        name = models[index % len(models)]
        # gather takes the call objects that channel interceptors return, which create_task rejects.
        pending.append(stubs[index % len(stubs)].CreateModelVersion(
            new_version(name, seed=f"lat-{index}"), timeout=10, metadata=metadata))
    # A registry slower than the rate lets calls pass their deadline; they count as failed.
    outcomes = await asyncio.gather(*pending, return_exceptions=True)
    failed = sum(isinstance(outcome, BaseException) for outcome in outcomes)
    achieved = (total - failed) / (time.monotonic() - started)
    deadline = time.monotonic() + 10
    while len(delays) < total - failed and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    collector.cancel()
    await client.close()
    if not delays:
        results.append((f"commit to JetStream at {args.rate}/s", "no events arrived", f"{failed} of {total} calls failed"))
        return
    results.append((
        f"commit to JetStream at {args.rate}/s (completed {achieved:.0f}/s, {failed} of {total} calls failed)",
        f"p99 {percentile(delays, .99)*1000:.1f} ms",
        f"p50 {statistics.median(delays)*1000:.1f} ms over {len(delays)} events, to JetStream's store time; "
        f"to delivery in the benchmark process p50 {statistics.median(deliveries)*1000:.1f} ms, "
        f"p99 {percentile(deliveries, .99)*1000:.1f} ms",
    ))


async def bench_rebuild(args: argparse.Namespace, results: list[tuple[str, str, str]]) -> None:
    """Write N events straight into the log (10 per model), then time rebuild_projections."""
    per_model = 10
    model_count = args.rebuild_events // per_model
    async with database() as url:
        engine = create_engine(url)
        await prepare_database(engine)
        context = EventContext(actor="user:bench@example.com", reason="benchmark")
        template = new_version("m").model_version
        written = time.monotonic()
        for start in range(0, model_count, 500):
            async with engine.begin() as connection:
                for index in range(start, min(start + 500, model_count)):
                    uid = str(uuid.uuid4())
                    aggregate = empty_aggregate(uid)
                    events = decisions.decide_create_model(uid, f"model-{index}", new_model(f"model-{index}").model)
                    now = __import__("modelward_common.timeutil", fromlist=["utc_now"]).utc_now()
                    apply(aggregate, events[0], now)
                    for _ in range(per_model - 1):
                        events += decisions.decide_create_version(aggregate, template, "user:bench@example.com")
                        apply(aggregate, events[-1], now)
                    await append(
                        connection, uid, 0,
                        [NewEvent(type=e.DESCRIPTOR.name, payload=e.SerializeToString(), subject=f"models/model-{index}") for e in events],
                        context,
                    )
        results.append((f"writing {args.rebuild_events:,} events directly", f"{time.monotonic() - written:.0f} s", "setup, not a target"))
        stats = await rebuild_projections(engine)
        results.append((f"rebuild projections from {stats.events:,} events", f"{stats.seconds:.1f} s",
                        f"{stats.models:,} models, {stats.versions:,} versions"))
        await engine.dispose()

        if args.rss_check:
            with tempfile.TemporaryDirectory() as scratch:
                server = NatsServer(Path(scratch))
                server.start()
                prefix = f"r{uuid.uuid4().hex[:8]}"
                try:
                    # Only memory is measured here, so the reads go without credentials.
                    with registry_process(url, server.url, prefix, auth=False) as (process, target):
                        await wait_ready(target)
                        await asyncio.sleep(5)
                        async with grpc.aio.insecure_channel(target) as channel:
                            stub = rpc_grpc.RegistryServiceStub(channel)

                            async def read(index: int) -> None:
                                name = f"models/model-{index % model_count}"
                                await stub.GetModelVersion(rpc.GetModelVersionRequest(name=f"{name}/versions/{1 + index % 9}"))

                            await closed_loop(16, 5, read)
                            await stub.ListModels(rpc.ListModelsRequest(page_size=1000))
                        await asyncio.sleep(20)
                        current, peak = rss_mb(process.pid)
                        results.append((f"registry RSS with {model_count:,} models of {per_model - 1} versions, relay done",
                                        f"{current:.0f} MB", f"peak {peak:.0f} MB"))
                finally:
                    server.stop()


async def prepared_registry(
    stack: contextlib.AsyncExitStack, nats_url: str, models: list[str], *, auth: bool
) -> tuple[rpc_grpc.RegistryServiceStub, tuple[tuple[str, str], ...], int]:
    """Start a registry on a new database with `models`, each with version 1 as `champion`.

    Return its stub, the metadata of the timed calls and its process id.
    """
    url = await stack.enter_async_context(database())
    prefix = f"a{uuid.uuid4().hex[:8]}"
    process, target = stack.enter_context(registry_process(url, nats_url, prefix, auth=auth))
    await wait_ready(target)
    channel = await stack.enter_async_context(grpc.aio.insecure_channel(target, interceptors=bearer_token(issuer().admin_token)))
    stub = rpc_grpc.RegistryServiceStub(channel)
    if auth:
        await grant(access_grpc.AccessServiceStub(channel), BENCH_PRINCIPAL, "contributor")
    for name in models:
        await stub.CreateModel(new_model(name))
        await stub.CreateModelVersion(new_version(name, seed=name))
        await stub.SetAlias(rpc.SetAliasRequest(name=f"models/{name}/versions/1", alias="champion"))
    return stub, as_principal(BENCH_PRINCIPAL) if auth else (), process.pid


async def bench_auth_compare(args: argparse.Namespace, results: list[tuple[str, str, str]]) -> None:
    models = [f"bench-{i}" for i in range(args.models)]
    requests = [new_version(name, seed=f"{name}-{i}") for i, name in enumerate(models)]
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(Path(scratch))
        server.start()
        try:
            async with contextlib.AsyncExitStack() as stack:
                targets = {
                    "auth off": await prepared_registry(stack, server.url, models, auth=False),
                    "auth on": await prepared_registry(stack, server.url, models, auth=True),
                }
                for workload in ("CreateModelVersion", "ResolveAlias"):
                    if args.only not in ("", "create" if workload == "CreateModelVersion" else "resolve"):
                        continue
                    rates: dict[str, list[float]] = {"auth off": [], "auth on": []}
                    # Server CPU seconds and calls per mode, for the CPU each call costs the server.
                    cpu: dict[str, list[float]] = {"auth off": [0.0, 0], "auth on": [0.0, 0]}
                    order = ["auth off", "auth on", "auth on", "auth off"] * ((args.auth_rounds + 1) // 2)
                    for mode in order[: 2 * args.auth_rounds]:
                        stub, metadata, pid = targets[mode]
                        cpu_before = cpu_seconds(pid)

                        async def call(index: int) -> None:
                            if workload == "CreateModelVersion":
                                await stub.CreateModelVersion(requests[index % len(requests)], timeout=10, metadata=metadata)
                            else:
                                model = f"models/{models[index % len(models)]}"
                                await stub.ResolveAlias(rpc.ResolveAliasRequest(model=model, alias="champion"), timeout=10, metadata=metadata)

                        calls, _ = await closed_loop(args.clients, args.seconds, call)
                        rates[mode].append(calls / args.seconds)
                        cpu[mode][0] += cpu_seconds(pid) - cpu_before
                        cpu[mode][1] += calls
                    off, on = statistics.mean(rates["auth off"]), statistics.mean(rates["auth on"])
                    results.append((f"{workload}, auth off", f"{off:,.0f}/s", "windows: " + ", ".join(f"{r:,.0f}" for r in rates["auth off"])))
                    results.append((f"{workload}, auth on", f"{on:,.0f}/s", "windows: " + ", ".join(f"{r:,.0f}" for r in rates["auth on"])))
                    results.append((f"{workload}, cost of auth", f"{100 * (1 - on / off):.1f}%", "of the mean throughput with auth off"))
                    per_call = {mode: 1000 * spent / max(calls, 1) for mode, (spent, calls) in cpu.items()}
                    results.append((
                        f"{workload}, server CPU per call", f"{per_call['auth off']:.3f} ms off, {per_call['auth on']:.3f} ms on",
                        f"auth adds {100 * (per_call['auth on'] / per_call['auth off'] - 1):.1f}% to the server's CPU per call",
                    ))
        finally:
            server.stop()
    await bench_guard_cost(results)


class _Directory:
    """Bindings in memory, standing in for AccessDirectory's cache, which serves calls the same way."""

    def __init__(self) -> None:
        self.binding = Binding("bench", BENCH_PRINCIPAL, Role.CONTRIBUTOR)

    async def bindings_for(self, principals: object) -> list[Binding]:
        return [self.binding]

    async def token(self, token_id: str) -> None:
        return None

    async def is_inactive(self, principal: str) -> bool:
        return False


_Metadatum = collections.namedtuple("_Metadatum", "key value")


class _Context:
    """The two ServicerContext methods the guard reads."""

    def __init__(self, token: str) -> None:
        self.metadata = (_Metadatum("authorization", f"Bearer {token}"),)

    def invocation_metadata(self) -> tuple[_Metadatum, ...]:
        return self.metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}


async def bench_guard_cost(results: list[tuple[str, str, str]], calls: int = 50_000) -> None:
    """Time CallGuard.admit in this process: the CPU that authentication adds to each call."""
    directory = _Directory()
    settings = JwtSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(issuer().jwks_file))
    authenticator = Authenticator(directory, jwt=settings)  # type: ignore[arg-type]
    rule = Rule(Permission.MODELS_READ, lambda request: request.model)
    guard = CallGuard({"/bench/ResolveAlias": rule}, authenticator, directory, resolve_model=None)  # type: ignore[arg-type]
    context = _Context(issuer().mint(BENCH_PRINCIPAL))
    request = rpc.ResolveAliasRequest(model="models/bench-0", alias="champion")
    for cached in (True, False):
        started = time.perf_counter()
        for _ in range(calls if cached else calls // 20):
            if not cached:
                authenticator.jwt._cache.clear()  # type: ignore[union-attr]
            await guard.admit("/bench/ResolveAlias", request, context)  # type: ignore[arg-type]
        per_call = (time.perf_counter() - started) / (calls if cached else calls // 20)
        label = "JWT cached" if cached else "RS256 verified on every call"
        results.append((f"CallGuard.admit CPU per call, {label}", f"{per_call * 1e6:.1f} µs", "global binding, in-process"))


def cpu_probe() -> float:
    """Return the milliseconds a fixed pure-Python loop takes, best of three.

    The machines are virtual with shared cores, and their speed drifts by tens of percent over an
    hour, so a run's figures are compared only with runs of a similar probe.
    """
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(2_000_000):
            total += number * number
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, Python {platform.python_version()}; "
        f"CPU probe {cpu_probe():.0f} ms (benchmarks/registry_benchmark.py cpu_probe, lower is faster)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", choices=["", "create", "resolve", "latency", "rebuild"])
    parser.add_argument("--clients", type=int, default=16, help="concurrent gRPC callers (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=10, help="duration of each timed workload (default %(default)s)")
    parser.add_argument("--models", type=int, default=200, help="models the writes spread over (default %(default)s)")
    parser.add_argument("--rate", type=float, default=500, help="registrations per second for latency (default %(default)s)")
    parser.add_argument("--rebuild-events", type=int, default=1_000_000, help="events for the rebuild (default %(default)s)")
    parser.add_argument("--rss-check", action="store_true", help="after the rebuild, serve the rebuilt data and read RSS")
    parser.add_argument("--workers", type=int, default=1, help="registry worker processes (default %(default)s)")
    parser.add_argument("--connections", choices=["shared", "per-client"], default="shared",
                        help="one channel for all callers, or one connection per caller (default %(default)s)")
    parser.add_argument("--native-client", action="store_true",
                        help="also time CreateModelVersion and ResolveAlias from h2load (Debian package nghttp2-client)")
    parser.add_argument("--auth-compare", action="store_true",
                        help="only time the create and resolve workloads with authentication off and on, in alternating windows")
    parser.add_argument("--auth-rounds", type=int, default=3,
                        help="windows per mode for --auth-compare (default %(default)s)")
    args = parser.parse_args()
    results: list[tuple[str, str, str]] = ProgressRows()
    if args.auth_compare:
        await bench_auth_compare(args, results)
    elif args.only != "rebuild":
        await bench_create_and_resolve(args, results, auth=True)
    if args.only in ("", "rebuild") and not args.auth_compare:
        await bench_rebuild(args, results)
    print(f"\nMachine: {machine()}; load average {' '.join(f'{value:.2f}' for value in os.getloadavg())} at the end; "
          f"PostgreSQL at {PG}; {args.clients} clients; {args.seconds:.0f} s per workload; registry workers {args.workers}; "
          f"{args.connections} connection\n")
    print("| workload | result | detail |\n|---|---|---|")
    for row in results:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")


if __name__ == "__main__":
    asyncio.run(main())
