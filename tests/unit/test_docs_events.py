"""docs/events.md describes every event message the services publish."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelward_protos.events.v1 import access_events_pb2, governance_events_pb2, registry_events_pb2

REPO = Path(__file__).resolve().parents[2]
EVENTS_DOC = REPO / "docs" / "events.md"

# Messages that are parts of other payloads, not events of their own.
EMBEDDED = {"OrphanReason", "MonitoredWindow"}


def _documented_rows() -> set[str]:
    text = EVENTS_DOC.read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([A-Za-z]+)` \|", text, flags=re.MULTILINE))


@pytest.mark.parametrize(
    "module", [registry_events_pb2, governance_events_pb2, access_events_pb2], ids=["registry", "governance", "access"]
)
def test_events_doc_lists_every_event(module: object) -> None:
    events = set(module.DESCRIPTOR.message_types_by_name) - EMBEDDED  # type: ignore[attr-defined]
    missing = sorted(events - _documented_rows())
    assert missing == [], f"add a row for each of {missing} to the event tables in docs/events.md"
