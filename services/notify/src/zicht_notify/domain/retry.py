"""When to try a webhook again: the verdict on an answer, and exponential backoff with jitter.

Defaults: up to 10 attempts within 24 hours. Waits start at 30 seconds and triple (30 s,
1.5 min, 4.5 min, 13.5 min, 40.5 min, about 2 h, about 6 h), capped at 7 hours, so the nominal
schedule of 10 attempts spans about 23 hours; equal jitter (a wait between half and all of the
nominal one) spreads receivers that failed together and can only shorten it. Quick first
retries cover a blip; the later ones an outage of a working day.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Final

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "DeliveryVerdict",
    "Jitter",
    "RetryPolicy",
    "classify",
    "next_attempt_at",
    "parse_retry_after",
]

_RETRY_STATUSES: Final = frozenset({408, 429})
_SECONDS: Final = re.compile(r"^-?[0-9]{1,15}$")
# Any Retry-After is capped by the policy later; this bound only keeps timedelta in range.
_LONGEST_RETRY_AFTER: Final = timedelta(days=3650)


class DeliveryVerdict(StrEnum):
    """What one delivery attempt came to."""

    DELIVERED = "delivered"
    """2xx: the receiver has it."""
    RETRY = "retry"
    """408, 429, 5xx, a timeout or a connection error: try again later."""
    FAILED = "failed"
    """Any other answer (other 4xx, 3xx, 1xx): trying again would not help."""


class Jitter(StrEnum):
    """How a wait is randomised."""

    NONE = "none"
    """The nominal wait, exactly (tests, reasoning about the schedule)."""
    EQUAL = "equal"
    """Half the nominal wait plus a random share of the other half."""
    FULL = "full"
    """A random wait between zero and the nominal one."""


def _success(status: int) -> bool:
    return 200 <= status <= 299  # noqa: PLR2004  # the 2xx class


def _server_error(status: int) -> bool:
    return 500 <= status <= 599  # noqa: PLR2004  # the 5xx class


def classify(status: int | None, *, timed_out: bool, connection_error: bool) -> DeliveryVerdict:
    """The verdict on one attempt.

    A 3xx is a failure: notify does not follow redirects (the subscribed URL must be the
    endpoint; following could send a signed alert to another host), and asking again would
    get the same redirect. No status without a timeout or connection error (nothing was
    heard) counts as a connection error.

    Args:
        status: The HTTP status, or None when no answer came.
        timed_out: The receiver did not answer in time.
        connection_error: No connection could be made or it broke.

    Returns:
        DELIVERED for 2xx; RETRY for 408, 429, 5xx, timeouts and connection errors; FAILED
        for everything else.
    """
    if timed_out or connection_error or status is None:
        return DeliveryVerdict.RETRY
    if _success(status):
        return DeliveryVerdict.DELIVERED
    if status in _RETRY_STATUSES or _server_error(status):
        return DeliveryVerdict.RETRY
    return DeliveryVerdict.FAILED


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """How long a receiver asked to wait (``Retry-After``), or None when it did not say.

    Args:
        value: The header: delay-seconds or an HTTP-date; None when absent.
        now: The moment the answer came (timezone-aware), for an HTTP-date.

    Returns:
        The wait, at least zero (a negative number or a date in the past means now); None for
        an absent, empty or unreadable header.
    """
    _aware(now, "now")
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        seconds = max(0, int(text))
        return min(timedelta(seconds=seconds), _LONGEST_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # "-0000" means UTC without saying where
    return min(max(when - now, timedelta(0)), _LONGEST_RETRY_AFTER)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long notify keeps trying one alert."""

    max_attempts: int = 10
    """Attempts in all, the first one included."""
    window: timedelta = timedelta(hours=24)
    """How long after the first attempt retries may happen."""
    base: timedelta = timedelta(seconds=30)
    """The nominal wait after the first failed attempt."""
    multiplier: float = 3.0
    """Each next nominal wait is this many times the previous one."""
    cap: timedelta = timedelta(hours=7)
    """The longest wait between two attempts, Retry-After included."""
    jitter: Jitter = Jitter.EQUAL
    """How waits are randomised."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base <= timedelta(0) or self.cap < self.base or self.window <= timedelta(0):
            raise ValueError("base and window must be positive and cap at least base")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def backoff(self, attempt: int) -> timedelta:
        """The nominal wait after failed attempt ``attempt`` (1-based), before jitter."""
        if attempt < 1:
            raise ValueError("attempts are counted from 1")
        # Compare in seconds before multiplying out, so huge attempts cannot overflow.
        cap_s = self.cap.total_seconds()
        wait_s = self.base.total_seconds()
        for _ in range(attempt - 1):
            wait_s *= self.multiplier
            if wait_s >= cap_s:
                return self.cap
        return timedelta(seconds=wait_s)

    def schedule_span(self) -> timedelta:
        """The nominal time from the first to the last attempt when every attempt fails."""
        return sum((self.backoff(n) for n in range(1, self.max_attempts)), timedelta(0))

    def next_attempt_at(
        self,
        attempt: int,
        now: datetime,
        retry_after: timedelta | None,
        rng: random.Random,
        *,
        first_attempt_at: datetime | None = None,
    ) -> datetime | None:
        """When to try again after failed attempt ``attempt``, or None to give up.

        Args:
            attempt: How many attempts were made (1 after the first failed).
            now: When that attempt failed (timezone-aware).
            retry_after: The receiver's ``Retry-After``, if any: the wait is at least this,
                capped at the policy's ``cap``.
            rng: The randomness for jitter; a seeded one gives a reproducible schedule.
            first_attempt_at: When the first attempt was made, to keep within the window.
                When unknown, it is estimated from the nominal schedule, which (without
                Retry-After) lies at or before the real one, so the window is never exceeded.

        Returns:
            The moment of the next attempt; a retry that would fall after the window is moved
            to the window's end (one last try). None when ``max_attempts`` were made or the
            window has passed.
        """
        _aware(now, "now")
        if attempt < 1:
            raise ValueError("attempts are counted from 1")
        if attempt >= self.max_attempts:
            return None
        if first_attempt_at is None:
            elapsed = sum((self.backoff(n) for n in range(1, attempt)), timedelta(0))
            first_attempt_at = now - elapsed
        deadline = _aware(first_attempt_at, "first_attempt_at") + self.window
        if now >= deadline:
            return None
        wait = self._jittered(self.backoff(attempt), rng)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return min(now + wait, deadline)

    def _jittered(self, nominal: timedelta, rng: random.Random) -> timedelta:
        if self.jitter is Jitter.FULL:
            return nominal * rng.random()
        if self.jitter is Jitter.EQUAL:
            return nominal / 2 + (nominal / 2) * rng.random()
        return nominal


DEFAULT_RETRY_POLICY: Final = RetryPolicy()
"""10 attempts within 24 hours, 30 s tripling to a 7 h cap, equal jitter."""


def next_attempt_at(
    attempt: int,
    now: datetime,
    retry_after: timedelta | None,
    rng: random.Random,
    *,
    first_attempt_at: datetime | None = None,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> datetime | None:
    """:meth:`RetryPolicy.next_attempt_at` of ``policy`` (the default policy unless given)."""
    return policy.next_attempt_at(attempt, now, retry_after, rng, first_attempt_at=first_attempt_at)
