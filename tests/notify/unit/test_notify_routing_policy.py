from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from zicht_notify.app import load_routing as load_routing_in_force
from zicht_notify.config import NotifySettings
from zicht_notify.domain import (
    DEFAULT_ROUTING_VERSION,
    SHIPPED_ROUTING_VERSIONS,
    EventKind,
    RecipientGroup,
    RiskChange,
    RoutingError,
    default_routing,
    load_routing,
    load_routing_file,
    shipped_routing,
)
from zicht_schemas import Outcome, Priority, RiskLevel

pytestmark = pytest.mark.unit

G = RecipientGroup

VALID_RULE = """\
  - id: rule-1
    event: signal_assessed
    when:
      outcome: criminal_referral
    recipients: [fraud_table]
    reason_en: Criminal referrals go to the fraud table.
    reason_nl: Strafrechtelijke verwijzingen gaan naar de fraudetafel.
"""


def policy_with(rule: str) -> str:
    return f'version: "2025.9"\nrules:\n{rule}'


@pytest.mark.parametrize("version", ["2025.1", "2025.2"])
def test_every_shipped_version_is_package_data_that_loads_as_that_version(version: str) -> None:
    shipped = resources.files("zicht_notify").joinpath(f"routing/{version}.yaml")

    assert shipped.is_file()
    assert shipped_routing(version).version == version
    assert load_routing(shipped.read_text("utf-8"), origin="x").version == version


def test_the_default_policy_is_the_newest_shipped_version_2025_2() -> None:
    assert SHIPPED_ROUTING_VERSIONS == ("2025.1", "2025.2")
    assert DEFAULT_ROUTING_VERSION == "2025.2"
    assert default_routing() == shipped_routing("2025.2")
    assert default_routing().version == "2025.2"


def test_a_version_notify_does_not_ship_is_refused_by_name() -> None:
    with pytest.raises(
        RoutingError, match=r"'2024\.9' is not shipped \(shipped: 2025\.1, 2025\.2\)"
    ):
        shipped_routing("2024.9")


def _table(version: str) -> list[tuple[object, ...]]:
    return [
        (
            rule.event,
            frozenset(rule.outcomes or ()),
            frozenset(rule.priorities or ()),
            rule.change,
            frozenset(rule.levels or ()),
            rule.recipients,
        )
        for rule in shipped_routing(version).rules
    ]


_NONE: frozenset[object] = frozenset()
_F = frozenset
_TABLE_2025_1: list[tuple[object, ...]] = [
    (EventKind.SIGNAL_ASSESSED, _F({Outcome.CRIMINAL_REFERRAL}), _NONE, None, _NONE,
     (G.FRAUD_TABLE, G.SUPERVISORS)),
    (EventKind.SIGNAL_ASSESSED, _F({Outcome.INVESTIGATE}), _F({Priority.P1}), None, _NONE,
     (G.LOCATION_MUNICIPALITY, G.CONTRACTING_MUNICIPALITIES)),
    (EventKind.SIGNAL_ASSESSED, _F({Outcome.OUT_OF_REGION}), _NONE, None, _NONE,
     (G.PROVIDER_MUNICIPALITY,)),
    (EventKind.SIGNAL_ASSESSED, _F({Outcome.REFER_TO_IGJ}), _NONE, None, _NONE, (G.IGJ,)),
    (EventKind.RISK_CHANGED, _NONE, _NONE, RiskChange.RISE, _F({RiskLevel.ORANGE}),
     (G.RELATED_MUNICIPALITIES,)),
    (EventKind.RISK_CHANGED, _NONE, _NONE, RiskChange.RISE, _F({RiskLevel.RED}),
     (G.RELATED_MUNICIPALITIES, G.COORDINATION_TABLE)),
    (EventKind.RISK_CHANGED, _NONE, _NONE, RiskChange.FALL, _NONE, (G.TOLD_OF_RISE,)),
]  # fmt: skip


