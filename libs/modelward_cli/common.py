"""Shared parts of the service subcommands: connection options, output, exit codes and errors."""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import json_format, message

from modelward_common.arguments import positive_float
from modelward_sdk import GovernanceClient, RegistryClient
from modelward_sdk.errors import ConfigurationError, RpcError
from modelward_sdk.settings import DEFAULT_TIMEOUT

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_INVALID = 4
EXIT_DENIED = 5
EXIT_PRECONDITION = 6
EXIT_UNAVAILABLE = 7

EXIT_CODES_HELP = """exit codes:
  0  success
  1  any other error
  2  usage error: unknown option or missing argument
  3  not found: the model, version, alias, promotion or finding does not exist
  4  invalid argument: a value the CLI or the service rejected (the message names it)
  5  permission denied or not authenticated
  6  failed precondition or conflict (already exists, stale etag, nothing to approve),
     a deployment that is not allowed, or a rejected promotion
  7  service unavailable, deadline exceeded, or no service address configured"""

_EXIT_BY_CODE = {
    grpc.StatusCode.NOT_FOUND: EXIT_NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT: EXIT_INVALID,
    grpc.StatusCode.OUT_OF_RANGE: EXIT_INVALID,
    grpc.StatusCode.PERMISSION_DENIED: EXIT_DENIED,
    grpc.StatusCode.UNAUTHENTICATED: EXIT_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION: EXIT_PRECONDITION,
    grpc.StatusCode.ABORTED: EXIT_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS: EXIT_PRECONDITION,
    grpc.StatusCode.UNAVAILABLE: EXIT_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: EXIT_UNAVAILABLE,
}

Subparsers = argparse._SubParsersAction  # type: ignore[type-arg]
Handler = Callable[[argparse.Namespace], int]


def exit_code_for(error: RpcError) -> int:
    return exit_code_for_status(error.code)


def exit_code_for_status(code: grpc.StatusCode) -> int:
    return _EXIT_BY_CODE.get(code, EXIT_ERROR)


def add_command(subparsers: Subparsers, name: str, help_text: str, *, output: bool = True) -> argparse.ArgumentParser:
    """Add a subcommand with the connection options and, when `output`, --output."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help_text, description=help_text, epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--registry", metavar="HOST:PORT",
        help="registry address (default: $MODELWARD_REGISTRY, else endpoints.json of 'modelward up')",
    )
    group.add_argument(
        "--governance", metavar="HOST:PORT",
        help="governance address (default: $MODELWARD_GOVERNANCE, else endpoints.json of 'modelward up')",
    )
    group.add_argument(
        "--token", help="bearer token (default: $MODELWARD_TOKEN, else the admin-token file in the data folder)",
    )
    group.add_argument(
        "--timeout", type=positive_float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
        help="seconds each call may take, retries included (default: %(default)s)",
    )
    if output:
        parser.add_argument(
            "--output", choices=("table", "json"), default="table",
            help="table for people, json for scripts: protobuf JSON with field names as in the protos "
                 "(default: %(default)s)",
        )
    return parser


def add_actions(subparsers: Subparsers, name: str, help_text: str) -> Subparsers:
    """Add a command group such as `models` whose actions are subcommands of their own."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=lambda _args: _print_usage(parser))
    actions: Subparsers = parser.add_subparsers(dest=f"{name}_action", metavar="ACTION")
    return actions


