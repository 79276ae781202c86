"""Governance benchmark: consumer throughput, event-to-decision latency and memory.

Starts its own nats-server and a governance process on a new PostgreSQL database, and plays the
registry's part by publishing registry events straight to JetStream, in the wire format the
registry's relay uses. Each model brings two events: ModelCreated and ModelVersionCreated (a
version with 20 hyperparameters, 10 metrics, 5 tags, 2 datasets and 30 features).

1. Throughput and memory: publish every event of `--models` models first, then start governance
   and time how long it takes to apply them all (`consumer_inbox` rows). RSS is read once the
   backlog is done, with every model in governance's portfolio and redundancy index. Then
   ListPortfolio's first page of 1,000 entries is timed over gRPC, five times.
2. Latency: with governance caught up, publish ModelCreated events for models without an owner
   at `--rate` per second, first for `--warmup` seconds without measuring, then for `--seconds`. Each makes governance commit an orphan finding and publish
   FindingOpened. The delay runs from our publish to the event's `consumer_inbox.processed_at`
   (taken in governance's transaction just before it commits) and to the finding's arrival on
   NATS. The finding's `ce-time` cannot serve: governance records its events at the time of the
   registry event that caused them, so a replay produces the same events. The result also gives
   the delay to JetStream's acknowledgement of each publish, the longest pause between two sends
   (a pause in this process is followed by a burst, which is not the steady rate asked for), and
   the WAL and checkpoint writes PostgreSQL made meanwhile.

3. With `--cluster N`, instead of the two above: N models whose versions share one training
   dataset and one feature set, so each is redundant with every other. It times how long
   governance takes to apply their 2N events, counts the redundant pairs it flags, and times
   ListPortfolio's first page.

PostgreSQL on the development machines runs with autovacuum off, so the tables that grow during
the run would never get statistics, and the planner would keep choosing plans made for empty
tables. In place of autovacuum, the benchmark looks every `--analyze-interval` seconds for the
tables autovacuum would analyze (PostgreSQL's default trigger: more than 50 rows plus 10% of the
table changed) and analyzes them with autovacuum's default throttling (cost delay 2 ms, cost
limit 200). An unthrottled ANALYZE of the whole database took one of the two cores for up to
0.8 s, and governance's queries waited for CPU meanwhile.

    python benchmarks/governance_benchmark.py                      # 100,000 models, 500/s
    python benchmarks/governance_benchmark.py --models 20000 --rate 200 --seconds 10
    python benchmarks/governance_benchmark.py --cluster 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import gc
import hashlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import nats
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.registry_benchmark import CpuReading, cpu_probe, database, machine, percentile, rss_mb, server_cpu  # noqa: E402
from modelward_common.cloudevents import headers_for, subject_for  # noqa: E402
from modelward_common.db import create_engine  # noqa: E402
from modelward_common.eventstore import StoredEvent  # noqa: E402
from modelward_common.nats_server import NatsServer, free_port  # noqa: E402
from modelward_common.relay import RelayConfig, ensure_stream  # noqa: E402
from modelward_common.timeutil import UtcDateTime, utc_now  # noqa: E402
from modelward_protos.events.v1 import governance_events_pb2 as governance_events  # noqa: E402
from modelward_protos.governance.v1 import governance_service_pb2 as governance_service  # noqa: E402
from modelward_protos.governance.v1 import governance_service_pb2_grpc as governance_rpc  # noqa: E402
from modelward_protos.events.v1 import registry_events_pb2 as events  # noqa: E402
from modelward_protos.registry.v1 import resources_pb2 as res  # noqa: E402
from tests.support.builders import new_model, new_version  # noqa: E402

SOURCE = "urn:modelward:registry"
VOCABULARY = [f"feature_{i}" for i in range(5000)]
ACTOR = "user:bench@example.com"


class RegistryEvents:
    """Registry events for synthetic models, numbered as the registry would number them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.position = 0

    def _message(self, uid: str, version: int, payload: object, subject: str) -> tuple[str, bytes, dict[str, str]]:
        self.position += 1
        event_type = type(payload).__name__
        stored = StoredEvent(
            position=self.position, event_id=str(uuid.uuid4()), stream_id=uid, stream_version=version,
            type=event_type, payload=payload.SerializeToString(), subject=subject,  # type: ignore[attr-defined]
            actor=ACTOR, reason="benchmark", correlation_id="", causation_id="", traceparent="",
            recorded_at=utc_now(),
        )
        headers = headers_for(stored, source=SOURCE, service="registry")
        return subject_for(self.prefix, "registry", event_type), stored.payload, headers

    def model(self, index: int, *, owner: bool = True, cluster: bool = False) -> list[tuple[str, bytes, dict[str, str]]]:
        """ModelCreated and, for owned models, ModelVersionCreated. The versions of `cluster`
        models share one training dataset and one feature set, so each is redundant with all."""
        uid = str(uuid.uuid4())
        name = f"bench-{index}"
        model = new_model(name).model
        created = events.ModelCreated(
            model_uid=uid, model_id=name, description=model.description,
            owner=model.owner if owner else "", team=model.team, risk_tier=model.risk_tier,
            task_type=model.task_type, tags=dict(model.tags),
        )
        messages = [self._message(uid, 1, created, f"models/{name}")]
        if owner:
            version = res.ModelVersion()
            # Features drawn from a shared vocabulary and 50 training datasets: a portfolio where
            # models are related but rarely redundant, as in benchmarks/redundancy_benchmark.py.
            features = tuple(VOCABULARY[:30] if cluster else random.Random(index).sample(VOCABULARY, 30))
            version.CopyFrom(new_version(name, seed=f"{name}-v1", features=features).model_version)
            dataset = "train-cluster" if cluster else f"train-{index % 50}"
            version.lineage.training_dataset.sha256 = hashlib.sha256(dataset.encode()).hexdigest()
            version.name = f"models/{name}/versions/1"
            version.version = 1
            version.created_by = ACTOR
            version.create_time.FromDatetime(utc_now())
            messages.append(self._message(
                uid, 2, events.ModelVersionCreated(model_uid=uid, model_version=version), version.name,
            ))
        return messages


