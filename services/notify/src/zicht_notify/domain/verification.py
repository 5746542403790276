"""Verifying a callback before it is trusted with alerts: two test deliveries, judged.

When a subscription is created or its URL or secret changes, notify sends one test delivery
twice, with the same ``webhook-id`` and body:

1. **signed**: signed with the subscription's secret, as every alert will be. The receiver
   must answer 2xx.
2. **wrong signature**: signed with a secret nobody holds. The receiver must refuse it with a
   4xx, as it must refuse any webhook whose signature does not verify; a receiver that
   accepts it would accept a forged alert.

The body is a CloudEvent of type ``nl.zorgtoezicht.webhook.verification.v1`` that says this in
plain words, so whoever looks at the receiver's log sees what is asked of it. Its model
(:class:`~zicht_schemas.VerificationV1`) is a published contract and lives in
``zicht_schemas``; it is re-exported here. This module builds the data and judges the answers;
the HTTP calls are the service's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from zicht_notify.domain.recipients import Recipient
from zicht_notify.domain.retry import DeliveryVerdict, classify
from zicht_schemas import VERIFICATION_EVENT_TYPE, VerificationV1

__all__ = [
    "VERIFICATION_EVENT_TYPE",
    "Heard",
    "StepResult",
    "VerificationStep",
    "VerificationV1",
    "judge",
    "verification_data",
    "verification_webhook_id",
]


class VerificationStep(StrEnum):
    """The two test deliveries, in the order they are sent."""

    SIGNED = "signed_delivery"
    """Correctly signed: must get a 2xx."""
    WRONG_SIGNATURE = "wrong_signature"
    """Signed with a secret nobody holds: must get a 4xx."""


def verification_data(
    subscription_id: UUID, subscriber: Recipient, requested_at: datetime
) -> VerificationV1:
    """The data of one verification delivery."""
    return VerificationV1(
        subscription_id=subscription_id,
        subscriber_kind=subscriber.kind,
        subscriber_id=subscriber.id,
        requested_at=requested_at,
    )


def verification_webhook_id(check_id: UUID) -> str:
    """The ``webhook-id`` of a verification: ``verify_<hex>``, never an alert's ``msg_`` id."""
    return f"verify_{check_id.hex}"


@dataclass(frozen=True, slots=True)
class Heard:
    """What came back from one test delivery."""

    status: int | None = None
    """The HTTP status; None when no answer came."""
    timed_out: bool = False
    """The receiver did not answer within the time allowed."""
    error: str | None = None
    """Why no answer came (connection refused, a TLS failure, ...), when none came."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step of the verification with its verdict in plain words."""

    step: VerificationStep
    passed: bool
    status: int | None
    detail: str

    def as_json(self) -> dict[str, object]:
        """The step as the API shows it."""
        return {
            "step": self.step.value,
            "passed": self.passed,
            "status": self.status,
            "detail": self.detail,
        }


def _no_answer(heard: Heard, timeout_s: float) -> str:
    if heard.timed_out:
        return f"the endpoint did not answer within {timeout_s:g} seconds"
    return f"no connection could be made to the endpoint ({heard.error or 'connection error'})"


def judge(step: VerificationStep, heard: Heard, timeout_s: float) -> StepResult:
    """The verdict on one step, worded for the subscriber who has to fix it.

    Args:
        step: Which test delivery was answered.
        heard: What came back.
        timeout_s: The time the receiver had, to name it when it ran out.

    Returns:
        Passed, or failed with the reason and what to change.
    """
    status = heard.status
    if status is None:
        detail = _no_answer(heard, timeout_s)
        if step is VerificationStep.SIGNED:
            detail += "; alerts can only be sent to an endpoint that answers"
        return StepResult(step, passed=False, status=None, detail=detail)
    verdict = classify(status, timed_out=False, connection_error=False)
    if step is VerificationStep.SIGNED:
        if verdict is DeliveryVerdict.DELIVERED:
            return StepResult(
                step, passed=True, status=status, detail="a correctly signed delivery was accepted"
            )
        hint = (
            " (does the receiver hold this subscription's secret? A receiver that refuses a "
            "correct signature will refuse every alert)"
            if 400 <= status <= 499  # noqa: PLR2004  # the 4xx class
            else ""
        )
        return StepResult(
            step,
            passed=False,
            status=status,
            detail=f"a correctly signed delivery was answered {status}; it must get a 2xx{hint}",
        )
    if 400 <= status <= 499:  # noqa: PLR2004  # the 4xx class
        return StepResult(
            step, passed=True, status=status, detail="a delivery with a wrong signature was refused"
        )
    if verdict is DeliveryVerdict.DELIVERED:
        detail = (
            f"a delivery with a wrong signature was accepted ({status}); the receiver must check "
            "webhook-signature and refuse what does not verify, or anyone could send it alerts"
        )
    else:
        detail = (
            f"a delivery with a wrong signature was answered {status}; refuse it with a 4xx "
            "(401 or 403), so it is not mistaken for an outage and retried"
        )
    return StepResult(step, passed=False, status=status, detail=detail)
