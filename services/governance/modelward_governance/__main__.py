"""`python -m modelward_governance serve | migrate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from modelward_common.db import create_engine
from modelward_common.grpc_server import configure_logging
from modelward_governance import config as governance_config
from modelward_governance.bootstrap import GovernanceApp, prepare_database

logger = logging.getLogger("modelward_governance")


async def serve(config: governance_config.GovernanceConfig) -> None:
    app = GovernanceApp(config)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("shutdown requested; draining in-flight calls for up to %.0f s", config.shutdown_grace)
    await app.stop()


async def run_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await prepare_database(engine)
    finally:
        await engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modelward_governance", description="modelward governance service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the gRPC server, the registry-event consumer and the relay")
    governance_config.add_arguments(serve_parser)
    migrate_parser = commands.add_parser("migrate", help="apply pending schema migrations and exit")
    governance_config.add_arguments(migrate_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = governance_config.from_arguments(args)
    configure_logging(config.log_level)
    if args.command == "serve":
        asyncio.run(serve(config))
    else:
        asyncio.run(run_migrations(config.database_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