@contextlib.contextmanager
def governance_process(database_url: str, nats_url: str, prefix: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run governance without credentials; yield the process and its gRPC address."""
    port = free_port()
    log = open(Path(tempfile.gettempdir()) / f"governance-bench-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "modelward_governance", "serve", "--listen", f"127.0.0.1:{port}",
         "--database-url", database_url, "--nats-url", nats_url, "--subject-prefix", prefix,
         "--stream-name", f"{prefix}_GOVERNANCE", "--registry-stream", f"{prefix}_REGISTRY",
         # No registry runs here; the events carry no gaps, so governance never asks it.
         "--registry-target", f"127.0.0.1:{free_port()}",
         # Nothing here calls governance's RPCs, so the benchmark runs it without credentials.
         "--auth-disabled", "--sweep-interval", "0", "--log-level", "WARNING", "--page-token-key", "bench"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield process, f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def publish_all(js: nats.js.JetStreamContext, messages: list[tuple[str, bytes, dict[str, str]]],
                      in_flight: int = 256) -> None:
    """Publish with up to `in_flight` acks outstanding.

    Concurrent publishes may land in any order, so callers pass one stream version at a time.
    """
    for start in range(0, len(messages), in_flight):
        chunk = messages[start:start + in_flight]
        await asyncio.gather(*(js.publish(subject, data, headers=headers) for subject, data, headers in chunk))


async def applied_count(engine: sa.ext.asyncio.AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(sa.text("SELECT count(*) FROM consumer_inbox")) or 0)


@dataclasses.dataclass(frozen=True)
class DatabaseActivity:
    """Counters of the whole PostgreSQL server, read before and after the measured run."""

    wal_bytes: int
    checkpoint_buffers: int


async def database_activity(engine: sa.ext.asyncio.AsyncEngine) -> DatabaseActivity:
    """Read the server's WAL position and the buffers its checkpoints have written so far.

    A checkpoint writes the pages changed since the last one, and a commit waits for its WAL to
    reach the disk. On a machine with one disk the two compete, so a slow commit in the trace can
    coincide with checkpoint writes.
    """
    async with engine.connect() as connection:
        row = (await connection.execute(sa.text(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, buffers_checkpoint FROM pg_stat_bgwriter"
        ))).one()
    return DatabaseActivity(int(row[0]), int(row[1]))


async def processed_times(engine: sa.ext.asyncio.AsyncEngine, event_ids: list[str]) -> list[tuple[str, dt.datetime]]:
    """Return when governance applied each of the events, as its inbox rows record it."""
    inbox = sa.table("consumer_inbox", sa.column("event_id"), sa.column("processed_at", UtcDateTime()))
    rows: list[tuple[str, dt.datetime]] = []
    async with engine.connect() as connection:
        for start in range(0, len(event_ids), 1000):
            chunk = event_ids[start:start + 1000]
            result = await connection.execute(sa.select(inbox.c.event_id, inbox.c.processed_at).where(inbox.c.event_id.in_(chunk)))
            rows += [(event_id, processed_at) for event_id, processed_at in result]
    return rows


# Tables autovacuum would analyze now: more rows changed since their last analysis than
# autovacuum_analyze_threshold (50) plus autovacuum_analyze_scale_factor (0.1) of their rows.
DUE_FOR_ANALYZE = sa.text(
    "SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid "
    "WHERE s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)"
)


# (table, start, end) of each ANALYZE the benchmark ran, in Unix seconds, for --trace.
ANALYZE_PASSES: list[tuple[str, float, float]] = []


async def analyze_every(url: str, seconds: float) -> None:
    """Every `seconds`, analyze the tables that autovacuum would, throttled as autovacuum is.

    The trigger and the cost-based delay (autovacuum_vacuum_cost_delay 2 ms, vacuum_cost_limit
    200) are PostgreSQL's defaults. Only autovacuum's naptime of 60 s is shortened, because the
    benchmark squeezes hours of growth into minutes.
    """
    engine = create_engine(url)
    try:
        while True:
            await asyncio.sleep(seconds)
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(sa.text("SET vacuum_cost_delay = '2ms'"))
                await autocommit.execute(sa.text("SET vacuum_cost_limit = 200"))
                for table in (await autocommit.execute(DUE_FOR_ANALYZE)).scalars().all():
                    started = time.time()
                    await autocommit.execute(sa.text(f'ANALYZE "{table}"'))
                    ANALYZE_PASSES.append((table, started, time.time()))
    finally:
        await engine.dispose()


async def wait_applied(engine: sa.ext.asyncio.AsyncEngine, target: int, process: subprocess.Popen[bytes],
                       timeout: float) -> float:
    """Wait until governance has applied `target` events; return the time it took."""
    started = time.monotonic()
    while True:
        count = await applied_count(engine)
        if count >= target:
            return time.monotonic() - started
        if process.poll() is not None:
            raise RuntimeError(f"governance exited with code {process.returncode}; see its log in {tempfile.gettempdir()}")
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"governance applied {count} of {target} events in {timeout:.0f} s")
        await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def registry_stream() -> AsyncIterator[tuple[NatsServer, str, nats.NATS]]:
    """Start a nats-server with the registry's stream under a new subject prefix; yield the
    server, the prefix and a connected client."""
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(Path(scratch))
        server.start()
        prefix = f"g{uuid.uuid4().hex[:8]}"
        client = await nats.connect(server.url)
        try:
            await ensure_stream(client, RelayConfig(
                nats_url=server.url, stream_name=f"{prefix}_REGISTRY", subject_prefix=prefix,
                service="registry", source=SOURCE,
            ))
            yield server, prefix, client
        finally:
            await client.close()
            server.stop()


async def wait_migrated(engine: sa.ext.asyncio.AsyncEngine, process: subprocess.Popen[bytes]) -> None:
    """Wait until governance has migrated its database: the inbox table appears once it is done."""
    while True:
        try:
            await applied_count(engine)
            return
        except sa.exc.DBAPIError:
            if process.poll() is not None:
                raise RuntimeError(f"governance exited with code {process.returncode}") from None
            await asyncio.sleep(0.2)


async def bench(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    results: list[tuple[str, str, str]] = []
    async with registry_stream() as (server, prefix, client):
        js = client.jetstream()
        source = RegistryEvents(prefix)
        models = [source.model(index) for index in range(args.models)]
        backlog = [message for messages in models for message in messages]
        published = time.monotonic()
        # Every ModelCreated first, then every ModelVersionCreated, so no model's second event
        # can overtake its first.
        for stream_version in (0, 1):
            await publish_all(js, [messages[stream_version] for messages in models if len(messages) > stream_version])
        backlog_size = len(backlog)
        results.append((f"publishing {backlog_size:,} registry events", f"{time.monotonic() - published:.0f} s",
                        "setup, not a target"))
        # The backlog is hundreds of thousands of objects that the garbage collector tracks.
        # Dropping it keeps them out of the full collections that pause the latency run's sender.
        del models, backlog

        async with database() as url:
            engine = create_engine(url)
            analyzer = asyncio.create_task(analyze_every(url, args.analyze_interval))
            with governance_process(url, server.url, prefix) as (process, target):
                await wait_migrated(engine, process)
                cpu_before = CpuReading.take(process.pid)
                seconds = await wait_applied(engine, backlog_size, process, args.timeout)
                cpu = server_cpu(cpu_before, CpuReading.take(process.pid), backlog_size, "event", "governance")
                results.append((
                    f"consumer throughput, backlog of {backlog_size:,} events",
                    f"{backlog_size / seconds:,.0f} events/s",
                    f"{seconds:.0f} s in all (target at least 2,000/s); {cpu}",
                ))
                current, peak = rss_mb(process.pid)
                results.append((f"governance RSS with {args.models:,} models", f"{current:.0f} MB",
                                f"peak {peak:.0f} MB (target at most 400 MB)"))
                results.append(await list_portfolio_pages(target))
                results.append(await latency(args, js, client, engine, process, source, prefix, backlog_size))
            analyzer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await analyzer
            await engine.dispose()
    return results


async def cluster(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Time how long governance takes to apply `--cluster` models that are all redundant with
    each other, and count the pairs it flags and the findings they open."""
    async with registry_stream() as (server, prefix, client):
        js = client.jetstream()
        source = RegistryEvents(prefix)
        models = [source.model(index, cluster=True) for index in range(args.cluster)]
        for stream_version in (0, 1):
            await publish_all(js, [messages[stream_version] for messages in models])
        async with database() as url:
            engine = create_engine(url)
            with governance_process(url, server.url, prefix) as (process, target):
                await wait_migrated(engine, process)
                seconds = await wait_applied(engine, 2 * args.cluster, process, args.timeout)
                pages = await list_portfolio_pages(target)
            async with engine.connect() as connection:
                pairs = await connection.scalar(sa.text("SELECT count(*) FROM redundancy_flags"))
                per_model = (await connection.execute(sa.text(
                    "SELECT count(*) FROM findings WHERE is_open AND kind = 'redundant_model' GROUP BY model_uid"
                ))).scalars().all()
            await engine.dispose()
    return [
        (
            f"applying {args.cluster:,} models redundant with each other ({2 * args.cluster:,} events)",
            f"{seconds:.1f} s", f"{2 * args.cluster / seconds:,.0f} events/s",
        ),
        (
            "redundant pairs flagged", f"{pairs:,}",
            f"open redundancy findings per model: fewest {min(per_model, default=0):,}, most {max(per_model, default=0):,}",
        ),
        pages,
    ]


async def list_portfolio_pages(target: str, rounds: int = 5) -> tuple[str, str, str]:
    """Time ListPortfolio's first page of 1,000 entries, `rounds` times, over gRPC."""
    timings = []
    async with grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)]) as channel:
        stub = governance_rpc.GovernanceServiceStub(channel)
        for _ in range(rounds):
            started = time.perf_counter()
            response = await stub.ListPortfolio(governance_service.ListPortfolioRequest(page_size=1000), timeout=60)
            timings.append(time.perf_counter() - started)
    findings = sum(entry.open_findings_count for entry in response.entries)
    return (
        f"ListPortfolio, page of {len(response.entries):,} entries ({findings:,} open findings, {response.ByteSize():,} bytes)",
        f"{statistics.median(timings) * 1000:.0f} ms", f"median of {rounds} calls, {min(timings) * 1000:.0f} to {max(timings) * 1000:.0f} ms",
    )


