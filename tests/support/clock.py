"""A clock tests set by hand, injected where services take a ``Clock``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["SteppingClock"]


class SteppingClock:
    """A clock the test sets; starts at a fixed synthetic moment."""

    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = moment or datetime(2026, 3, 16, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The moment the test set."""
        return self.moment

    def advance(self, by: timedelta) -> None:
        """Move the clock forward."""
        self.moment += by
