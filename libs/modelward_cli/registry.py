"""`modelward registry ...`: operator commands that act on the registry's database directly."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from modelward_cli.common import EXIT_PRECONDITION, print_error
from modelward_common.arguments import database_url_argument
from modelward_common.db import create_engine
from modelward_common.errors import FailedPrecondition


def _default_database_url() -> str:
    home = Path(os.environ.get("MODELWARD_HOME", Path.home() / ".modelward"))
    return os.environ.get("MODELWARD_REGISTRY_DATABASE_URL", f"sqlite+aiosqlite:///{home / 'registry.sqlite'}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("registry", help="operate on the registry's database")
    parser.set_defaults(handler=lambda _args: _usage(parser))
    commands = parser.add_subparsers(dest="registry_command", metavar="ACTION")
    rebuild = commands.add_parser(
        "rebuild-projections",
        help="rebuild the registry's read tables from its event log; stop the registry first",
    )
    rebuild.add_argument(
        "--database-url", type=database_url_argument, default=_default_database_url(),
        help="SQLAlchemy URL of the registry database (env MODELWARD_REGISTRY_DATABASE_URL, "
             "default: registry.sqlite in the data folder of 'modelward up', %(default)s)",
    )
    rebuild.add_argument(
        "--force", action="store_true",
        help="rebuild even while a registry is serving on the database; changes it commits during the "
             "rebuild may be missing from the projections until the next rebuild (default: refuse)",
    )
    rebuild.set_defaults(handler=_rebuild)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _rebuild(args: argparse.Namespace) -> int:
    from modelward_registry.bootstrap import prepare_database
    from modelward_registry.rebuild import rebuild_projections

    async def run() -> None:
        engine = create_engine(args.database_url)
        try:
            await prepare_database(engine)
            stats = await rebuild_projections(engine, force=args.force)
        finally:
            await engine.dispose()
        print(f"rebuilt {stats.models} models and {stats.versions} versions from {stats.events} events in {stats.seconds:.1f} s")

    try:
        asyncio.run(run())
    except FailedPrecondition as error:
        print_error(error.message)
        return EXIT_PRECONDITION
    return 0