async def latency(args: argparse.Namespace, js: nats.js.JetStreamContext, client: nats.NATS,
                  engine: sa.ext.asyncio.AsyncEngine, process: subprocess.Popen[bytes], source: RegistryEvents,
                  prefix: str, applied: int) -> tuple[str, str, str]:
    sent_at: dict[str, float] = {}
    event_ids: dict[str, str] = {}
    to_arrival: list[float] = []
    arrivals: list[tuple[float, float]] = []
    # (send time, seconds until JetStream acknowledged the publish) of each measured event.
    acknowledged: list[tuple[float, float]] = []
    subscription = await js.subscribe(
        f"{prefix}.governance.v1.FindingOpened", ordered_consumer=True,
        deliver_policy=nats.js.api.DeliverPolicy.NEW,
    )

    async def collect() -> None:
        async for message in subscription.messages:
            finding = governance_events.FindingOpened.FromString(message.data)
            name = finding.model.removeprefix("models/")
            if name not in sent_at:
                continue
            to_arrival.append(time.time() - sent_at[name])
            arrivals.append((sent_at[name], to_arrival[-1]))

    async def timed_publish(subject: str, data: bytes, headers: dict[str, str], sent: float) -> None:
        await js.publish(subject, data, headers=headers)
        acknowledged.append((sent, time.time() - sent))

    async def send(count: int, first_index: int, measured: bool) -> float:
        """Publish `count` ModelCreated events of models without an owner at the rate; return the rate reached."""
        interval = 1 / args.rate
        started = time.monotonic()
        pending = []
        for offset in range(count):
            await asyncio.sleep(max(0.0, started + offset * interval - time.monotonic()))
            index = first_index + offset
            [(subject, data, headers)] = source.model(index, owner=False)
            if measured:
                sent = sent_at[f"bench-{index}"] = time.time()
                event_ids[headers["ce-id"]] = f"bench-{index}"
                pending.append(asyncio.create_task(timed_publish(subject, data, headers, sent)))
            else:
                pending.append(asyncio.create_task(js.publish(subject, data, headers=headers)))
        await asyncio.gather(*pending)
        return count / (time.monotonic() - started)

    # Warm-up, not measured: the backlog's models all had owners, so governance's findings and
    # events tables are still empty and PostgreSQL plans their queries for empty tables until
    # they are analyzed. The warm-up outlasts one look for tables to analyze.
    # The collector starts before the warm-up: the warm-up's findings would otherwise wait in the
    # subscription's queue and delay the first measured arrivals by the time to drain them.
    collector = asyncio.create_task(collect())
    # Full garbage collections of this process paused the sender for 230 to 250 ms in three runs
    # of five, and it then caught up with a burst of over 100 events, which is not a steady rate.
    # Freezing the objects that exist now leaves the collector only the ones the run creates.
    gc.collect()
    gc.freeze()
    warmup = int(args.rate * args.warmup)
    if warmup:
        await send(warmup, args.models + 10_000_000, measured=False)
        await wait_applied(engine, applied + warmup, process, 60)
        applied += warmup
    total = int(args.rate * args.seconds)
    database_before = await database_activity(engine)
    cpu_before = CpuReading.take(process.pid)
    achieved = await send(total, args.models, measured=True)
    await wait_applied(engine, applied + total, process, 60)
    cpu = server_cpu(cpu_before, CpuReading.take(process.pid), total, "event", "governance")
    database_after = await database_activity(engine)
    deadline = time.monotonic() + 10
    while len(to_arrival) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    collector.cancel()
    await subscription.unsubscribe()
    timeline = sorted(
        (sent_at[event_ids[event_id]], processed_at.timestamp() - sent_at[event_ids[event_id]])
        for event_id, processed_at in await processed_times(engine, list(event_ids))
    )
    to_record = [delay for _, delay in timeline]
    send_times = sorted(sent_at.values())
    longest_pause = max((later - earlier for earlier, later in zip(send_times, send_times[1:])), default=0.0)
    to_stored = [delay for _, delay in acknowledged]
    if args.trace:
        write_trace(args.trace, timeline, sorted(arrivals), sorted(acknowledged))
    if not to_record:
        return (f"event to decision at {args.rate:.0f}/s", "no findings arrived", "see the governance log")
    return (
        f"event to decision committed at {args.rate:.0f}/s (sent {achieved:.0f}/s)",
        f"p99 {percentile(to_record, .99) * 1000:.1f} ms",
        f"p50 {percentile(to_record, .5) * 1000:.1f} ms over {len(to_record)} events (target p99 at most 50 ms); {cpu}; "
        f"longest pause between two sends {longest_pause * 1000:.0f} ms; "
        f"to JetStream's acknowledgement of the publish p50 {percentile(to_stored, .5) * 1000:.1f} ms, "
        f"p99 {percentile(to_stored, .99) * 1000:.1f} ms; "
        f"to arrival on NATS p50 {percentile(to_arrival, .5) * 1000:.1f} ms, p99 {percentile(to_arrival, .99) * 1000:.1f} ms; "
        f"meanwhile PostgreSQL wrote {(database_after.wal_bytes - database_before.wal_bytes) / total / 1024:.1f} KiB of WAL "
        f"per event and its checkpointer {database_after.checkpoint_buffers - database_before.checkpoint_buffers:,} buffers",
    )


