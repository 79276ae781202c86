"""ListPortfolio sends entries that default gRPC clients accept, however many versions a model has."""

from __future__ import annotations

import uuid

from modelward_common.db import create_engine
from modelward_governance.bootstrap import prepare_database
from modelward_governance.domain.orphans import OrphanConfig
from modelward_governance.entrypoints.convert import MAX_ENTRY_BYTES
from modelward_governance.entrypoints.grpc_service import GovernanceServicer
from modelward_governance.service_layer.governance import Governance
from modelward_governance.service_layer.queries import GovernanceQueries
from modelward_protos.governance.v1 import governance_service_pb2 as rpc
from tests.integration.test_consumer_batches import governance_consumer
from tests.integration.test_redundancy_clusters import _model, _version

# gRPC clients reject larger messages unless configured for more.
DEFAULT_CLIENT_LIMIT = 4 * 1024 * 1024
VERSIONS = 80


async def test_model_with_many_versions_fits_a_page(database_url) -> None:
    engine = create_engine(database_url)
    await prepare_database(engine)
    governance = Governance(engine)
    await governance.start()
    consumer = governance_consumer(engine, governance)
    big_uid, small_uid = str(uuid.uuid4()), str(uuid.uuid4())
    await consumer.process_batch([_model(big_uid, "hourly"), _model(small_uid, "yearly")])
    # About 24 KB of feature names per version: 80 versions make an entry of about 2 MB.
    for start in range(1, VERSIONS + 1, 20):
        await consumer.process_batch([
            _version(big_uid, "hourly", number, tuple(f"lagged_feature_{number}_{index:03d}" for index in range(800)))
            for number in range(start, start + 20)
        ])
    await consumer.process_batch([_version(small_uid, "yearly", 1, ("amount",))])
    servicer = GovernanceServicer(governance, GovernanceQueries(engine, b"k" * 32, OrphanConfig()), None, None, b"k" * 32)

    response = await servicer.ListPortfolio(rpc.ListPortfolioRequest(page_size=10, order_by="name"), None)

    hourly, yearly = response.entries
    assert hourly.model == "models/hourly"
    assert hourly.ByteSize() <= MAX_ENTRY_BYTES
    assert hourly.versions_omitted > 0
    assert len(hourly.versions) + hourly.versions_omitted == VERSIONS
    assert hourly.versions[-1].version == VERSIONS
    assert yearly.versions_omitted == 0
    assert len(yearly.versions) == 1
    assert response.ByteSize() < DEFAULT_CLIENT_LIMIT
    await engine.dispose()
