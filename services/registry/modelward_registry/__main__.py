"""`python -m modelward_registry serve | rebuild-projections | migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from modelward_common.db import DatabaseUnavailable, create_engine
from modelward_common.errors import FailedPrecondition
from modelward_common.grpc_server import configure_logging
from modelward_registry import config as registry_config
from modelward_registry.bootstrap import migrate_database, prepare_database, serve
from modelward_registry.rebuild import rebuild_projections
from modelward_registry.workers import run_workers

# The exit code the modelward CLI uses for a failed precondition.
EXIT_PRECONDITION = 6


async def rebuild(database_url: str, *, force: bool) -> None:
    engine = create_engine(database_url)
    try:
        await prepare_database(engine)
        stats = await rebuild_projections(engine, force=force)
        print(f"rebuilt {stats.models} models and {stats.versions} versions from {stats.events} events "
              f"in {stats.seconds:.1f} s")
    finally:
        await engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modelward_registry", description="modelward registry service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the gRPC server and the event relay")
    registry_config.add_arguments(serve_parser)
    for name, help_text in (
        ("rebuild-projections", "rebuild the read tables from the event log (stop the registry first)"),
        ("migrate", "apply pending schema migrations and exit"),
    ):
        sub = commands.add_parser(name, help=help_text)
        registry_config.add_arguments(sub)
        if name == "rebuild-projections":
            sub.add_argument(
                "--force", action="store_true",
                help="rebuild even while a registry is serving on the database (default: refuse)",
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = registry_config.from_arguments(args)
    configure_logging(config.log_level)
    try:
        return run(args, config)
    except DatabaseUnavailable as error:
        print(f"python -m modelward_registry: {error}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace, config: registry_config.RegistryConfig) -> int:
    if args.command == "serve" and config.workers > 1:
        return run_workers(config)
    if args.command == "serve":
        asyncio.run(serve(config))
    elif args.command == "rebuild-projections":
        try:
            asyncio.run(rebuild(config.database_url, force=args.force))
        except FailedPrecondition as error:
            print(f"python -m modelward_registry: {error.message}", file=sys.stderr)
            return EXIT_PRECONDITION
    else:
        asyncio.run(migrate_database(config.database_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