def test_shipped_2025_1_is_the_table_of_policy_section_3_before_2025_2() -> None:
    assert _table("2025.1") == _TABLE_2025_1


def test_shipped_2025_2_is_the_table_of_policy_section_3() -> None:
    # The one change: a referral to IGJ also informs the location's and the contracting
    # municipalities, right after IGJ's own rule.
    inform = (
        EventKind.SIGNAL_ASSESSED, _F({Outcome.REFER_TO_IGJ}), _NONE, None, _NONE,
        (G.LOCATION_MUNICIPALITY, G.CONTRACTING_MUNICIPALITIES),
    )  # fmt: skip

    assert _table("2025.2") == [*_TABLE_2025_1[:4], inform, *_TABLE_2025_1[4:]]


@pytest.mark.parametrize("version", ["2025.1", "2025.2"])
def test_every_shipped_rule_gives_its_reason_in_english_and_dutch(version: str) -> None:
    for rule in shipped_routing(version).rules:
        assert rule.reason_en
        assert rule.reason_nl
        assert rule.reason_en != rule.reason_nl


def test_an_unquoted_version_is_kept_as_written_not_read_as_a_number() -> None:
    policy = load_routing(f"version: 2025.10\nrules:\n{VALID_RULE}", origin="p.yaml")

    assert policy.version == "2025.10"


def test_a_condition_may_list_several_codes() -> None:
    rule = VALID_RULE.replace("outcome: criminal_referral", "outcome: [investigate, bundle]")

    policy = load_routing(policy_with(rule), origin="p.yaml")

    assert policy.rules[0].outcomes == frozenset({Outcome.INVESTIGATE, Outcome.BUNDLE})


MALFORMED = [
    pytest.param(
        "version: '1'\nrules:\n  - id: x\n\tevent: y\n", 4, "not valid YAML", id="invalid-yaml"
    ),
    pytest.param("", 1, "empty", id="empty-file"),
    pytest.param("- version: 1\n", 1, "must be a mapping", id="not-a-mapping"),
    pytest.param(
        f"version: '1'\nowner: me\nrules:\n{VALID_RULE}",
        2,
        "unknown key 'owner'",
        id="unknown-top-key",
    ),
    pytest.param("version: '1'\n", 1, "missing key 'rules'", id="no-rules"),
    pytest.param(
        f"version: '1 0'\nrules:\n{VALID_RULE}", 1, "not a policy version", id="bad-version"
    ),
    pytest.param("version: '1'\nrules: []\n", 2, "non-empty list", id="empty-rules"),
    pytest.param(
        policy_with(VALID_RULE.replace("signal_assessed", "signal_received")),
        4,
        "unknown value 'signal_received'",
        id="unknown-event",
    ),
    pytest.param(
        policy_with(VALID_RULE.replace("criminal_referral", "arrest")),
        6,
        "unknown value 'arrest'",
        id="unknown-outcome",
    ),
    pytest.param(
        policy_with(VALID_RULE.replace("[fraud_table]", "[fraud_table, mayor]")),
        7,
        "unknown value 'mayor'",
        id="unknown-group",
    ),
    pytest.param(
        policy_with(VALID_RULE.replace("[fraud_table]", "[fraud_table, fraud_table]")),
        7,
        "appears twice",
        id="repeated-group",
    ),
    pytest.param(
        policy_with(VALID_RULE + VALID_RULE),
        10,
        "repeats the rule at line 3",
        id="repeated-rule-id",
    ),
    pytest.param(
        policy_with(VALID_RULE.replace("    reason_nl:", "    reason_en: again\n    reason_nl:")),
        9,
        "key 'reason_en' appears twice",
        id="duplicate-key",
    ),
    pytest.param(
        policy_with(
            VALID_RULE.replace(
                "    reason_nl: Strafrechtelijke verwijzingen gaan naar de fraudetafel.\n", ""
            )
        ),
        3,
        "missing key 'reason_nl'",
        id="missing-reason-nl",
    ),
    pytest.param(
        policy_with(
            VALID_RULE.replace(
                "reason_en: Criminal", "reason_en: |\n      Two\n      lines. Criminal"
            )
        ),
        8,
        "one line",
        id="reason-on-two-lines",
    ),
    pytest.param(
        policy_with(VALID_RULE.replace("go to the fraud table", "of client 111222333")),
        8,
        "pseudonym or a BSN",
        id="reason-with-a-bsn",
    ),
    pytest.param(
        policy_with(
            VALID_RULE.replace("event: signal_assessed", "event: risk_changed").replace(
                "outcome: criminal_referral", "change: rise\n      priority: P1"
            )
        ),
        7,
        "unknown key 'priority'",
        id="priority-in-a-risk-rule",
    ),
    pytest.param(
        policy_with(
            VALID_RULE.replace("event: signal_assessed", "event: risk_changed").replace(
                "outcome: criminal_referral", "level: red"
            )
        ),
        6,
        "missing key 'change'",
        id="risk-rule-without-change",
    ),
    pytest.param(
        policy_with(
            VALID_RULE.replace("event: signal_assessed", "event: risk_changed")
            .replace("outcome: criminal_referral", "change: rise")
            .replace("[fraud_table]", "[provider_municipality]")
        ),
        7,
        "needs a signal",
        id="provider-municipality-in-a-risk-rule",
    ),
    pytest.param(
        policy_with(
            VALID_RULE.replace("event: signal_assessed", "event: risk_changed")
            .replace("outcome: criminal_referral", "change: rise")
            .replace("[fraud_table]", "[told_of_rise]")
        ),
        7,
        "fall of the risk level only",
        id="told-of-rise-on-a-rise",
    ),
    pytest.param(
        policy_with(VALID_RULE.replace("[fraud_table]", "[fraud_table, igj]")),
        7,
        "IGJ is told only of refer_to_igj",
        id="igj-told-of-a-criminal-referral",
    ),
]


