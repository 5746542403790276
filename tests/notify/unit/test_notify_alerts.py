from __future__ import annotations

import json
import re
import time
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

import zicht_notify.domain as notify_domain
import zicht_schemas as schemas
from notify.unit.notify_builders import (
    ASSESSMENT_EVENT_ID,
    ENSCHEDE,
    KVK,
    LINK_BASE,
    NAME,
    PROVIDER,
    RISK_EVENT_ID,
    assessed,
    relations,
    risk_changed,
)
from zicht_notify.domain import (
    ALERT_EVENT_TYPE,
    AlertKind,
    AlertProvider,
    AlertReason,
    AlertV1,
    ProviderRelations,
    ReasonSource,
    Recipient,
    Route,
    alert_id_for,
    build_alert,
    default_routing,
    generate_secret,
    route,
    sign,
    webhook_id_for,
)
from zicht_schemas import (
    CloudEvent,
    Outcome,
    Priority,
    ProviderRiskChangedV1,
    RiskLevel,
    SignalAssessedV1,
    SubscriberKind,
    from_structured,
    looks_like_bsn,
    new_event,
    source_urn,
    to_structured,
)
from zicht_schemas.events.notify import WebhookId

pytestmark = pytest.mark.unit

SOURCE = source_urn("00000001234567890000", "notify")
PSEUDONYM = "c0ffee" * 10 + "beef"  # 64 hex characters, the shape of a client pseudonym
BSN = "111222333"  # passes the eleven-test; synthetic
BSN_DOTTED = "111.222.333"
NOTE = "PARTNERNOTE"  # stands for anything a partner wrote
KNOWN = relations()
POLICY = default_routing()


def first_route(event: SignalAssessedV1 | ProviderRiskChangedV1) -> Route:
    return route(event, KNOWN, POLICY)[0]


def alert_of(
    event: SignalAssessedV1 | ProviderRiskChangedV1,
    event_id: UUID,
    known: ProviderRelations | None = KNOWN,
) -> AlertV1:
    via = route(event, known, default_routing())[0]
    return build_alert(
        event,
        known,
        via,
        alert_id=alert_id_for(event_id, via.recipient),
        link_base=LINK_BASE,
        source_event_id=event_id,
    )


def test_an_assessment_alert_holds_provider_decision_reasons_counts_and_link() -> None:
    event = assessed(Outcome.INVESTIGATE, Priority.P1, ENSCHEDE)

    alert = alert_of(event, ASSESSMENT_EVENT_ID)

    assert alert.kind is AlertKind.ASSESSMENT
    assert alert.provider == AlertProvider(provider_id=PROVIDER, name=NAME, kvk=KVK)
    assert (alert.outcome, alert.priority, alert.strategy, alert.category) == (
        event.outcome,
        event.priority,
        event.strategy,
        event.category,
    )
    assert (alert.level, alert.score) == (None, None)
    assert [(r.source, r.ref, r.text_en, r.text_nl) for r in alert.reasons] == [
        (
            ReasonSource.RULE,
            "R5",
            "Calamities and violence are always investigated.",
            "Calamiteiten en geweld worden altijd onderzocht.",
        )
    ]
    assert alert.counts.signals_12_months == 4
    assert alert.counts.rules_fired == 1
    assert alert.link == f"{LINK_BASE}/{PROVIDER}/risk"
    assert alert.routing_reason.ref == "assessed-investigate-p1"
    assert alert.routing_reason.text_nl
    assert (alert.routing_version, alert.decision_version) == ("2025.2", "2025.1")
    assert alert.recipient.kind is SubscriberKind.MUNICIPALITY
    assert alert.recipient.id == ENSCHEDE
    assert alert.source_event_id == ASSESSMENT_EVENT_ID
    assert alert.source_event_type == SignalAssessedV1.EVENT_TYPE
    assert (alert.occurred_at, alert.decided_at) == (event.occurred_at, event.assessed_at)


