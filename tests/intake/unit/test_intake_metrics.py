"""Intake counts the signals partners submit and those it refuses, by reason, once committed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from support.metrics import in_memory_meter, metric_values, rolled_back
from zicht_intake.domain import Rejection
from zicht_intake.metrics import IntakeMetrics
from zicht_intake.service import ItemResult, SubmissionOutcome, signal_tally
from zicht_runtime.telemetry import commit_scope
from zicht_schemas import RejectionCode

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 12, 14, 5, tzinfo=UTC)
MISSING = Rejection(RejectionCode.MISSING_FIELD, "a required field is absent", pointer="/wet")
BSN = Rejection(RejectionCode.PERSONAL_DATA_NOT_ALLOWED, "personal data", row=3, column="x")


def outcome(*items: ItemResult, **kwargs: object) -> SubmissionOutcome:
    return SubmissionOutcome(uuid.uuid4(), "accepted", NOW, items=items, **kwargs)  # type: ignore[arg-type]  # test shorthand


def test_a_file_counts_every_row_and_each_refused_row_under_its_first_reason() -> None:
    rows = (
        ItemResult(2, "K-1", "accepted"),
        ItemResult(3, "K-2", "rejected", rejections=(BSN, MISSING)),
        ItemResult(4, "K-3", "needs_provider"),
        ItemResult(5, "K-4", "rejected", rejections=(MISSING,)),
    )
    received, rejected = signal_tally(outcome(*rows))
    assert received == 4
    assert rejected == {"personal_data_not_allowed": 1, "missing_field": 1}


def test_a_submission_refused_as_a_whole_is_one_refused_signal() -> None:
    refused = SubmissionOutcome(uuid.uuid4(), "rejected", NOW, rejections=(MISSING,))
    assert signal_tally(refused) == (1, {"missing_field": 1})


def test_a_replayed_submission_is_nothing_new() -> None:
    replay = outcome(ItemResult(0, "IGJ-1", "accepted"), replayed=True)
    assert signal_tally(replay) == (0, {})


def test_signals_count_with_source_and_channel_once_the_transaction_commits() -> None:
    provider, reader = in_memory_meter()
    metrics = IntakeMetrics.on(provider.get_meter("test"))
    with commit_scope():
        metrics.signals("police", "http", 3, {"invalid_value": 1})
        assert metric_values(reader) == {}, "nothing counts before the commit"
    rolled_back(lambda: metrics.signals("police", "http", 5, {"invalid_value": 5}))
    values = metric_values(reader)
    where = (("zicht.channel", "http"), ("zicht.source", "police"))
    assert values[("zicht.signals.received", where)] == 3
    refused = (*where, ("zicht.rejection_code", "invalid_value"))
    assert values[("zicht.signals.rejected", tuple(sorted(refused)))] == 1
