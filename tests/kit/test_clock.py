from datetime import UTC, datetime, timedelta

import pytest

from zicht_runtime.clock import Clock, SystemClock

pytestmark = pytest.mark.unit


def test_the_system_clock_tells_the_time_in_utc_with_its_zone() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)