def test_a_risk_alert_explains_the_largest_contributions_without_signal_ids() -> None:
    event = risk_changed(RiskLevel.RED, RiskLevel.ORANGE)

    alert = alert_of(event, RISK_EVENT_ID)

    assert alert.kind is AlertKind.RISK_CHANGE
    assert (alert.level, alert.previous_level, alert.score) == (
        RiskLevel.RED,
        RiskLevel.ORANGE,
        72.0,
    )
    assert alert.outcome is None
    assert [(r.ref, r.points, r.text_en) for r in alert.reasons] == [
        ("signal", 30.0, "criminal referral, medium severity, 3 days old"),
        ("personnel_cost_ratio", 25.0, "personnel costs below 50% of revenue"),
        ("provider_younger_than_two_years", 10.0, "provider founded less than two years ago"),
    ]
    assert (
        alert.counts.signals_weighed,
        alert.counts.indicators_flagged,
        alert.counts.indicators_unknown,
    ) == (1, 2, 2)
    assert alert.routing_reason.ref == "risk-rise-red"
    assert alert.decided_at == event.evaluated_at


def test_a_risk_alert_counts_the_signals_scoring_weighed_but_did_not_list() -> None:
    event = risk_changed(RiskLevel.RED, RiskLevel.ORANGE, signals_left_out=420)

    alert = alert_of(event, RISK_EVENT_ID)

    assert alert.counts.signals_weighed == 421


def test_an_alert_about_a_provider_notify_does_not_know_has_no_name_or_kvk() -> None:
    event = assessed(Outcome.CRIMINAL_REFERRAL)

    alert = alert_of(event, ASSESSMENT_EVENT_ID, known=None)

    assert alert.provider == AlertProvider(provider_id=PROVIDER, name=None, kvk=None)


def test_a_redelivered_event_gives_the_same_alert_and_webhook_id_per_recipient() -> None:
    first = assessed(Outcome.CRIMINAL_REFERRAL)
    redelivered = SignalAssessedV1.model_validate_json(first.model_dump_json())

    ids = [alert_of(first, ASSESSMENT_EVENT_ID).alert_id]
    ids += [alert_id_for(ASSESSMENT_EVENT_ID, r.recipient) for r in route(first, KNOWN, POLICY)]
    again = [alert_of(redelivered, ASSESSMENT_EVENT_ID).alert_id]
    again += [
        alert_id_for(ASSESSMENT_EVENT_ID, r.recipient) for r in route(redelivered, KNOWN, POLICY)
    ]

    assert ids == again
    assert len(set(ids[1:])) == len(ids) - 1  # one alert per recipient
    assert {i.version for i in ids} == {5}
    assert [webhook_id_for(i) for i in ids] == [webhook_id_for(i) for i in again]


def test_another_source_event_gives_other_alert_ids() -> None:
    recipient = Recipient.casus_table("riec-on-zorgfraude")

    assert alert_id_for(ASSESSMENT_EVENT_ID, recipient) != alert_id_for(RISK_EVENT_ID, recipient)


def test_each_subscription_of_a_recipient_gets_its_own_alert_id_the_same_every_time() -> None:
    recipient = Recipient.municipality("GM0164")
    older = UUID("0d0d0d0d-0000-4000-8000-000000000001")
    newer = UUID("0d0d0d0d-0000-4000-8000-000000000002")

    ids = {sub: alert_id_for(ASSESSMENT_EVENT_ID, recipient, sub) for sub in (older, newer, None)}

    assert len(set(ids.values())) == 3
    assert ids[older] == alert_id_for(ASSESSMENT_EVENT_ID, recipient, older)
    # Without a subscription (an undeliverable record) the id is the recipient's alone.
    assert ids[None] == alert_id_for(ASSESSMENT_EVENT_ID, recipient)


def test_a_webhook_id_is_msg_and_the_alert_id_in_hex() -> None:
    alert_id = UUID("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")

    webhook_id = webhook_id_for(alert_id)

    assert webhook_id == "msg_0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d"
    assert re.fullmatch(r"^[A-Za-z0-9_.:-]{1,128}$", webhook_id)  # the WebhookId contract
    _: WebhookId = webhook_id


def test_a_link_base_that_is_no_http_url_is_refused() -> None:
    event = assessed(Outcome.CRIMINAL_REFERRAL)
    via = first_route(event)

    with pytest.raises(ValueError, match="link_base"):
        build_alert(
            event,
            relations(),
            via,
            alert_id=alert_id_for(ASSESSMENT_EVENT_ID, via.recipient),
            link_base="javascript:alert(1)",
            source_event_id=ASSESSMENT_EVENT_ID,
        )


# --- minimal content ---------------------------------------------------------------------------


