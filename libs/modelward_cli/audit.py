"""`modelward audit ...`: check a service's audit hash chain, export it, verify exports offline.

Exit codes: 0 when the chain or export is intact, 3 when it is not, 1 when a file cannot be
read. A failed call exits with the code of its gRPC status, as every other command does: 5 when
the token is missing or lacks the permission, 7 when the service cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from modelward_common.arguments import positive_float

EXIT_BROKEN = 3
_DEFAULT_TARGETS = {"registry": "127.0.0.1:50051", "governance": "127.0.0.1:50052"}


def _default_target(service: str) -> str:
    """Return the address `modelward up` recorded for `service`, or its default port."""
    home = Path(os.environ.get("MODELWARD_HOME", Path.home() / ".modelward"))
    try:
        recorded = json.loads((home / "endpoints.json").read_text(encoding="utf-8")).get(service)
    except (OSError, ValueError):
        recorded = None
    return str(recorded or _DEFAULT_TARGETS[service])


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="verify and export the tamper-evident audit trail")
    parser.set_defaults(handler=lambda _args: _usage(parser))
    commands = parser.add_subparsers(dest="audit_command", metavar="ACTION")

    verify = commands.add_parser("verify", help="recompute a service's hash chain and report the first mismatch")
    _add_target_arguments(verify)
    verify.set_defaults(handler=_verify)

    export = commands.add_parser("export", help="write a service's events as JSON lines with a signed manifest to stdout")
    _add_target_arguments(export)
    export.add_argument("--model", default="", help="only this model's events, as models/{model}")
    export.add_argument("--team", default="", help="only the events of this team's models")
    export.add_argument("--since", type=_parse_time, help="only events recorded at or after this ISO 8601 time")
    export.add_argument("--until", type=_parse_time, help="only events recorded before this ISO 8601 time")
    export.set_defaults(handler=_export)

    check = commands.add_parser("verify-export", help="check an export file offline: hashes, chain, manifest, signature")
    check.add_argument("file", help="export file written by 'modelward audit export'")
    check.add_argument("--public-key", default="", help="PEM file with the Ed25519 public key; required to check the signature")
    check.set_defaults(handler=_verify_export)

    keygen = commands.add_parser("keygen", help="write a new Ed25519 key pair for signing exports")
    keygen.add_argument("--private-key", required=True, help="PEM file to create for the private key (mode 0600)")
    keygen.add_argument("--public-key", required=True, help="PEM file to create for the public key")
    keygen.set_defaults(handler=_keygen)


def _add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", choices=sorted(_DEFAULT_TARGETS), required=True, help="service whose log to read")
    parser.add_argument("--address", default="", help="HOST:PORT of the service (default: the address in "
                        "endpoints.json of 'modelward up', else port 50051 or 50052 on 127.0.0.1)")
    parser.add_argument("--token", help="bearer token (default: $MODELWARD_TOKEN, else the admin-token file in the data folder)")
    parser.add_argument("--timeout", type=positive_float, default=300.0, metavar="SECONDS",
                        help="seconds to wait for the service (default %(default)s)")


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"time {text!r} has no UTC offset; add one, such as {text}+00:00")
    return value


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _channel(args: argparse.Namespace) -> grpc.Channel:
    return grpc.insecure_channel(args.address or _default_target(args.target))


def _call_metadata(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """Return the authorization header for the token that the other commands would send."""
    from modelward_sdk.settings import resolve_token

    token = resolve_token(args.token)
    return (("authorization", f"Bearer {token}"),) if token else ()


def _report_rpc_error(args: argparse.Namespace, error: grpc.RpcError) -> int:
    from modelward_cli.common import exit_code_for_status

    address = args.address or _default_target(args.target)
    code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    print(f"{args.target} at {address} failed: {code.name}: {error.details()}", file=sys.stderr)  # type: ignore[attr-defined]
    return exit_code_for_status(code)


def _report_configuration_error(error: Exception) -> int:
    from modelward_cli.common import EXIT_UNAVAILABLE

    print(f"modelward: {error}", file=sys.stderr)
    return EXIT_UNAVAILABLE


def _verify(args: argparse.Namespace) -> int:
    from modelward_protos.audit.v1 import audit_service_pb2 as audit
    from modelward_protos.audit.v1 import audit_service_pb2_grpc as audit_grpc

    from modelward_sdk.errors import ConfigurationError

    try:
        metadata = _call_metadata(args)
    except ConfigurationError as error:
        return _report_configuration_error(error)
    with _channel(args) as channel:
        try:
            report = audit_grpc.AuditServiceStub(channel).VerifyAuditLog(
                audit.VerifyAuditLogRequest(), timeout=args.timeout, metadata=metadata,
            )
        except grpc.RpcError as error:
            return _report_rpc_error(args, error)
    if report.intact:
        print(f"{args.target} audit log intact: {report.events_checked} events, head {report.last_position} {report.last_hash}")
        return 0
    mismatch = report.first_mismatch
    print(f"{args.target} audit log broken after {report.events_checked} intact events: {mismatch.description}")
    return EXIT_BROKEN


def _export(args: argparse.Namespace) -> int:
    from modelward_common.timeutil import to_timestamp
    from modelward_protos.audit.v1 import audit_service_pb2 as audit
    from modelward_protos.audit.v1 import audit_service_pb2_grpc as audit_grpc
    from modelward_sdk.errors import ConfigurationError

    try:
        metadata = _call_metadata(args)
    except ConfigurationError as error:
        return _report_configuration_error(error)

    request = audit.ExportAuditLogRequest(model=args.model, team=args.team)
    if args.since is not None:
        request.start_time.CopyFrom(to_timestamp(args.since))
    if args.until is not None:
        request.end_time.CopyFrom(to_timestamp(args.until))
    with _channel(args) as channel:
        try:
            for response in audit_grpc.AuditServiceStub(channel).ExportAuditLog(request, timeout=args.timeout, metadata=metadata):
                for line in response.lines:
                    sys.stdout.write(line + "\n")
        except grpc.RpcError as error:
            return _report_rpc_error(args, error)
    sys.stdout.flush()
    return 0


def _verify_export(args: argparse.Namespace) -> int:
    from modelward_common.audit_export import load_public_key, verify_export

    try:
        public_key = load_public_key(args.public_key) if args.public_key else None
        with open(args.file, encoding="utf-8") as lines:
            check = verify_export(lines, public_key)
    except (OSError, ValueError) as error:
        print(f"cannot read the export or the key: {error}", file=sys.stderr)
        return 1
    if not check.valid:
        print(f"{args.file}: invalid: {check.problem}")
        return EXIT_BROKEN
    signature = "signature valid" if check.signed else "signature not checked: pass --public-key"
    print(f"{args.file}: valid: {check.events} events, hashes and chain intact, manifest matches, {signature}")
    return 0


def _keygen(args: argparse.Namespace) -> int:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        descriptor = os.open(args.private_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(private)
        Path(args.public_key).write_bytes(public)
    except OSError as error:
        print(f"cannot write the key pair: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.private_key} (private, for --audit-signing-key) and {args.public_key} (public, for verify-export)")
    return 0
