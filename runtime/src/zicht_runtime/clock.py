"""The time a service's use cases read: a Protocol tests can fake, and the machine's clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """The time, injectable so tests can move it."""

    def now(self) -> datetime:
        """The current moment, timezone-aware UTC."""


class SystemClock:
    """Reads the machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current moment."""
        return datetime.now(UTC)