def marked_assessment() -> SignalAssessedV1:
    """An assessment whose every free-form string carries a pseudonym, a BSN or a note."""
    return assessed(
        Outcome.CRIMINAL_REFERRAL,
        rules_fired=[
            {
                "rule_id": PSEUDONYM,
                "text_nl": f"Client {BSN_DOTTED} gemeld.",
                "text_en": f"Client {PSEUDONYM} reported.",
                "inputs": {
                    "note": NOTE,
                    "clients": [PSEUDONYM, BSN],
                    "signals_12_months": 3,
                },
            },
            {
                "rule_id": "R4",
                "text_nl": f"Burgerservicenummer {BSN}.",
                "text_en": "A crime indicator was reported: criminal referral.",
                "inputs": {"reference": f"{NOTE}-{BSN}"},
            },
        ],
        investigation={
            "investigation_id": "0d0d0d0d-0000-4000-8000-00000000beef",
            "relation": "linked",
        },
    )


def marked_risk_change() -> ProviderRiskChangedV1:
    return risk_changed(
        RiskLevel.RED,
        RiskLevel.GREEN,
        contributions=[
            {
                "kind": "signal",
                "ref": PSEUDONYM,
                "points": 40.0,
                "explanation_en": f"signal about client {BSN}",
            },
            {
                "kind": "indicator",
                "ref": NOTE,
                "points": 20.0,
                "explanation_en": f"client {PSEUDONYM[:32]}",
            },
            {
                "kind": "hold",
                "ref": f"{NOTE}-hold",
                "points": 15.0,
                "explanation_en": "contract dissolved, held at red",
            },
        ],
        cause_event_id="0f0f0f0f-0000-4000-8000-00000000cafe",
    )


def webhook_body(alert: AlertV1) -> str:
    event = new_event(
        alert, source=SOURCE, subject=alert.provider.provider_id, event_id=alert.alert_id
    )
    return to_structured(event).decode()


def personal_data_in(text: str) -> list[str]:
    found = re.findall(r"[0-9A-Fa-f]{32,}", text)  # a pseudonym or a good part of one
    found += [
        number
        for number in re.findall(r"(?<![0-9])[0-9]{8,9}(?![0-9])", text)
        if looks_like_bsn(number)
    ]
    found += [marker for marker in (PSEUDONYM, BSN, BSN_DOTTED, NOTE) if marker in text]
    return found


@pytest.mark.parametrize(
    ("event", "event_id"),
    [(marked_assessment(), ASSESSMENT_EVENT_ID), (marked_risk_change(), RISK_EVENT_ID)],
)
def test_an_alert_never_carries_a_pseudonym_a_bsn_or_partner_text(
    event: SignalAssessedV1 | ProviderRiskChangedV1, event_id: UUID
) -> None:
    # The registry's name carries a BSN too: the name is withheld, the KvK kept.
    known = relations(name=f"Zorg {BSN} B.V.", locations=(ENSCHEDE,), contracting=("GM0164",))
    told = frozenset({Recipient.municipality(ENSCHEDE)})

    for via in route(event, known, default_routing(), told):
        alert = build_alert(
            event,
            known,
            via,
            alert_id=alert_id_for(event_id, via.recipient),
            link_base=LINK_BASE,
            source_event_id=event_id,
        )
        body = webhook_body(alert)

        assert personal_data_in(body) == []
        assert alert.provider.name is None
        assert alert.provider.kvk == KVK
        for hidden in (
            "0d0d0d0d-0000-4000-8000-00000000beef",
            "0f0f0f0f-0000-4000-8000-00000000cafe",
        ):
            assert hidden not in body  # investigation and cause ids stay upstream
        if isinstance(event, SignalAssessedV1):
            assert str(event.signal_id) not in body
            assert str(event.assessment_id) not in body
            assert alert.counts.signals_12_months == 3
            assert [r.ref for r in alert.reasons] == [None, "R4"]
            assert alert.reasons[1].text_nl == alert.reasons[0].text_nl  # both withheld
            assert "withheld" in alert.reasons[0].text_en
        else:
            assert [r.ref for r in alert.reasons] == ["signal", "indicator", "hold"]
            assert alert.reasons[2].text_en == "contract dissolved, held at red"


def test_the_checks_of_the_content_test_would_catch_what_they_look_for() -> None:
    assert personal_data_in(f'{{"x":"{PSEUDONYM}"}}')
    assert personal_data_in('{"x":"client 111222333"}')
    assert personal_data_in(f'{{"x":"{NOTE}"}}')
    assert personal_data_in('{"kvk":"90000001","t":"2025-03-04T07:12:10Z"}') == []


