"""The subscriber guide (docs/partners/webhooks.md) states notify's behaviour as notify has it.

Its retry table is the default retry policy's schedule, and the failed verification it shows
is what notify's judge says for that answer.
"""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from support.markdown_tables import tables_under
from zicht_notify.domain import DEFAULT_RETRY_POLICY, Heard, VerificationStep, judge

pytestmark = pytest.mark.unit

GUIDE = (Path(__file__).resolve().parents[3] / "docs" / "partners" / "webhooks.md").read_text(
    encoding="utf-8"
)


def test_the_retry_table_is_the_default_retry_schedule() -> None:
    (table,) = tables_under(GUIDE, "### Retry schedule")
    policy = DEFAULT_RETRY_POLICY

    waits = [row["nominal wait before it"] for row in table]
    since_first = [row["nominal time since the first"] for row in table]
    expected = [policy.backoff(n) for n in range(1, policy.max_attempts)]

    assert [row["attempt"] for row in table] == [str(n) for n in range(1, 11)]
    assert len(table) == policy.max_attempts
    assert waits[1:] == [str(wait) for wait in expected]
    assert since_first == [str(sum(expected[:n], timedelta())) for n in range(len(table))]
    assert policy.schedule_span() < policy.window == timedelta(hours=24)


def test_the_failed_verification_shown_is_what_notify_says_for_that_answer() -> None:
    (problem,) = [
        document
        for document in map(json.loads, re.findall(r"```json\n(.*?)```", GUIDE, re.DOTALL))
        if document.get("type") == "urn:zicht:problem:callback-not-verified"
    ]
    steps = [
        judge(VerificationStep.SIGNED, Heard(status=204), 5),
        judge(VerificationStep.WRONG_SIGNATURE, Heard(status=204), 5),
    ]

    assert problem["steps"] == [step.as_json() for step in steps]
    assert problem["detail"] == f"Step wrong_signature: {steps[1].detail}."
    assert problem["errors"] == [
        {"code": "wrong_signature", "pointer": "/url", "detail": steps[1].detail}
    ]
