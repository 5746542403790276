"""The ports the triage service depends on; adapters implement them, tests fake them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Clock"]


class Clock(Protocol):
    """The time, injectable so tests can move it."""

    def now(self) -> datetime:
        """The current moment, timezone-aware UTC."""