@pytest.mark.parametrize(
    "build",
    [
        lambda: AlertProvider(provider_id=PROVIDER, name=f"Zorg {BSN}"),
        lambda: AlertProvider(provider_id=PROVIDER, name=f"Zorg {PSEUDONYM}"),
        lambda: AlertReason(source=ReasonSource.RULE, text_en=f"client {BSN_DOTTED}"),
        lambda: AlertReason(source=ReasonSource.RULE, text_en="ok", text_nl=f"c {PSEUDONYM}"),
        lambda: AlertReason(source=ReasonSource.RULE, ref=PSEUDONYM, text_en="ok"),
        lambda: AlertReason(source=ReasonSource.RULE, text_en="two\nlines"),
    ],
)
def test_the_alert_model_refuses_text_that_carries_personal_data(build: Any) -> None:
    with pytest.raises(ValidationError):
        build()


def test_the_alert_model_does_not_hold_fields_it_does_not_define() -> None:
    alert = alert_of(assessed(Outcome.CRIMINAL_REFERRAL), ASSESSMENT_EVENT_ID)
    document = alert.model_dump(mode="json")
    document["client_pseudonyms"] = [PSEUDONYM]
    document["description"] = NOTE

    reread = AlertV1.model_validate(document)

    assert personal_data_in(reread.model_dump_json()) == []


def _text_fields(schema: dict[str, Any], node: Any, path: str, found: dict[str, str]) -> None:
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        _text_fields(schema, schema["$defs"][node["$ref"].split("/")[-1]], path, found)
    for option in node.get("anyOf", ()):
        _text_fields(schema, option, path, found)
    if node.get("type") == "string":
        found[path] = (
            node.get("pattern") or node.get("format") or ("enum" if "enum" in node else "")
        )
    for name, child in node.get("properties", {}).items():
        _text_fields(schema, child, f"{path}.{name}" if path else name, found)
    if "items" in node:
        _text_fields(schema, node["items"], f"{path}[]", found)
    for child in node.get("prefixItems", ()):
        _text_fields(schema, child, f"{path}[]", found)


def test_every_string_of_an_alert_is_a_code_id_moment_or_a_one_line_fixed_text() -> None:
    schema = AlertV1.model_json_schema()
    found: dict[str, str] = {}
    _text_fields(schema, schema, "", found)
    one_line = r"^[^\x00-\x1f\x7f]+$"

    assert all(found.values()), [p for p, rule in found.items() if not rule]
    texts = {path for path, rule in found.items() if rule == one_line}
    assert texts == {
        "provider.name",
        "reasons[].text_en",
        "reasons[].text_nl",
        "routing_reason.text_en",
        "routing_reason.text_nl",
    }


# --- the webhook body -------------------------------------------------------------------------


def test_an_alert_travels_as_a_structured_cloudevent_of_type_alert_v1() -> None:
    alert = alert_of(assessed(Outcome.CRIMINAL_REFERRAL), ASSESSMENT_EVENT_ID)

    body = webhook_body(alert).encode()
    reread: CloudEvent[AlertV1] = from_structured(body, AlertV1)

    assert reread.type == ALERT_EVENT_TYPE
    assert reread.id == str(alert.alert_id)
    assert reread.subject == PROVIDER
    assert reread.data == alert
    assert json.loads(body)["data"]["provider"]["kvk"] == KVK


def test_a_receiver_verifies_a_signed_alert_with_the_standardwebhooks_library() -> None:
    alert = alert_of(assessed(Outcome.CRIMINAL_REFERRAL), ASSESSMENT_EVENT_ID)
    body = webhook_body(alert).encode()
    secret = generate_secret()

    headers = sign([secret], webhook_id_for(alert.alert_id), int(time.time()), body)
    received = Webhook(secret).verify(body, headers)

    assert received["data"]["alert_id"] == str(alert.alert_id)


def test_notify_uses_the_published_contract_of_the_alert_and_the_verification() -> None:
    # One model, not a copy: what notify builds is what zicht_schemas publishes and parses.
    assert notify_domain.AlertV1 is schemas.AlertV1
    assert notify_domain.VerificationV1 is schemas.VerificationV1
    assert notify_domain.carries_personal_data is schemas.carries_personal_data
    assert notify_domain.ALERT_EVENT_TYPE == schemas.AlertV1.EVENT_TYPE
