"""What a partner reads back about a submission and each of its parts (docs/partners/README.md).

One vocabulary for the ``202`` answer, ``GET /v1/submissions`` and ``GET /v1/submissions/{id}``;
the contract tests hold the partner docs to these values.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ItemStatus", "SubmissionStatus"]


class SubmissionStatus(StrEnum):
    """What became of a submission as a whole."""

    RECEIVED = "received"
    """Stored, not yet processed (within the transaction that stores it; not normally seen)."""
    ACCEPTED = "accepted"
    """Every part was accepted."""
    PARTIALLY_ACCEPTED = "partially_accepted"
    """Some parts (CSV rows, providers, reports) were accepted, others rejected."""
    REJECTED = "rejected"
    """Nothing was accepted."""


class ItemStatus(StrEnum):
    """What became of one part: a signal, a CSV row, a provider or an indicator report."""

    ACCEPTED = "accepted"
    """Kept, and passed on (a signal: to triage; a provider or report: to the registry)."""
    NEEDS_PROVIDER = "needs_provider"
    """A signal kept, waiting until its provider is identified (a registry entry or an
    operator names it); then it is passed on and becomes ``accepted``."""
    REJECTED = "rejected"
    """Refused, with its rejections."""
