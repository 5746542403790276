"""Metrics count committed work: after_commit actions run when the scope ends cleanly only."""

from __future__ import annotations

import pytest
from opentelemetry.metrics import Histogram

from support.metrics import in_memory_meter, metric_values, rolled_back
from zicht_runtime.telemetry import after_commit, commit_scope, timed_stage

pytestmark = pytest.mark.unit


def test_outside_a_scope_an_action_runs_at_once() -> None:
    done: list[str] = []
    after_commit(lambda: done.append("counted"))
    assert done == ["counted"]


def test_inside_a_scope_an_action_waits_for_the_end_of_the_block() -> None:
    done: list[str] = []
    with commit_scope():
        after_commit(lambda: done.append("counted"))
        assert done == [], "nothing counts before the commit"
    assert done == ["counted"]


def test_a_block_that_raises_counts_nothing() -> None:
    done: list[str] = []
    rolled_back(lambda: after_commit(lambda: done.append("counted")))
    assert done == []
    after_commit(lambda: done.append("later"))
    assert done == ["later"], "the scope is gone after the block"


async def _savepoint_of_a_poison_message(done: list[str]) -> None:
    async with commit_scope():
        after_commit(lambda: done.append("dead-lettered message"))
        raise ValueError("poison")


async def test_a_rolled_back_savepoint_drops_its_counts_and_the_rest_counts_at_the_commit() -> None:
    done: list[str] = []
    async with commit_scope():
        async with commit_scope():
            after_commit(lambda: done.append("first message"))
        with pytest.raises(ValueError, match="poison"):
            await _savepoint_of_a_poison_message(done)
        assert done == [], "a savepoint's counts wait for the whole transaction"
    assert done == ["first message"]


def _fail_in_stage(histogram: Histogram) -> None:
    with timed_stage(histogram, "assess"):
        raise KeyError("x")


def test_a_stage_is_timed_also_when_it_fails() -> None:
    provider, reader = in_memory_meter()
    histogram = provider.get_meter("test").create_histogram("zicht.stage.duration", unit="s")
    with timed_stage(histogram, "assess"):
        pass
    with pytest.raises(KeyError, match="x"):
        _fail_in_stage(histogram)
    assert metric_values(reader)[("zicht.stage.duration", (("zicht.stage", "assess"),))] == 2
