"""`python -m modelward_governance serve | migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from modelward_common.db import DatabaseUnavailable
from modelward_common.grpc_server import configure_logging, serve_until_signalled
from modelward_governance import config as governance_config
from modelward_governance.bootstrap import GovernanceApp, migrate_database


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
    try:
        if args.command == "serve":
            asyncio.run(serve_until_signalled(GovernanceApp(config), config.shutdown_grace))
        else:
            asyncio.run(migrate_database(config.database_url))
    except DatabaseUnavailable as error:
        print(f"python -m modelward_governance: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
