"""End-to-end scenarios on the running chain: decisions, scores, and exactly which alerts arrived.

Each scenario sends partner submissions over HTTP to intake (a process), follows them through
triage, scoring and notify (processes too, on the real broker and Postgres) to the webhook
receiver, and checks what a supervisor sees (triage's API), what scoring says (its API), what
every subscriber received and what notify recorded as undeliverable (Wierden contracts these
providers but has no subscription). Each ends with its reconciliation line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from faults.chain import Chain, eventually, hook_path
from faults.synthetic import (
    ENSCHEDE,
    HENGELO,
    SCENARIO_PROVIDERS,
    WIERDEN,
    PartnerSubmission,
    access_team_csv,
    igj_body,
    police_body,
)
from kit.helpers import wait_for
from zicht_demo.region import AMSTERDAM, Provider

# Service restarts and waits for a quiet chain take a while on two shared cores.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(600)]

GM0153, GM0164 = hook_path(ENSCHEDE), hook_path(HENGELO)
CCT, RIEC = hook_path("cct-twente"), hook_path("riec-on-zorgfraude")
SUPERVISORS = hook_path("supervisors-twente")

# Policy 2025.1, section 2: indicator values that score orange (10 points each) and green.
THREE_ORANGES = {
    "governance_changes_3y": 2,
    "real_estate_related_party": True,
    "director_prior_bankruptcy": True,
}
ALL_GREEN = {
    "governance_changes_3y": 0,
    "real_estate_related_party": False,
    "director_prior_bankruptcy": False,
}


async def _get(chain: Chain, service: str, key: str, path: str) -> Any:
    answer = await chain.client(service).get(path, headers=chain.auth(service, key))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _assessment(chain: Chain, submission_id: str, partner: str) -> dict[str, Any]:
    """Triage's current decision about the one signal of a submission (supervisor's view)."""
    [decision] = await _assessments(chain, submission_id, partner)
    return decision


async def _assessments(chain: Chain, submission_id: str, partner: str) -> list[dict[str, Any]]:
    found = await _get(chain, "intake", partner, f"/v1/submissions/{submission_id}")
    signals = [item["signal_id"] for item in found["items"] if item.get("signal_id")]
    return [
        await _get(chain, "triage", "supervisor", f"/v1/signals/{signal_id}/assessment")
        for signal_id in signals
    ]


async def _risk(chain: Chain, provider_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await _get(
        chain, "scoring", "reader", f"/v1/providers/{provider_id}/risk"
    )
    return found


async def _undeliverable(chain: Chain, provider_id: str) -> set[tuple[str, str]]:
    """(subscriber, rule) of the alerts notify recorded as undeliverable about a provider."""
    found = await _get(
        chain, "notify", "operator",
        f"/v1/deliveries?state=undeliverable&provider_id={provider_id}",
    )  # fmt: skip
    return {(d["subscriber"]["id"], d["rule_id"]) for d in found["deliveries"]}


def _decayed(points: float, occurred_at: str, evaluated_at: str) -> float:
    """Points of a signal as policy 2025.1 decays them: ``0.5 ** (age_days / 180)``."""
    age = datetime.fromisoformat(evaluated_at) - datetime.fromisoformat(occurred_at)
    return float(points * 0.5 ** (age / timedelta(days=1) / 180))


def _kinds(alerts: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    """Per path, what each alert says, in arrival order."""
    return {
        path: [
            (a["kind"], a["outcome"], a["priority"])
            if a["kind"] == "assessment"
            else (a["kind"], a["previous_level"], a["level"])
            for a in found
        ]
        for path, found in alerts.items()
    }


def _igj(provider: Provider, reference: str, **finding: Any) -> PartnerSubmission:
    housing = provider.locations[0]
    return PartnerSubmission(
        "igj", reference, igj_body(reference, provider, housing, **finding), (provider.provider_id,)
    )


async def test_a_calamity_at_a_sheltered_housing_location_reaches_its_municipality(
    chain: Chain,
) -> None:
    provider = SCENARIO_PROVIDERS["calamity"]
    pid = provider.provider_id
    answer = await chain.submit(
        "calamity",
        _igj(provider, "IGJ-2026-900001", finding="calamiteit", target_group="beschermd-wonen",
             shortcomings=("meldplicht", "personeelsbezetting")),
    )  # fmt: skip
    assert answer.status == 202, answer.body

    result = await chain.reconcile("calamity", [pid])
    result.assert_clean()
    decision = await _assessment(chain, answer.body["submission_id"], "igj")
    assert (decision["outcome"], decision["strategy"], decision["priority"]) == (
        "investigate", "full_investigation", "P1",
    )  # fmt: skip
    assert (decision["vulnerable_group"], decision["municipality_code"]) == (
        "sheltered_housing", ENSCHEDE,
    )  # fmt: skip
    assert [r["rule_id"] for r in decision["rules_fired"]] == ["R5", "S1", "P1"]
    assert decision["investigation"]["relation"] == "opened"
    # Investigate, calamity: 20 points, high severity x1.5, decayed since it happened; green.
    risk = await _risk(chain, pid)
    expected = _decayed(30.0, decision["occurred_at"], risk["evaluated_at"])
    assert risk["score"] == pytest.approx(round(expected, 1), abs=0.1)
    assert risk["level"] == "green"
    # Enschede, the municipality of the location (and its only contract), and no one else.
    alerts = chain.accepted_about(pid)
    assert _kinds(alerts) == {GM0153: [("assessment", "investigate", "P1")]}
    [alert] = alerts[GM0153]
    assert alert["recipient"] == {"kind": "municipality", "id": ENSCHEDE}
    assert (alert["category"], alert["strategy"]) == ("calamity", "full_investigation")
    assert alert["provider"] == {"provider_id": pid, "name": provider.name, "kvk": provider.kvk}
    assert await _undeliverable(chain, pid) == set()


async def test_a_police_raid_becomes_a_criminal_referral_at_the_riec_casus_table(
    chain: Chain,
) -> None:
    provider = SCENARIO_PROVIDERS["raid"]
    pid = provider.provider_id
    reference = "PL0603-2026900002"
    body = police_body(reference, provider, provider.locations[0], codes=("OD10", "OD20"))
    answer = await chain.submit("raid", PartnerSubmission("police", reference, body, (pid,)))
    assert answer.status == 202, answer.body

    result = await chain.reconcile("raid", [pid])
    result.assert_clean()
    decision = await _assessment(chain, answer.body["submission_id"], "police")
    assert (decision["outcome"], decision["priority"]) == ("criminal_referral", "P1")
    assert decision["rules_fired"][0]["rule_id"] == "R4"
    assert decision["municipality_code"] == HENGELO
    # A criminal referral: 30 points, high severity x1.5: orange (30 to 60).
    risk = await _risk(chain, pid)
    assert risk["score"] == pytest.approx(
        round(_decayed(45.0, decision["occurred_at"], risk["evaluated_at"]), 1), abs=0.1
    )
    assert risk["level"] == "orange"
    # The referral goes to the region's fraud casus table and its supervisors (policy 3), to
    # no municipality and not to the coordination table; the rise to orange goes to the two
    # related municipalities.
    assert _kinds(chain.accepted_about(pid)) == {
        RIEC: [("assessment", "criminal_referral", "P1")],
        SUPERVISORS: [("assessment", "criminal_referral", "P1")],
        GM0153: [("risk_change", None, "orange")],
        GM0164: [("risk_change", None, "orange")],
    }


async def test_signals_about_a_provider_under_investigation_are_bundled_into_it(
    chain: Chain,
) -> None:
    provider = SCENARIO_PROVIDERS["bundle"]
    pid = provider.provider_id
    guidance = provider.locations[0]
    # A serious quality finding opens an investigation; a complaint and a disturbance reported
    # by the police follow while it is open.
    sent = [
        _igj(provider, "IGJ-2026-900003", finding="kwaliteitstekort", severity=3,
             target_group="volwassenen", shortcomings=("zorgplan",)),
        _igj(provider, "IGJ-2026-900004", finding="klacht", severity=1),
        PartnerSubmission(
            "police", "PL0603-2026900005",
            police_body("PL0603-2026900005", provider, guidance, codes=("OV10",)), (pid,),
        ),
    ]  # fmt: skip
    answers = [await chain.submit("bundle", s) for s in sent]
    assert [a.status for a in answers] == [202, 202, 202]

    result = await chain.reconcile("bundle", [pid])
    result.assert_clean()
    partners = ["igj", "igj", "police"]
    decisions = [
        await _assessment(chain, a.body["submission_id"], p)
        for a, p in zip(answers, partners, strict=True)
    ]
    assert [d["outcome"] for d in decisions] == ["investigate", "bundle", "bundle"]
    assert [d["investigation"]["relation"] for d in decisions] == ["opened", "bundled", "bundled"]
    investigation = decisions[0]["investigation"]["investigation_id"]
    assert {d["investigation"]["investigation_id"] for d in decisions} == {investigation}
    assert decisions[1]["rules_fired"][0]["rule_id"] == "R7"
    opened = await _get(chain, "triage", "supervisor", f"/v1/investigations/{investigation}")
    assert opened["state"] == "open"
    assert sorted(s["relation"] for s in opened["signals"]) == ["bundled", "bundled", "opened"]
    # Investigate (15 x1.5) and two bundled signals (5 x0.5 each, low severity): green.
    risk = await _risk(chain, pid)
    points = [30.0 * 0.75, 2.5, 2.5]
    expected = sum(
        _decayed(p, d["occurred_at"], risk["evaluated_at"])
        for p, d in zip(points, decisions, strict=True)
    )
    assert risk["score"] == pytest.approx(round(expected, 1), abs=0.15)
    assert risk["level"] == "green"
    # An investigation with priority 2 and bundled signals tell no one.
    assert chain.accepted_about(pid) == {}
    assert result.expected == 0
    assert await _undeliverable(chain, pid) == set()


async def _close(chain: Chain, investigation_id: str) -> None:
    answer = await chain.client("triage").post(
        f"/v1/investigations/{investigation_id}/close",
        json={"decision": "no_findings", "note": "Synthetisch: geen bevindingen."},
        headers=chain.auth("triage", "supervisor"),
    )
    assert answer.status_code == 200, answer.text


def _report(values: Mapping[str, Any], days_ago: int) -> dict[str, Any]:
    period_end = (datetime.now(tz=AMSTERDAM) - timedelta(days=days_ago)).date()
    return {
        "source": "contract_management",
        "period_end": period_end.isoformat(),
        "values": dict(values),
    }


async def _alerted(chain: Chain, pid: str, path: str, level: str) -> None:
    async def arrived() -> bool:
        return any(
            a["kind"] == "risk_change" and a["level"] == level
            for a in chain.accepted_about(pid).get(path, [])
        )

    await wait_for(arrived, within=120, what=f"a {level} alert at {path}")


async def _to_red(chain: Chain, provider: Provider, scenario: str, first: int) -> str:
    """Orange by indicators, then red by two calamities; the investigation they are in."""
    pid = provider.provider_id
    await chain.report_indicators(pid, _report(THREE_ORANGES, days_ago=2))
    await _alerted(chain, pid, GM0153, "orange")
    calamities = [
        _igj(provider, f"IGJ-2026-{first + n:06d}", finding="calamiteit",
             target_group="beschermd-wonen")
        for n in range(2)
    ]  # fmt: skip
    answers = [await chain.submit(scenario, c) for c in calamities]
    assert [a.status for a in answers] == [202, 202]
    await _alerted(chain, pid, CCT, "red")
    decisions = [await _assessment(chain, a.body["submission_id"], "igj") for a in answers]
    assert [d["investigation"]["relation"] for d in decisions] == ["opened", "linked"]
    investigation: str = decisions[0]["investigation"]["investigation_id"]
    return investigation


async def test_a_provider_turns_orange_then_red_and_back_and_those_told_hear_it_fall(
    chain: Chain,
) -> None:
    provider = SCENARIO_PROVIDERS["risk"]
    pid = provider.provider_id
    # Three orange indicators: 30 points, orange. Two calamities (about 30 each): red.
    investigation = await _to_red(chain, provider, "risk", first=900010)
    red = await _risk(chain, pid)
    assert red["level"] == "red"
    assert red["score"] == pytest.approx(89.6, abs=0.3)
    # Better indicators take 30 points away, but 59.x is not below 55: red holds (hysteresis).
    await chain.report_indicators(pid, _report(ALL_GREEN, days_ago=1))

    async def rescored() -> bool:
        return float((await _risk(chain, pid))["score"]) < 60.0

    await eventually(rescored, within=60, what="scoring to weigh the new indicators")
    held = await _risk(chain, pid)
    assert held["level"] == "red"
    # The investigation closes without findings: its signals' points go, and the provider
    # falls to green; everyone told of the rise hears it.
    await _close(chain, investigation)
    await _alerted(chain, pid, GM0153, "green")
    green = await _risk(chain, pid)
    assert (green["level"], green["score"]) == ("green", 0.0)

    result = await chain.reconcile("risk", [pid])
    result.assert_clean()
    # Assessment and risk alerts travel different topics, so they may interleave; the risk
    # alerts of each party arrive in the order the risk changed.
    told = _kinds(chain.accepted_about(pid))
    assert set(told) == {GM0153, GM0164, CCT}
    for path in (GM0153, GM0164):
        # The indicators are the provider's first score: no level before it.
        assert [k for k in told[path] if k[0] == "risk_change"] == [
            ("risk_change", None, "orange"),
            ("risk_change", "orange", "red"),
            ("risk_change", "red", "green"),
        ]
        assert [k for k in told[path] if k[0] == "assessment"] == [
            ("assessment", "investigate", "P1")
        ] * 2
    assert told[CCT] == [("risk_change", "orange", "red"), ("risk_change", "red", "green")]
    # Wierden contracts the provider but has no subscription: each of its alerts is recorded.
    assert await _undeliverable(chain, pid) == {
        (WIERDEN, "risk-rise-orange"),
        (WIERDEN, "assessed-investigate-p1"),
        (WIERDEN, "risk-rise-red"),
        (WIERDEN, "risk-fall"),
    }


async def test_a_provider_falling_in_two_steps_is_followed_down_to_green(chain: Chain) -> None:
    provider = SCENARIO_PROVIDERS["two-falls"]
    pid = provider.provider_id
    investigation = await _to_red(chain, provider, "two-falls", first=900020)
    # No findings: back to the indicators' 30 points, orange (red -> orange below 55).
    await _close(chain, investigation)
    await _alerted(chain, pid, GM0153, "orange")
    # Then better indicators: 0 points, green. Those who hold 'orange' must hear it.
    await chain.report_indicators(pid, _report(ALL_GREEN, days_ago=1))

    async def green() -> bool:
        return bool((await _risk(chain, pid))["level"] == "green")

    await eventually(green, within=60, what="the provider to turn green")
    result = await chain.reconcile("two-falls", [pid])
    remembered = await chain.sql(
        "notify", "SELECT count(*) FROM told_of_rise WHERE provider_id = $1", pid
    )
    print(f"notify remembers {remembered} parties told of a rise of {pid}")
    falls = {
        path: [k for k in kinds if k[0] == "risk_change"]
        for path, kinds in _kinds(chain.accepted_about(pid)).items()
    }
    assert falls[GM0153][-1] == ("risk_change", "orange", "green"), falls
    assert falls[CCT][-1] == ("risk_change", "orange", "green"), falls
    result.assert_clean()


async def test_an_access_team_file_with_good_and_bad_rows_loses_no_good_row(
    chain: Chain,
) -> None:
    provider = SCENARIO_PROVIDERS["csv"]
    pid = provider.provider_id
    housing = provider.locations[0]
    today = datetime.now(tz=AMSTERDAM).date()
    yesterday = (today - timedelta(days=1)).strftime("%d-%m-%Y")
    base = {
        "datum": yesterday, "aanbieder": provider.name, "AGB-code": provider.agb or "",
        "postcode": housing.postcode_with_space, "gemeente": "Enschede",
        "voorziening": "beschermd wonen", "team": "Wijkteam Enschede Noord",
        "toelichting": "Synthetisch voorbeeld (storingstest).",
    }  # fmt: skip
    rows = [
        {**base, "kenmerk": "FT-0001", "signaal": "calamiteit", "ernst": "hoog",
         "BSN": "999927176"},
        {**base, "kenmerk": "FT-0002", "signaal": "klacht", "BSN": "999927177"},
        {**base, "kenmerk": "FT-0003", "signaal": "kwaliteit zorg", "ernst": "midden"},
        {**base, "kenmerk": "FT-0004", "signaal": "klacht", "datum": today.isoformat()},
        {**base, "kenmerk": "FT-0005", "signaal": "klacht", "voorziening": "wmo begeleiding"},
        {**base, "kenmerk": "FT-0006", "signaal": "administratieve fout", "ernst": "laag"},
        {**base, "kenmerk": "FT-0001", "signaal": "klacht"},
        {**base, "kenmerk": "FT-0008", "signaal": ""},
        {**base, "kenmerk": "FT-0009", "signaal": "klacht", "datum": "01-01-2099"},
    ]  # fmt: skip
    upload = PartnerSubmission("access_team", "FT-upload", access_team_csv(rows), (pid,))
    answer = await chain.submit("csv", upload)
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "partially_accepted"
    items = {item["row"]: item for item in answer.body["items"]}
    assert {n for n, i in items.items() if i["status"] == "accepted"} == {2, 4, 7}
    refused = {
        n: {(r["code"], r.get("column")) for r in item["rejections"]}
        for n, item in items.items()
        if item["status"] == "rejected"
    }
    assert refused == {
        3: {("invalid_value", "BSN")},
        5: {("invalid_value", "datum")},
        6: {("unknown_code", "voorziening")},
        8: {("duplicate_reference", "kenmerk")},
        9: {("missing_field", "signaal")},
        10: {("occurred_in_future", "datum")},
    }

    result = await chain.reconcile("csv", [pid])
    result.assert_clean()
    assert result.submitted == 3
    decisions = await _assessments(chain, answer.body["submission_id"], "access_team")
    assert [d["outcome"] for d in decisions] == ["investigate", "bundle", "administrative_error"]
    assert decisions[0]["priority"] == "P1"
    # 30 (calamity) + 5 (bundled, medium) + 1.5 (administrative error, low), decayed: orange.
    risk = await _risk(chain, pid)
    assert risk["level"] == "orange"
    assert _kinds(chain.accepted_about(pid)) == {
        GM0153: [("assessment", "investigate", "P1"), ("risk_change", "green", "orange")],
    }
