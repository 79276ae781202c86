"""Severity of rules, findings and alerts."""

from __future__ import annotations

import enum


class Severity(enum.IntEnum):
    """Severity, ordered so that `Severity.ERROR > Severity.WARNING` holds."""

    INFO = 1
    WARNING = 2
    ERROR = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """The lowercase name used in policy YAML and messages, such as `critical`."""
        return self.name.lower()