def write_trace(path: str, timeline: list[tuple[float, float]], arrivals: list[tuple[float, float]],
                acknowledged: list[tuple[float, float]]) -> None:
    """Write as CSV each measured event's send time with its delay to the decision ("event"), to
    JetStream's acknowledgement of its publish ("stored") and to its finding's arrival on NATS
    ("arrival"), and each ANALYZE pass."""
    with open(path, "w", encoding="utf-8") as trace:
        trace.write("kind,start_unix,end_unix_or_delay_ms,table\n")
        for sent, delay in timeline:
            trace.write(f"event,{sent:.6f},{delay * 1000:.3f},\n")
        for sent, delay in acknowledged:
            trace.write(f"stored,{sent:.6f},{delay * 1000:.3f},\n")
        for sent, delay in arrivals:
            trace.write(f"arrival,{sent:.6f},{delay * 1000:.3f},\n")
        for table, started, ended in ANALYZE_PASSES:
            trace.write(f"analyze,{started:.6f},{ended:.6f},{table}\n")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000, help="models in the backlog, two events each (default %(default)s)")
    parser.add_argument("--rate", type=float, default=500, help="events per second in the latency run (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=20, help="duration of the latency run in seconds (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=15,
                        help="seconds of the same events at the same rate before the latency run, not measured "
                             "(default %(default)s)")
    parser.add_argument("--analyze-interval", type=float, default=10,
                        help="seconds between looks for the tables of governance's database that autovacuum "
                             "would analyze (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the backlog may take (default %(default)s)")
    parser.add_argument("--trace", default="",
                        help="CSV file for each measured event's send time and delays, and each ANALYZE pass")
    parser.add_argument("--cluster", type=int, default=0,
                        help="instead of the workloads above, time this many models that are all "
                             "redundant with each other")
    args = parser.parse_args()
    probe_before = cpu_probe()
    results = await (cluster(args) if args.cluster else bench(args))
    print(f"\nMachine: {machine()}; CPU probe before the run {probe_before:.0f} ms\n")
    print("| measure | value | notes |\n|---|---|---|")
    for row in results:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    asyncio.run(main())
