"""Entry point of the `modelward` command.

Each subcommand lives in its own module, listed in SUBCOMMAND_MODULES. A module exposes
`register(subparsers)`, which adds its parser and sets `handler`, a function that takes the
parsed arguments and returns the exit code. Adding a subcommand means writing that module and
adding its name here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from modelward_cli.common import EXIT_CODES_HELP

SUBCOMMAND_MODULES = (
    "modelward_cli.up",
    "modelward_cli.registry",
    "modelward_cli.models",
    "modelward_cli.versions",
    "modelward_cli.promotions",
    "modelward_cli.reports",
    "modelward_cli.policy",
    "modelward_cli.drift",
    "modelward_cli.audit",
    "modelward_cli.operators",
    "modelward_cli.access",
)

# Exit codes shared by all subcommands; a subcommand documents its own codes above 2 in its help.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# 128 + SIGPIPE, the status a shell reports for a command stopped by a closed pipe.
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelward",
        description="Manage machine-learning models with the modelward registry and governance services.",
        epilog="Run 'modelward COMMAND --help' for the options of one command.\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the chosen subcommand and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    try:
        exit_code: int = args.handler(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader, such as `head`, closed the pipe: stop quietly, as the shell's own tools do.
        # Pointing stdout at /dev/null keeps the interpreter's final flush from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return exit_code


def _installed_version() -> str:
    try:
        return metadata.version("modelward")
    except metadata.PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
