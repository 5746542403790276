from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from zicht_notify.domain import (
    DEFAULT_RETRY_POLICY,
    DeliveryVerdict,
    Jitter,
    RetryPolicy,
    classify,
    next_attempt_at,
    parse_retry_after,
)

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
EXACT = RetryPolicy(jitter=Jitter.NONE)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        *[(s, DeliveryVerdict.DELIVERED) for s in (200, 201, 202, 204, 299)],
        *[(s, DeliveryVerdict.RETRY) for s in (408, 429, 500, 502, 503, 504, 599)],
        *[(s, DeliveryVerdict.FAILED) for s in (400, 401, 403, 404, 410, 413, 422, 499)],
        *[(s, DeliveryVerdict.FAILED) for s in (300, 301, 302, 304, 307, 308)],
        (100, DeliveryVerdict.FAILED),
    ],
)
def test_an_answer_is_delivered_retried_or_failed_by_its_status(
    status: int, verdict: DeliveryVerdict
) -> None:
    assert classify(status, timed_out=False, connection_error=False) is verdict


@pytest.mark.parametrize(
    ("status", "timed_out", "connection_error"),
    [(None, True, False), (None, False, True), (None, False, False), (200, True, False)],
)
def test_a_timeout_or_connection_error_is_retried(
    status: int | None, timed_out: bool, connection_error: bool
) -> None:
    verdict = classify(status, timed_out=timed_out, connection_error=connection_error)

    assert verdict is DeliveryVerdict.RETRY


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("-5", timedelta(0)),
        ("Tue, 04 Mar 2025 09:01:30 GMT", timedelta(seconds=90)),  # IMF-fixdate
        ("Tuesday, 04-Mar-25 09:01:30 GMT", timedelta(seconds=90)),  # obsolete RFC 850
        ("Tue Mar  4 09:01:30 2025", timedelta(seconds=90)),  # asctime
        ("Tue, 04 Mar 2025 08:00:00 GMT", timedelta(0)),  # in the past
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str, wait: timedelta) -> None:
    assert parse_retry_after(header, T0) == wait


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "1.5", "12abc", "Tue, 99 Foo"])
def test_an_absent_or_unreadable_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header, T0) is None


def schedule(policy: RetryPolicy, rng: random.Random) -> list[datetime]:
    """The moments of every attempt when the receiver never answers well."""
    attempts = [T0]
    while True:
        due = policy.next_attempt_at(len(attempts), attempts[-1], None, rng, first_attempt_at=T0)
        if due is None:
            return attempts
        attempts.append(due)


def test_the_default_schedule_makes_10_attempts_over_about_24_hours() -> None:
    exact = schedule(EXACT, random.Random(1))

    assert len(exact) == 10
    assert timedelta(hours=20) <= exact[-1] - T0 <= timedelta(hours=24)
    assert exact[1] - exact[0] == timedelta(seconds=30)
    waits = [later - earlier for earlier, later in itertools.pairwise(exact)]
    assert waits == sorted(waits)  # exponential, then capped
    assert max(waits) == DEFAULT_RETRY_POLICY.cap
    assert EXACT.schedule_span() == exact[-1] - T0


@pytest.mark.parametrize("seed", range(20))
def test_with_jitter_every_attempt_still_happens_within_the_window(seed: int) -> None:
    jittered = schedule(DEFAULT_RETRY_POLICY, random.Random(seed))

    assert len(jittered) == 10
    assert jittered[-1] - T0 <= timedelta(hours=24)
    assert jittered[-1] - T0 >= EXACT.schedule_span() / 2  # equal jitter keeps half of it


def test_a_seeded_rng_gives_the_same_schedule_and_another_seed_another() -> None:
    assert schedule(DEFAULT_RETRY_POLICY, random.Random(7)) == schedule(
        DEFAULT_RETRY_POLICY, random.Random(7)
    )
    assert schedule(DEFAULT_RETRY_POLICY, random.Random(7)) != schedule(
        DEFAULT_RETRY_POLICY, random.Random(8)
    )


@pytest.mark.parametrize(
    ("jitter", "low", "high"),
    [(Jitter.EQUAL, 0.5, 1.0), (Jitter.FULL, 0.0, 1.0), (Jitter.NONE, 1.0, 1.0)],
)
def test_jitter_keeps_a_wait_within_its_share_of_the_nominal_wait(
    jitter: Jitter, low: float, high: float
) -> None:
    policy = RetryPolicy(jitter=jitter)
    rng = random.Random(3)
    nominal = policy.backoff(4)

    waits = [
        policy.next_attempt_at(4, T0, None, rng, first_attempt_at=T0) - T0  # type: ignore[operator]
        for _ in range(200)
    ]

    assert all(nominal * low <= wait <= nominal * high for wait in waits)


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    due = EXACT.next_attempt_at(1, T0, timedelta(minutes=20), random.Random(1), first_attempt_at=T0)

    assert due == T0 + timedelta(minutes=20)


def test_a_shorter_retry_after_does_not_shorten_the_backoff() -> None:
    due = EXACT.next_attempt_at(3, T0, timedelta(seconds=1), random.Random(1), first_attempt_at=T0)

    assert due == T0 + EXACT.backoff(3)


def test_retry_after_is_capped_at_the_policys_cap() -> None:
    due = EXACT.next_attempt_at(1, T0, timedelta(days=3), random.Random(1), first_attempt_at=T0)

    assert due == T0 + EXACT.cap


def test_a_retry_that_would_fall_after_the_window_is_the_last_try_at_its_end() -> None:
    late = T0 + timedelta(hours=23, minutes=30)

    due = EXACT.next_attempt_at(8, late, timedelta(hours=2), random.Random(1), first_attempt_at=T0)

    assert due == T0 + timedelta(hours=24)


def test_after_the_window_there_is_no_next_attempt() -> None:
    after = T0 + timedelta(hours=24)

    assert EXACT.next_attempt_at(5, after, None, random.Random(1), first_attempt_at=T0) is None


def test_after_the_last_attempt_there_is_no_next_attempt() -> None:
    assert EXACT.next_attempt_at(10, T0, None, random.Random(1), first_attempt_at=T0) is None
    assert RetryPolicy(max_attempts=3).next_attempt_at(3, T0, None, random.Random(1)) is None


def test_without_the_first_attempts_moment_the_window_is_kept_by_the_nominal_schedule() -> None:
    policy = RetryPolicy(window=timedelta(hours=1), jitter=Jitter.NONE)
    attempts = [T0]
    while (
        due := policy.next_attempt_at(len(attempts), attempts[-1], None, random.Random(1))
    ) is not None:
        attempts.append(due)

    assert attempts[-1] - T0 <= timedelta(hours=1)
    assert len(attempts) < policy.max_attempts


def test_the_module_function_uses_the_default_policy_unless_given_one() -> None:
    rng = random.Random(5)

    assert next_attempt_at(10, T0, None, rng) is None
    assert next_attempt_at(1, T0, None, rng, policy=EXACT) == T0 + timedelta(seconds=30)


@pytest.mark.parametrize(
    "settings",
    [
        {"max_attempts": 0},
        {"base": timedelta(0)},
        {"cap": timedelta(seconds=1)},
        {"window": timedelta(0)},
        {"multiplier": 0.5},
    ],
)
def test_a_policy_that_cannot_make_a_schedule_is_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**settings)  # type: ignore[arg-type]


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        EXACT.next_attempt_at(1, datetime(2025, 3, 4, 9, 0), None, random.Random(1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_retry_after("5", datetime(2025, 3, 4, 9, 0))  # noqa: DTZ001