def _print_usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def command(handler: Callable[[argparse.Namespace], int | None]) -> Handler:
    """Run a handler and turn SDK and input errors into a readable message and an exit code."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args) or EXIT_OK
        except RpcError as error:
            print_error(f"{error.code.name}: {error.message}")
            for violation in error.field_violations:
                if violation.description != error.message:
                    print_error(f"  {violation.field}: {violation.description}")
            return exit_code_for(error)
        except ConfigurationError as error:
            print_error(str(error))
            return EXIT_UNAVAILABLE
        except (ValueError, TypeError) as error:
            print_error(str(error))
            return EXIT_INVALID
        except BrokenPipeError:
            raise
        except OSError as error:
            if error.filename:
                # A missing or unreadable file named on the command line is a rejected value.
                print_error(f"cannot read {error.filename}: {error.strerror or error}")
                return EXIT_INVALID
            print_error(f"input or output failed: {error.strerror or error}")
            return EXIT_ERROR

    return run


_UTF16_BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff")


def read_text_file(path: Path, fix: str = "save the file as UTF-8") -> str:
    """Read a UTF-8 file; raise ValueError naming the file and `fix` when it is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if data.startswith(_UTF16_BYTE_ORDER_MARKS):
            # Excel's "Unicode text" and UTF-16 CSV files start with a UTF-16 byte order mark.
            raise ValueError(f"{path} is UTF-16 text, not UTF-8; {fix}") from None
        raise ValueError(
            f"{path} is not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start}; {fix}"
        ) from None


def print_error(text: str) -> None:
    """Print a message on stderr, with control characters other than line breaks escaped,
    because server messages quote values that callers stored."""
    escaped = "\n".join(escape_controls(line) for line in text.split("\n"))
    print(f"modelward: {escaped}", file=sys.stderr)


def registry_client(args: argparse.Namespace) -> RegistryClient:
    return RegistryClient(args.registry, token=args.token, timeout=args.timeout)


def governance_client(args: argparse.Namespace) -> GovernanceClient:
    return GovernanceClient(args.governance, token=args.token, timeout=args.timeout)


def key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


# Output


def to_json_value(item: message.Message) -> Any:
    return json_format.MessageToDict(item, preserving_proto_field_name=True)


def print_json(value: message.Message | Sequence[message.Message] | dict[str, Any]) -> None:
    """Print stable JSON: protobuf's JSON mapping, keys sorted, two-space indent."""
    if isinstance(value, message.Message):
        document: Any = to_json_value(value)
    elif isinstance(value, dict):
        document = value
    else:
        document = [to_json_value(item) for item in value]
    print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]], stream: IO[str] | None = None) -> None:
    """Print rows under headers with columns padded to their widest cell."""
    out = stream or sys.stdout
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    print("  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True)).rstrip(), file=out)
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def print_fields(pairs: Iterable[tuple[str, object]]) -> None:
    """Print one `label: value` line per pair, labels aligned."""
    items = [(label, _cell(value)) for label, value in pairs]
    width = max((len(label) for label, _ in items), default=0)
    for label, value in items:
        print(f"{label.ljust(width)}  {value}")


# C0 controls, DEL and C1 controls. A value that a service stores may contain them, and
# written raw to a terminal they could move the cursor, clear the screen or set the title.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def print_item(output: str, item: message.Message, fields: Callable[[Any], Iterable[tuple[str, object]]]) -> None:
    """Print one resource as JSON or, for the table output, as the label-value pairs `fields` gives."""
    if output == "json":
        print_json(item)
    else:
        print_fields(fields(item))


def escape_controls(text: str) -> str:
    """Replace control characters, ESC included, with visible escapes such as `\\x1b`."""
    return _CONTROL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return escape_controls(", ".join(str(item) for item in value)) or "-"
    text = escape_controls(str(value))
    return text if text else "-"


class ProgressBar:
    """Upload progress on stderr: a redrawn bar on a terminal, else a line per 10 % step."""

    def __init__(self, label: str, stream: IO[str] | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.interactive = self.stream.isatty()
        self.started = time.monotonic()
        self.last_step = -1

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        if self.interactive:
            filled = int(fraction * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            rate = done / max(time.monotonic() - self.started, 1e-9)
            end = "\n" if done >= total else ""
            self.stream.write(f"\r{self.label} [{bar}] {done}/{total} rows {fraction:4.0%} {rate:,.0f} rows/s{end}")
            self.stream.flush()
            return
        step = int(fraction * 10)
        if step > self.last_step:
            self.last_step = step
            self.stream.write(f"{self.label}: {done}/{total} rows ({fraction:.0%})\n")
            self.stream.flush()
