"""The subscriber guide (docs/partners/webhooks.md) says what the contracts and notify's API do.

Its examples are the golden examples, the routes it names are in notify's OpenAPI document,
the schema files it links exist, its field table lists exactly the alert's fields, and the
receiver it shows accepts a correctly signed alert and refuses everything else.
"""

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from support.markdown_tables import tables_under
from zicht_schemas import ALERT_EVENT_TYPE, VERIFICATION_EVENT_TYPE, AlertV1

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PARTNERS = ROOT / "docs" / "partners"
GOLDEN = ROOT / "tests" / "contract" / "golden"
GUIDE = (PARTNERS / "webhooks.md").read_text(encoding="utf-8")
SECRET = "whsec_" + "emljaHQtdGVzdC1zZWNyZXQtb2YtdGhlLWd1aWRlIQ=="  # synthetic, 32 bytes
OTHER_SECRET = "whsec_" + "b3RoZXItdGVzdC1zZWNyZXQtbm9ib2R5LWhvbGRzIQ=="  # synthetic, 32 bytes

Receive = Callable[[bytes, dict[str, str]], int]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, flags=re.DOTALL)


def _golden(event_type: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GOLDEN / f"{event_type}.json").read_text("utf-8"))
    return document


def _signed(
    body: bytes,
    *secrets: str,
    webhook_id: str = "msg_0a1b",
    age: timedelta = timedelta(),
) -> dict[str, str]:
    """Standard Webhooks headers as notify sends them: one signature per secret (``SECRET``)."""
    moment = datetime.now(UTC).replace(microsecond=0) - age
    signatures = [
        Webhook(secret).sign(webhook_id, moment, body.decode()) for secret in secrets or [SECRET]
    ]
    return {
        "Webhook-Id": webhook_id,
        "Webhook-Timestamp": str(int(moment.timestamp())),
        "Webhook-Signature": " ".join(signatures),
    }


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The guide's Python receiver, run as written with the test's secret."""
    monkeypatch.setenv("ZICHT_WEBHOOK_SECRET", SECRET)
    (code,) = _blocks("python")
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/partners/webhooks.md", "exec"), namespace)  # noqa: S102 - the guide's own example
    return namespace


def test_every_json_example_in_the_guide_is_well_formed() -> None:
    blocks = _blocks("json")

    assert len(blocks) >= 4
    for block in blocks:
        assert isinstance(json.loads(block), dict)


def test_the_worked_example_and_the_verification_shown_are_the_golden_examples() -> None:
    shown = {document.get("type"): document for document in map(json.loads, _blocks("json"))}

    assert shown[ALERT_EVENT_TYPE] == _golden(ALERT_EVENT_TYPE)
    assert shown[VERIFICATION_EVENT_TYPE] == _golden(VERIFICATION_EVENT_TYPE)
    alert_id = shown[ALERT_EVENT_TYPE]["data"]["alert_id"]
    assert f"webhook-id: msg_{alert_id.replace('-', '')}" in GUIDE


def test_every_route_the_guide_names_is_in_notifys_openapi_document() -> None:
    openapi = json.loads((ROOT / "docs" / "openapi" / "notify.json").read_text("utf-8"))
    named = set(re.findall(r"`(GET|POST|PATCH|DELETE) (/v1/[^`\s]*)`", GUIDE))

    assert len(named) >= 9
    missing = [
        (method, path)
        for method, path in named
        if method.lower() not in openapi["paths"].get(path, {})
    ]
    assert missing == []


def test_every_file_the_guide_links_exists() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", GUIDE)
    links = [target for target in targets if not target.startswith("https://")]

    assert "../../schemas/json/nl.zorgtoezicht.alert.v1.json" in links
    assert [link for link in links if not (PARTNERS / link).resolve().exists()] == []


def test_the_field_table_lists_exactly_the_fields_of_an_alert() -> None:
    (table,) = tables_under(GUIDE, "### Fields of an alert")

    listed = [row["field"].strip("`") for row in table]

    assert len(listed) == len(set(listed))
    assert set(listed) == set(AlertV1.model_fields)


def test_the_guides_receiver_accepts_a_signed_alert_once_and_reads_it(
    receiver: dict[str, Any],
) -> None:
    receive: Receive = receiver["receive"]
    body = (GOLDEN / f"{ALERT_EVENT_TYPE}.json").read_bytes()

    assert receive(body, _signed(body)) == 204
    assert receive(body, _signed(body)) == 204  # a retry: acknowledged, not stored again

    assert list(receiver["inbox"]) == ["msg_0a1b"]
    alert = receiver["process"](receiver["inbox"]["msg_0a1b"])
    assert isinstance(alert, AlertV1)
    assert alert.model_dump(mode="json") == _golden(ALERT_EVENT_TYPE)["data"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, _headers: (body, _signed(body, OTHER_SECRET)),  # the wrong secret
        lambda body, headers: (body.replace(b"P1", b"P4"), headers),  # a changed body
        lambda body, _headers: (body, _signed(body, age=timedelta(minutes=6))),  # replayed
        lambda body, headers: (body, {k: v for k, v in headers.items() if k != "Webhook-Id"}),
    ],
    ids=["wrong-secret", "tampered-body", "old-timestamp", "missing-header"],
)
def test_the_guides_receiver_refuses_what_does_not_verify(
    receiver: dict[str, Any],
    tamper: Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]],
) -> None:
    body = (GOLDEN / f"{ALERT_EVENT_TYPE}.json").read_bytes()

    assert receiver["receive"](*tamper(body, _signed(body))) == 401
    assert receiver["inbox"] == {}


def test_the_guides_receiver_passes_both_verification_steps(receiver: dict[str, Any]) -> None:
    receive: Receive = receiver["receive"]
    body = (GOLDEN / f"{VERIFICATION_EVENT_TYPE}.json").read_bytes()
    check_id = "verify_7e9a1c3e5b7d4f9a8b1d3f5a7c9e1b3d"

    assert receive(body, _signed(body, webhook_id=check_id)) == 204  # signed: 2xx
    assert receive(body, _signed(body, OTHER_SECRET, webhook_id=check_id)) == 401  # then 4xx
    assert receiver["process"](receiver["inbox"][check_id]) is None  # not an alert


def test_the_guides_receiver_accepts_either_signature_during_a_rotation(
    receiver: dict[str, Any],
) -> None:
    body = (GOLDEN / f"{ALERT_EVENT_TYPE}.json").read_bytes()

    # The receiver holds SECRET; notify signs with a new secret and, beside it, SECRET.
    assert receiver["receive"](body, _signed(body, OTHER_SECRET, SECRET)) == 204
