"""Models that are all redundant with each other flag a number of pairs that grows with their
number, not with its square, and every flagged pair carries a finding on both of its models."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from modelward_common.db import create_engine
from modelward_governance.adapters.schema import findings_table, redundancy_table
from modelward_governance.bootstrap import prepare_database
from modelward_governance.domain.redundancy import RedundancyConfig
from modelward_governance.service_layer.governance import Governance, GovernanceSettings
from modelward_protos.events.v1 import registry_events_pb2 as registry_events
from tests.integration.test_consumer_batches import FakeMessage, _message, governance_consumer
from tests.support.builders import new_version

CLUSTER = 12
PARTNERS = 3
SHARED = tuple(f"feature_{index}" for index in range(30))


def _model(uid: str, name: str) -> FakeMessage:
    created = registry_events.ModelCreated(
        model_uid=uid, model_id=name, owner="team:forecasting", team="forecasting", risk_tier=1,
        task_type="regression",
    )
    return _message(uid, 1, created)


def _version(uid: str, name: str, number: int, features: tuple[str, ...]) -> FakeMessage:
    # Each version has its own artifact (the seed) and the builder's one training dataset.
    version = new_version(name, seed=f"{name}-{number}", features=features).model_version
    version.name = f"models/{name}/versions/{number}"
    version.version = number
    return _message(uid, number + 1, registry_events.ModelVersionCreated(model_uid=uid, model_version=version))


async def _flags(engine) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(redundancy_table.c.first_uid, redundancy_table.c.second_uid))
    return {(first, second) for first, second in rows}


async def _open_redundancy_findings(engine) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(model, other model) of each open redundancy finding."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            sa.select(findings_table.c.model_uid, findings_table.c.check_id).where(
                findings_table.c.is_open.is_(True), findings_table.c.kind == "redundant_model"
            )
        )
    return {(model_uid, check_id.rsplit(".", 1)[1]) for model_uid, check_id in rows}


async def test_cluster_flags_grow_linearly(database_url) -> None:
    engine = create_engine(database_url)
    await prepare_database(engine)
    governance = Governance(engine, GovernanceSettings(redundancy=RedundancyConfig(max_partners=PARTNERS)))
    await governance.start()
    consumer = governance_consumer(engine, governance)
    # Fixed uids: which partners a check picks among equals depends on them (pair_rank).
    models = [(str(uuid.uuid5(uuid.NAMESPACE_URL, f"store-{index}")), f"store-{index}") for index in range(CLUSTER)]
    await consumer.process_batch([_model(uid, name) for uid, name in models])
    # Several versions per batch, so checks run both on a batch's snapshot and after its writes.
    for start in range(0, CLUSTER, 4):
        await consumer.process_batch([_version(uid, name, 1, SHARED) for uid, name in models[start:start + 4]])

    flags = await _flags(engine)
    # Model k flags min(k, PARTNERS) pairs with the models before it: 0 + 1 + 2 + 3 * 9.
    assert len(flags) == PARTNERS * (CLUSTER - 1) - 3
    for uid, _ in models:
        pairs = sum(1 for pair in flags if uid in pair)
        assert pairs >= PARTNERS
        # Its own pairs, and about PARTNERS / k from the k-th model after it.
        assert pairs <= PARTNERS + PARTNERS * sum(1 / k for k in range(1, CLUSTER))
    findings = await _open_redundancy_findings(engine)
    assert findings == {(first, second) for first, second in flags} | {(second, first) for first, second in flags}

    # The first model's new version shares no feature with the others: its pairs clear, and the
    # findings on both sides of each resolve.
    first_uid, first_name = models[0]
    await consumer.process_batch([_version(first_uid, first_name, 2, tuple(f"other_{i}" for i in range(30)))])

    after = await _flags(engine)
    assert after == {pair for pair in flags if first_uid not in pair}
    assert await _open_redundancy_findings(engine) == (
        {(first, second) for first, second in after} | {(second, first) for first, second in after}
    )
    assert consumer.applied_count == 2 * CLUSTER + 1
    await engine.dispose()


async def test_open_finding_summaries_equal_decoded_findings(database_url) -> None:
    """ListPortfolio counts open findings in SQL. The counts and highest severity must equal
    those of the decoded findings, for models with findings, without any, and unknown uids."""
    from modelward_governance.adapters import store
    from modelward_governance.domain.findings import OpenFindingSummary

    engine = create_engine(database_url)
    await prepare_database(engine)
    governance = Governance(engine, GovernanceSettings(redundancy=RedundancyConfig(max_partners=2)))
    await governance.start()
    consumer = governance_consumer(engine, governance)
    models = [(str(uuid.uuid4()), f"summary-{index}") for index in range(5)]
    await consumer.process_batch([_model(uid, name) for uid, name in models])
    await consumer.process_batch([_version(uid, name, 1, SHARED) for uid, name in models[:4]])
    uids = [uid for uid, _ in models] + ["uid-unknown"]

    async with engine.connect() as connection:
        summaries = await store.open_finding_summaries(connection, uids)
        decoded = await store.open_findings_of(connection, uids)

    assert summaries == {uid: OpenFindingSummary.of(uid, decoded[uid]) for uid in uids}
    assert all(summaries[uid].count_by_version.get(0, 0) > 0 for uid, _ in models[:4])
    assert summaries["uid-unknown"] == OpenFindingSummary()
    await engine.dispose()


async def test_replica_with_stale_index_flags_no_false_pair(database_url) -> None:
    """A replica flags a pair only after reading the partner's latest version from the database,
    since the partner may have changed on another replica since it indexed it."""
    engine = create_engine(database_url)
    await prepare_database(engine)
    first = Governance(engine)
    await first.start()
    (a, _), (b, _), (c, _) = models = [(str(uuid.uuid5(uuid.NAMESPACE_URL, f"replica-{name}")), f"replica-{name}") for name in "abc"]
    await governance_consumer(engine, first).process_batch([_model(uid, name) for uid, name in models])
    await governance_consumer(engine, first).process_batch([_version(uid, name, 1, SHARED) for uid, name in models[:2]])
    assert await _flags(engine) == {tuple(sorted((a, b)))}

    # The second replica starts and indexes a and b; then a's new version goes to the first one.
    second = Governance(engine)
    await second.start()
    await governance_consumer(engine, first).process_batch([_version(a, "replica-a", 2, tuple(f"other_{i}" for i in range(30)))])
    assert await _flags(engine) == set()

    await governance_consumer(engine, second).process_batch([_version(c, "replica-c", 1, SHARED)])

    assert await _flags(engine) == {tuple(sorted((b, c)))}
    assert await _open_redundancy_findings(engine) == {(b, c), (c, b)}
    await engine.dispose()


async def test_stale_partners_read_until_choice_is_fresh(database_url) -> None:
    """When the partners a check picks turn out changed, the next pick is read from the database
    too, until every new partner is current. Here the limit is one, and the two partners of
    lowest rank changed on another replica, so only the third may be flagged."""
    from modelward_governance.domain.redundancy import pair_rank

    engine = create_engine(database_url)
    await prepare_database(engine)
    settings = GovernanceSettings(redundancy=RedundancyConfig(max_partners=1))
    first = Governance(engine, settings)
    await first.start()
    newcomer = str(uuid.uuid5(uuid.NAMESPACE_URL, "chain-new"))
    partners = sorted(
        (str(uuid.uuid5(uuid.NAMESPACE_URL, f"chain-{index}")) for index in range(3)),
        key=lambda uid: pair_rank(newcomer, uid),
    )
    models = [(uid, f"chain-{index}") for index, uid in enumerate(partners)]
    await governance_consumer(engine, first).process_batch([_model(uid, name) for uid, name in models])
    await governance_consumer(engine, first).process_batch([_version(uid, name, 1, SHARED) for uid, name in models])

    second = Governance(engine, settings)
    await second.start()
    await governance_consumer(engine, first).process_batch([
        _version(uid, name, 2, tuple(f"{name}_other_{i}" for i in range(30))) for uid, name in models[:2]
    ])
    await governance_consumer(engine, second).process_batch([_model(newcomer, "chain-new")])
    await governance_consumer(engine, second).process_batch([_version(newcomer, "chain-new", 1, SHARED)])

    assert await _flags(engine) == {tuple(sorted((newcomer, partners[2])))}
    await engine.dispose()
