"""A provider's story gathers signals, decisions, score and alerts about that provider only.

The services are stood in for by an in-memory fake behind ``httpx.MockTransport``; like the
current intake and notify, it ignores the provider filter, which the story must notice.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from zicht_demo.__main__ import main
from zicht_demo.client import Endpoints, Keys, ZichtClient, load_keys
from zicht_demo.region import build_region
from zicht_demo.story import gather_story, render_story

pytestmark = pytest.mark.unit

OURS = "demo-0007"
SUBMISSIONS: dict[str, dict[str, Any]] = {
    "s-ours": {
        "source": "police",
        "received_at": "2026-03-16T09:00:00+00:00",
        "status": "accepted",
        "items": [
            {
                "status": "accepted",
                "partner_reference": "PL0601-2026000001",
                "signal_id": "sig-ours",
                "provider_id": OURS,
            }
        ],
    },
    "s-other": {
        "source": "igj",
        "received_at": "2026-03-16T09:01:00+00:00",
        "status": "accepted",
        "items": [{"status": "accepted", "signal_id": "sig-other", "provider_id": "demo-0008"}],
    },
}
DECISION = {
    "outcome": "criminal_referral",
    "priority": "P1",
    "strategy": None,
    "framework_version": "2025.1",
    "rules_fired": [
        {
            "rule_id": "R4",
            "text_en": "Crime indicators: criminal referral",
            "inputs": {"raid": True},
        }
    ],
}
RISK = {
    "provider_id": OURS,
    "name": "Stichting Proefzorg Noord 7",
    "kvk": "99100007",
    "score": 75.0,
    "level": "red",
    "model_version": "2025.1",
    "evaluated_at": "2026-03-16T09:00:05+00:00",
    "contributions": [
        {"kind": "signal", "ref": "sig-ours", "points": 45.0, "explanation_en": "criminal referral"}
    ],
    "history": [
        {"evaluated_at": "2026-03-16T09:00:05+00:00", "level": "red", "previous_level": "orange",
         "score": 75.0, "previous_score": 30.0, "reason": "event"},
    ],
}  # fmt: skip
DELIVERIES = [
    {"provider_id": OURS, "subscriber": {"kind": "casus_table", "id": "riec-on-zorgfraude"},
     "source_event_type": "nl.zorgtoezicht.signal.assessed.v1",
     "rule_id": "assessed-criminal-referral", "state": "delivered", "attempts": 1,
     "created_at": "2026-03-16T09:00:06+00:00"},
    {"provider_id": "demo-0008", "subscriber": {"kind": "municipality", "id": "GM0106"},
     "source_event_type": "nl.zorgtoezicht.provider.risk-changed.v1", "rule_id": "risk-rise-red",
     "state": "delivered", "attempts": 1, "created_at": "2026-03-16T09:00:07+00:00"},
]  # fmt: skip


def handle(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    answers: dict[str, Any] = {
        # Like today's intake and notify: the provider filter is not applied.
        "/v1/submissions": {"submissions": [{"submission_id": s} for s in SUBMISSIONS]},
        "/v1/signals/sig-ours/assessment": DECISION,
        "/v1/investigations": {"investigations": []},
        f"/v1/providers/{OURS}/risk": RISK,
        "/v1/deliveries": {
            "deliveries": [d for d in DELIVERIES if d["state"] == request.url.params.get("state")]
        },
    }
    if path.startswith("/v1/submissions/"):
        return httpx.Response(200, json=SUBMISSIONS[path.rsplit("/", 1)[1]])
    if path in answers:
        return httpx.Response(200, json=answers[path])
    return httpx.Response(404, json={"title": "not found"})


KEYS = Keys(intake_operator="k", triage_supervisor="k", scoring_reader="k", notify_operator="k")


async def test_the_story_holds_only_the_providers_signals_and_alerts() -> None:
    region = build_region(1, 20, today=date(2026, 3, 16))
    async with ZichtClient(Endpoints(), KEYS, transport=httpx.MockTransport(handle)) as client:
        story = await gather_story(client, OURS, region=region)
    assert [s.signal_id for s in story.signals] == ["sig-ours"]
    assert story.signals[0].decision == DECISION
    assert story.signals[0].reference == "PL0601-2026000001"
    assert [a["subscriber"]["id"] for a in story.alerts] == ["riec-on-zorgfraude"]
    assert story.risk is not None
    assert story.registered is not None
    assert story.registered.provider_id == OURS
    # The filters were ignored: the story says it may be incomplete.
    assert any("intake ignored the provider filter" in p for p in story.problems)
    assert any("notify ignored the provider filter" in p for p in story.problems)


async def test_the_printed_story_explains_why_the_provider_is_red() -> None:
    async with ZichtClient(Endpoints(), KEYS, transport=httpx.MockTransport(handle)) as client:
        story = await gather_story(client, OURS)
    console = Console(record=True, width=200)
    render_story(story, console)
    text = console.export_text()
    assert "75.0 RED" in text
    assert "R4: Crime indicators: criminal referral [raid=True]" in text
    assert "criminal_referral" in text
    assert "orange -> red (30.0 -> 75.0)" in text
    assert "riec-on-zorgfraude" in text
    assert "not a provider of the demo region" in text


async def test_a_service_that_does_not_answer_leaves_a_line_not_a_traceback() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with ZichtClient(Endpoints(), KEYS, transport=httpx.MockTransport(refuse)) as client:
        story = await gather_story(client, OURS)
    assert story.signals == ()
    assert "intake at http://127.0.0.1:8001 does not answer (ConnectError); is Zicht running?" in (
        story.problems
    )


@pytest.mark.parametrize("command", [["run"], ["story", OURS]])
def test_a_missing_keys_file_is_one_line_and_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    missing = tmp_path / "absent.json"
    assert main([*command, "--keys", str(missing)]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip() == f"zicht-demo: cannot read the keys file {missing}: No such file or directory"
    )


def test_a_keys_file_that_is_not_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "keys.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main(["run", "--keys", str(broken)]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_the_keys_file_the_stack_writes_is_read_whole(tmp_path: Path) -> None:
    written = tmp_path / "keys.json"
    written.write_text(
        json.dumps(
            {
                "intake": {
                    "igj": "k-igj",
                    "police": "k-police",
                    "access_team": {"wijkteam-gm0153": "k-team"},
                    "contract_management": "k-cm",
                    "operator": "k-op",
                },
                "triage": {"supervisor": "k-sup"},
                "scoring": {"reader": "k-read"},
                "notify": {"operator": "k-nop", "subscribers": {"GM0153": "k-sub"}},
            }
        ),
        encoding="utf-8",
    )
    found = load_keys(written)
    assert found.access_teams == {"wijkteam-gm0153": "k-team"}
    assert (found.contract_management, found.intake_operator) == ("k-cm", "k-op")
    assert (found.triage_supervisor, found.scoring_reader, found.notify_operator) == (
        "k-sup",
        "k-read",
        "k-nop",
    )
    assert found.subscribers == {"GM0153": "k-sub"}
