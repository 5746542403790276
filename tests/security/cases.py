"""The synthetic cases the security tests attack, made the way the chain makes them: by events.

Each helper publishes what an upstream service would (a provider in Enschede, a calamity about
it, an annual-accounts report) and waits until the service under attack has stored its result.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from kit.helpers import wait_for
from notify.integration.test_notify_delivery import assessed
from scoring.integration.test_scoring_pipeline import indicators
from security.support import Running
from triage.integration.test_triage_pipeline import provider, publish, signal
from zicht_schemas import Outcome, new_event, source_urn

__all__ = [
    "Investigation",
    "investigation_in_enschede",
    "new_provider_id",
    "provider_known",
    "scored_provider",
    "signal_assessed",
]

UPSTREAM = source_urn("00000001000000000000", "security-test")


def new_provider_id() -> str:
    """A provider id no other test uses."""
    return f"prv-sec-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Investigation:
    """An open investigation of a provider in Enschede (Twente), opened by a calamity."""

    provider_id: str
    investigation_id: UUID
    assessment_id: UUID
    signal_id: UUID


async def investigation_in_enschede(triage: Running) -> Investigation:
    """A provider in Enschede and a calamity about it, once triage opened an investigation."""
    pid = new_provider_id()
    calamity = signal(pid, category="calamity", severity="high", vulnerable_group="youth",
                      law="jeugdwet")  # fmt: skip
    await publish(triage.bootstrap, new_event(provider(pid, "GM0153"), source=UPSTREAM))
    await wait_for(
        lambda: _exists(triage, "SELECT 1 FROM providers WHERE provider_id = $1", pid),
        within=60, what="triage to know the provider",
    )  # fmt: skip
    await publish(triage.bootstrap, new_event(calamity, source=UPSTREAM))
    query = "SELECT 1 FROM investigations WHERE provider_id = $1 AND state = 'open'"
    await wait_for(lambda: _exists(triage, query, pid), within=60, what="the investigation")
    row = await triage.pool.fetchrow(
        "SELECT i.investigation_id, a.assessment_id FROM investigations i "
        "JOIN assessments a ON a.signal_id = $2 AND a.current WHERE i.provider_id = $1",
        pid,
        calamity.signal_id,
    )
    assert row is not None
    return Investigation(pid, row["investigation_id"], row["assessment_id"], calamity.signal_id)


async def scored_provider(scoring: Running) -> str:
    """A provider in Enschede with a risk score (orange: indicators of an annual report)."""
    pid = new_provider_id()
    await publish(scoring.bootstrap, new_event(provider(pid, "GM0153"), source=UPSTREAM))
    report = indicators(pid, diploma_fraud=True, personnel_cost_ratio=0.4)
    await publish(scoring.bootstrap, new_event(report, source=UPSTREAM))
    await wait_for(
        lambda: _exists(scoring, "SELECT 1 FROM risk WHERE provider_id = $1", pid),
        within=60, what="scoring to score the provider",
    )  # fmt: skip
    return pid


async def provider_known(notify: Running) -> str:
    """A provider in Enschede, once notify knows whom it relates to."""
    pid = new_provider_id()
    await publish(notify.bootstrap, new_event(provider(pid, "GM0153"), source=UPSTREAM))
    await wait_for(
        lambda: _exists(notify, "SELECT 1 FROM providers WHERE provider_id = $1", pid),
        within=60, what="notify to know the provider",
    )  # fmt: skip
    return pid


async def signal_assessed(notify: Running, provider_id: str) -> None:
    """Triage's decision to investigate a calamity at the provider (an alert for Enschede)."""
    event = new_event(assessed(provider_id, Outcome.INVESTIGATE), source=UPSTREAM)
    await publish(notify.bootstrap, event)


async def _exists(service: Running, query: str, *args: object) -> bool:
    return bool(await service.pool.fetchval(query, *args))
