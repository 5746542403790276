"""The kit keeps a service's background loops running through faults nobody foresaw."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from zicht_runtime.kit import _supervised

pytestmark = pytest.mark.asyncio


async def test_a_loop_that_dies_is_started_again_and_stops_with_the_service(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    runs: list[int] = []

    async def loop(_pool: Any, stopping: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("cannot call Transaction.__aexit__(): connection is closed")
        await stopping.wait()

    caplog.set_level(logging.ERROR, logger="zicht_runtime.kit")
    task = asyncio.create_task(_supervised(loop, None, stop, name="delivery_loop"))  # type: ignore[arg-type]
    for _ in range(100):
        if len(runs) == 2:
            break
        await asyncio.sleep(0.05)
    assert runs == [0, 1], "the loop runs again after it died"
    assert not task.done()
    died = [r for r in caplog.records if "delivery_loop died" in r.getMessage()]
    assert len(died) == 1
    assert died[0].exc_info is not None, "its death is logged with the cause"

    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert runs == [0, 1], "once the service stops it is not started again"


async def test_a_loop_that_returns_before_the_service_stops_is_started_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    runs = 0

    async def loop(_pool: Any, stopping: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs < 2:
            return
        await stopping.wait()

    caplog.set_level(logging.ERROR, logger="zicht_runtime.kit")
    task = asyncio.create_task(_supervised(loop, None, stop, name="levels"))  # type: ignore[arg-type]
    for _ in range(100):
        if runs == 2:
            break
        await asyncio.sleep(0.05)
    assert runs == 2
    assert any("returned early" in r.getMessage() for r in caplog.records)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
