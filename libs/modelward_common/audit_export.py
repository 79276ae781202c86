"""Audit exports: events as JSON lines closed by a manifest, signed with Ed25519, and their
offline verification.

Export file layout, one JSON object per line:

- one line per event, in position order, with every chained field of the event (the payload
  in base64) plus its `event_hash`;
- a last line `{"manifest": {...}, "signature": {...} | null}`. The manifest holds the format,
  the service, the filters, the export time, the number of event lines, the first and last
  event hash, and `lines_sha256`, the SHA-256 of the event lines each followed by "\n". The
  signature is Ed25519 over the manifest's canonical JSON (keys sorted, no spaces, ASCII).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from modelward_common.audit import check_event
from modelward_common.eventstore import StoredEvent
from modelward_common.hashchain import CHAINED_FIELDS
from modelward_common.timeutil import rfc3339

EXPORT_FORMAT = "modelward-audit-export-v1"
SIGNATURE_ALGORITHM = "ed25519"


def event_line(event: StoredEvent) -> str:
    record: dict[str, Any] = {name: getattr(event, name) for name in CHAINED_FIELDS}
    record["payload"] = base64.b64encode(event.payload).decode("ascii")
    record["recorded_at"] = rfc3339(event.recorded_at)
    record["event_hash"] = event.event_hash
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


@dataclass
class ManifestBuilder:
    """Collects what the manifest states about the event lines written so far."""

    service: str
    filters: dict[str, str]
    count: int = 0
    first_hash: str = ""
    last_hash: str = ""
    _digest: Any = field(default_factory=hashlib.sha256)

    def add(self, line: str, event_hash: str) -> None:
        self._digest.update(line.encode("utf-8") + b"\n")
        self.count += 1
        self.first_hash = self.first_hash or event_hash
        self.last_hash = event_hash

    def manifest_line(self, exported_at: str, signing_key: Ed25519PrivateKey | None) -> str:
        manifest = {
            "format": EXPORT_FORMAT,
            "service": self.service,
            "filters": self.filters,
            "exported_at": exported_at,
            "count": self.count,
            "first_hash": self.first_hash,
            "last_hash": self.last_hash,
            "lines_sha256": self._digest.hexdigest(),
        }
        signature = None
        if signing_key is not None:
            value = signing_key.sign(canonical_json(manifest))
            signature = {"algorithm": SIGNATURE_ALGORITHM, "value": base64.b64encode(value).decode("ascii")}
        return json.dumps({"manifest": manifest, "signature": signature}, sort_keys=True, separators=(",", ":"))


def load_private_key(path: str) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PEM (PKCS#8) file, unencrypted."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} contains a {type(key).__name__}, not an Ed25519 private key; create one with modelward audit keygen")
    return key


def load_public_key(path: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key from a PEM (SubjectPublicKeyInfo) file."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} contains a {type(key).__name__}, not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class ExportCheck:
    """The result of checking an export file: `problem` names the first bad line, if any."""

    events: int
    signed: bool
    problem: str = ""

    @property
    def valid(self) -> bool:
        return not self.problem


class _BadExport(Exception):
    pass


def verify_export(lines: Iterable[str], public_key: Ed25519PublicKey | None) -> ExportCheck:
    """Check an export offline: each event's hash, chain links between its lines, and the
    manifest's count, hashes, line digest and signature (required when `public_key` is given).
    """
    try:
        return _verify(lines, public_key)
    except _BadExport as error:
        return ExportCheck(0, False, str(error))


def _verify(lines: Iterable[str], public_key: Ed25519PublicKey | None) -> ExportCheck:
    digest = hashlib.sha256()
    previous: tuple[int, str] | None = None
    hashes: list[str] = []
    manifest_record: dict[str, Any] | None = None
    # First line whose event does not follow the line before it in the chain; allowed only
    # when filters selected part of the log.
    first_gap = ""
    number = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\n")
        if manifest_record is not None:
            raise _BadExport(f"line {number}: unexpected content after the manifest line {number - 1}")
        record = _parse(line, number)
        if "manifest" in record:
            manifest_record = record
            continue
        event = _event_fields(record, number)
        mismatch = check_event(event, previous, adjacent=False)
        if mismatch is not None:
            raise _BadExport(f"line {number}: {mismatch.describe()}")
        if previous is not None and event["previous_position"] != previous[0] and not first_gap:
            first_gap = f"line {number}: event {event['event_id']} at position {event['position']} links to position {event['previous_position']}, not to the line before it at {previous[0]}; events are missing from an unfiltered export"
        digest.update(line.encode("utf-8") + b"\n")
        previous = (int(event["position"]), str(event["event_hash"]))
        hashes.append(str(event["event_hash"]))
    if manifest_record is None:
        raise _BadExport(f"line {number + 1}: the manifest line is missing; the export is truncated")
    signed = _check_manifest(manifest_record, number, hashes, digest.hexdigest(), public_key, first_gap)
    return ExportCheck(len(hashes), signed)


def _parse(line: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise _BadExport(f"line {number}: not valid JSON ({error.msg} at column {error.colno})") from error
    if not isinstance(record, dict):
        raise _BadExport(f"line {number}: expected a JSON object")
    return record


def _event_fields(record: dict[str, Any], number: int) -> dict[str, Any]:
    missing = [name for name in (*CHAINED_FIELDS, "event_hash") if name not in record]
    if missing:
        raise _BadExport(f"line {number}: event is missing the fields {', '.join(missing)}")
    event = dict(record)
    try:
        event["payload"] = base64.b64decode(record["payload"], validate=True)
        for name in ("position", "previous_position", "stream_version"):
            if not isinstance(record[name], int) or isinstance(record[name], bool):
                raise _BadExport(f"line {number}: {name} {record[name]!r} is not an integer")
    except (binascii.Error, TypeError) as error:
        raise _BadExport(f"line {number}: payload is not valid base64") from error
    return event


def _check_manifest(
    record: dict[str, Any],
    number: int,
    hashes: list[str],
    lines_sha256: str,
    public_key: Ed25519PublicKey | None,
    first_gap: str,
) -> bool:
    """Check the signature first, so the filters that excuse gaps between lines are trusted."""
    manifest = record.get("manifest")
    if not isinstance(manifest, dict):
        raise _BadExport(f"line {number}: manifest is not a JSON object")
    signed = _check_signature(manifest, record.get("signature"), number, public_key)
    filters = manifest.get("filters")
    if first_gap and not (isinstance(filters, dict) and any(filters.values())):
        raise _BadExport(first_gap)
    expected = {
        "count": len(hashes),
        "first_hash": hashes[0] if hashes else "",
        "last_hash": hashes[-1] if hashes else "",
        "lines_sha256": lines_sha256,
    }
    for key, value in expected.items():
        if manifest.get(key) != value:
            raise _BadExport(f"line {number}: manifest {key} is {manifest.get(key)!r} but the event lines give {value!r}")
    return signed


def _check_signature(manifest: dict[str, Any], signature: object, number: int, public_key: Ed25519PublicKey | None) -> bool:
    if public_key is None:
        return False
    if not isinstance(signature, dict) or signature.get("algorithm") != SIGNATURE_ALGORITHM:
        raise _BadExport(f"line {number}: the manifest has no {SIGNATURE_ALGORITHM} signature; export with a signing key configured")
    try:
        public_key.verify(base64.b64decode(str(signature.get("value", "")), validate=True), canonical_json(manifest))
    except (InvalidSignature, binascii.Error) as error:
        raise _BadExport(f"line {number}: the manifest signature does not match the public key; the manifest was altered or signed by another key") from error
    return True