@pytest.mark.parametrize(("text", "line", "problem"), MALFORMED)
def test_a_malformed_policy_is_refused_naming_file_line_and_problem(
    text: str, line: int, problem: str
) -> None:
    with pytest.raises(RoutingError) as refused:
        load_routing(text, origin="regio.yaml")

    message = str(refused.value)
    assert message.startswith(f"regio.yaml:{line}: "), message
    assert problem in message


def test_a_routing_error_is_a_value_error() -> None:
    assert issubclass(RoutingError, ValueError)


def test_a_regions_policy_file_is_read_with_its_path_in_messages(tmp_path: Path) -> None:
    good = tmp_path / "2025.9.yaml"
    good.write_text(policy_with(VALID_RULE), encoding="utf-8")
    bad = tmp_path / "broken.yaml"
    bad.write_text(policy_with(VALID_RULE.replace("fraud_table]", "mayor]")), encoding="utf-8")

    assert load_routing_file(good).version == "2025.9"
    with pytest.raises(RoutingError, match=rf"^{re.escape(str(bad))}:7: "):
        load_routing_file(bad)
    with pytest.raises(RoutingError, match=r":1: cannot be read"):
        load_routing_file(tmp_path / "missing.yaml")


def test_the_setting_puts_the_default_or_a_named_shipped_version_in_force() -> None:
    shipped_2025_1 = resources.files("zicht_notify").joinpath("routing/2025.1.yaml")

    by_default = load_routing_in_force(NotifySettings())
    kept_at_2025_1 = load_routing_in_force(NotifySettings(routing_file=Path(str(shipped_2025_1))))

    assert by_default.version == "2025.2"
    assert kept_at_2025_1.version == "2025.1"
    assert kept_at_2025_1.rules == shipped_routing("2025.1").rules
