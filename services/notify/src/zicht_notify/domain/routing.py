"""Routing as policy data: who is told of an assessed signal or a risk change, and why.

The policy is a versioned YAML file, the table of policy.md section 3. Every version ever
shipped stays in the package (``routing/<version>.yaml``, :data:`SHIPPED_ROUTING_VERSIONS`) so
a region can keep one in force; the newest, :data:`DEFAULT_ROUTING_VERSION`, is the default.
:func:`route` is pure: given an event, what notify knows of the provider's relations and who
was told of an earlier rise, it returns the recipients with the rule and reason that chose each.

Decisions where the policy page is silent:

- Every rule that applies fires, in file order; a recipient named by two rules is routed once,
  under the first rule (one route per recipient per event; its reason is that rule's).
- Order is deterministic: rules in file order, recipient groups in the rule's order, recipients
  within a group by id.
- A signal's own municipality counts as related for that signal (the signal concerns a
  location there), even when the registry has not caught up, or notify does not know the
  provider at all. Without relations, notify therefore routes what the signal itself supports:
  its municipality and that municipality's region; contracting municipalities are unknown and
  a risk change reaches nobody but those told of a rise.
- Region groups (casus tables, supervisors) of a signal mean the region of the signal's
  municipality; when that municipality is in no region (or for a risk change), every region
  the provider is related to.
- A recipient that is not related to the provider is dropped, except for the municipality of
  an ``out_of_region`` signal and a fall, which goes to exactly those told of the rise (they
  heard the provider was orange or red and must not keep that picture).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final, TypeVar

import yaml

from zicht_notify.domain.recipients import (
    ProviderRelations,
    Recipient,
    is_related_to,
    regions_of,
)
from zicht_schemas import (
    Outcome,
    Priority,
    ProviderRiskChangedV1,
    RiskLevel,
    SignalAssessedV1,
    carries_personal_data,
)
from zicht_schemas.regions import regions

__all__ = [
    "DEFAULT_ROUTING_RESOURCE",
    "DEFAULT_ROUTING_VERSION",
    "SHIPPED_ROUTING_VERSIONS",
    "EventKind",
    "RecipientGroup",
    "RiskChange",
    "Route",
    "RoutingError",
    "RoutingPolicy",
    "RoutingRule",
    "default_routing",
    "load_routing",
    "load_routing_file",
    "risk_change",
    "route",
    "shipped_routing",
    "shipped_routing_resource",
]

SHIPPED_ROUTING_VERSIONS: Final = ("2025.1", "2025.2")
"""The routing versions shipped inside the ``zicht_notify`` package, oldest first.

2025.1 sends a ``refer_to_igj`` assessment to IGJ only; 2025.2 also informs the municipality
of the location concerned and the contracting municipalities, as rule R2 tells the signaller.
"""

DEFAULT_ROUTING_VERSION: Final = SHIPPED_ROUTING_VERSIONS[-1]
"""The version in force unless a routing file is configured."""


def shipped_routing_resource(version: str) -> str:
    """Where a shipped version lives inside the ``zicht_notify`` package.

    Raises:
        RoutingError: When ``version`` is not one notify ships.
    """
    if version not in SHIPPED_ROUTING_VERSIONS:
        known = ", ".join(SHIPPED_ROUTING_VERSIONS)
        raise RoutingError(f"routing version {version!r} is not shipped (shipped: {known})")
    return f"routing/{version}.yaml"


DEFAULT_ROUTING_RESOURCE: Final = shipped_routing_resource(DEFAULT_ROUTING_VERSION)
"""The default policy, inside the ``zicht_notify`` package."""

RoutedEvent = SignalAssessedV1 | ProviderRiskChangedV1
"""The events notify routes."""


class RoutingError(ValueError):
    """A routing policy file is malformed; the message is ``<origin>:<line>: <problem>``."""


class EventKind(StrEnum):
    """Which event a routing rule is about."""

    SIGNAL_ASSESSED = "signal_assessed"
    """``triage.signal-assessed.v1``."""
    RISK_CHANGED = "risk_changed"
    """``scoring.provider-risk-changed.v1``."""


class RiskChange(StrEnum):
    """How a provider's traffic light moved."""

    RISE = "rise"
    """The level rank went up (a first evaluation counts as coming from green)."""
    FALL = "fall"
    """The level rank went down."""


class RecipientGroup(StrEnum):
    """A group of recipients a routing rule names; resolved per event and provider."""

    LOCATION_MUNICIPALITY = "location_municipality"
    """A signal: the municipality of the location concerned. A risk change: every location's."""
    CONTRACTING_MUNICIPALITIES = "contracting_municipalities"
    """Every municipality that contracts the provider."""
    RELATED_MUNICIPALITIES = "related_municipalities"
    """Every municipality related by a location or a contract."""
    FRAUD_TABLE = "fraud_table"
    """The region's care-fraud casus table (RIEC)."""
    COORDINATION_TABLE = "coordination_table"
    """The region's coordination casus table."""
    SUPERVISORS = "supervisors"
    """The region's supervisors."""
    IGJ = "igj"
    """The Health and Youth Care Inspectorate."""
    PROVIDER_MUNICIPALITY = "provider_municipality"
    """An out-of-region signal: the municipality where the provider is (may be unrelated)."""
    TOLD_OF_RISE = "told_of_rise"
    """A fall: exactly those who were told of the rise (kept by the service)."""


# Groups that need a signal's municipality, and the one that needs a fall.
_SIGNAL_ONLY: Final = frozenset({RecipientGroup.PROVIDER_MUNICIPALITY})
_RISK_ONLY: Final = frozenset({RecipientGroup.TOLD_OF_RISE})
# Groups whose recipients are routed even when unrelated to the provider.
_MAY_BE_UNRELATED: Final = frozenset(
    {RecipientGroup.PROVIDER_MUNICIPALITY, RecipientGroup.TOLD_OF_RISE}
)
# IGJ is told only what it supervises: youth-care quality and Wlz care.
_IGJ_OUTCOMES: Final = frozenset({Outcome.REFER_TO_IGJ, Outcome.OUT_OF_SCOPE})


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """One row of the routing table: when it applies and whom it tells, with its reason."""

    id: str
    event: EventKind
    recipients: tuple[RecipientGroup, ...]
    reason_en: str
    reason_nl: str
    outcomes: frozenset[Outcome] | None = None
    """Signal rules: the outcomes it applies to."""
    priorities: frozenset[Priority] | None = None
    """Signal rules: only these priorities (None: any)."""
    change: RiskChange | None = None
    """Risk rules: a rise or a fall."""
    levels: frozenset[RiskLevel] | None = None
    """Risk rules: only when the new level is one of these (None: any)."""

    def applies_to(self, event: RoutedEvent) -> bool:
        """Whether this rule fires for ``event``."""
        if isinstance(event, SignalAssessedV1):
            return (
                self.event is EventKind.SIGNAL_ASSESSED
                and (self.outcomes is None or event.outcome in self.outcomes)
                and (self.priorities is None or event.priority in self.priorities)
            )
        return (
            self.event is EventKind.RISK_CHANGED
            and self.change is not None
            and risk_change(event) is self.change
            and (self.levels is None or event.level in self.levels)
        )


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """A versioned routing table; every alert records the version that routed it."""

    version: str
    rules: tuple[RoutingRule, ...]
    origin: str = field(default="", compare=False)
    """Where it was read from, for messages and logs."""


@dataclass(frozen=True, slots=True)
class Route:
    """One recipient of an event, with the rule that chose it and why."""

    recipient: Recipient
    rule_id: str
    reason_en: str
    reason_nl: str
    related: bool
    """Whether the recipient is related to the provider (False only for out-of-region and
    for a fall reaching a party that is no longer related)."""
    policy_version: str
    """The routing policy version that chose this recipient."""


def risk_change(event: ProviderRiskChangedV1) -> RiskChange | None:
    """A rise, a fall, or None when the level stayed; a first evaluation comes from green."""
    previous = event.previous_level or RiskLevel.GREEN
    if event.level.is_higher_than(previous):
        return RiskChange.RISE
    if event.level.is_lower_than(previous):
        return RiskChange.FALL
    return None


def route(
    event: RoutedEvent,
    relations: ProviderRelations | None,
    policy: RoutingPolicy,
    told_of_rise: frozenset[Recipient] = frozenset(),
) -> tuple[Route, ...]:
    """Who must be told of ``event``, and why; deterministic, each recipient once.

    Args:
        event: An assessed signal or a provider's risk change.
        relations: What notify knows of the provider from the registry; None when it does not
            know the provider (see the module docstring for what is routed then).
        policy: The routing policy in force.
        told_of_rise: For a fall: everyone who was told of the rise (the service keeps it).

    Returns:
        The routes in a stable order: rules in file order, groups in rule order, recipients
        within a group by id. No recipient appears twice (the first rule keeps it).

    Raises:
        ValueError: When ``relations`` are about another provider than ``event``.
    """
    if relations is not None and relations.provider_id != event.provider_id:
        raise ValueError("relations are about another provider than the event")
    municipalities = relations.related_municipalities if relations else frozenset()
    if isinstance(event, SignalAssessedV1):
        municipalities |= {event.municipality_code}
    region_ids = regions_of(municipalities)
    routes: dict[Recipient, Route] = {}
    for rule in policy.rules:
        if not rule.applies_to(event):
            continue
        for group in rule.recipients:
            for recipient in _members(group, event, relations, region_ids, told_of_rise):
                if recipient in routes:
                    continue
                related = is_related_to(recipient, municipalities, region_ids)
                if not related and group not in _MAY_BE_UNRELATED:
                    continue
                routes[recipient] = Route(
                    recipient=recipient,
                    rule_id=rule.id,
                    reason_en=rule.reason_en,
                    reason_nl=rule.reason_nl,
                    related=related,
                    policy_version=policy.version,
                )
    return tuple(routes.values())


def _members(
    group: RecipientGroup,
    event: RoutedEvent,
    relations: ProviderRelations | None,
    region_ids: frozenset[str],
    told_of_rise: frozenset[Recipient],
) -> list[Recipient]:
    """The recipients ``group`` stands for, for this event and provider, sorted by id."""
    signal = event if isinstance(event, SignalAssessedV1) else None
    codes: Iterable[str]
    if group is RecipientGroup.TOLD_OF_RISE:
        return sorted(told_of_rise, key=lambda r: r.sort_key)
    if group is RecipientGroup.IGJ:
        return [Recipient.igj()]
    if group in {RecipientGroup.PROVIDER_MUNICIPALITY, RecipientGroup.LOCATION_MUNICIPALITY}:
        if signal is not None:
            codes = {signal.municipality_code}
        elif group is RecipientGroup.LOCATION_MUNICIPALITY and relations is not None:
            codes = relations.location_municipalities
        else:
            codes = ()
        return [Recipient.municipality(code) for code in sorted(codes)]
    if group is RecipientGroup.CONTRACTING_MUNICIPALITIES:
        codes = relations.contracting_municipalities if relations else ()
        return [Recipient.municipality(code) for code in sorted(codes)]
    if group is RecipientGroup.RELATED_MUNICIPALITIES:
        codes = set(relations.related_municipalities) if relations else set()
        if signal is not None:
            codes.add(signal.municipality_code)
        return [Recipient.municipality(code) for code in sorted(codes)]
    return _regional(group, signal, region_ids)


def _regional(
    group: RecipientGroup, signal: SignalAssessedV1 | None, region_ids: frozenset[str]
) -> list[Recipient]:
    catalogue = regions()
    own = catalogue.region_of(signal.municipality_code) if signal is not None else None
    chosen = [own] if own is not None else [catalogue.region(rid) for rid in sorted(region_ids)]
    found: list[Recipient] = []
    for region in chosen:
        if region is None:
            continue
        if group is RecipientGroup.FRAUD_TABLE:
            found.append(Recipient.casus_table(region.fraud_table.id))
        elif group is RecipientGroup.COORDINATION_TABLE:
            found.append(Recipient.casus_table(region.coordination_table.id))
        else:
            found.append(Recipient.supervisors(region.id))
    return sorted(found, key=lambda r: r.sort_key)


# --- reading the policy file -------------------------------------------------------------

_VERSION: Final = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$")
_RULE_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_TEXT: Final = 500
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")  # a reason is one line, as RuleText
_TOP_KEYS: Final = frozenset({"version", "title", "rules"})
_RULE_KEYS: Final = frozenset({"id", "event", "when", "recipients", "reason_en", "reason_nl"})
_WHEN_KEYS: Final = {
    EventKind.SIGNAL_ASSESSED: frozenset({"outcome", "priority"}),
    EventKind.RISK_CHANGED: frozenset({"change", "level"}),
}
_REQUIRED_WHEN: Final = {EventKind.SIGNAL_ASSESSED: "outcome", EventKind.RISK_CHANGED: "change"}

_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class _Reader:
    """Reads YAML nodes, failing with the file and line of the node at fault."""

    origin: str

    def fail(self, node: yaml.Node | None, problem: str) -> RoutingError:
        line = node.start_mark.line + 1 if node is not None else 1
        return RoutingError(f"{self.origin}:{line}: {problem}")

    def mapping(
        self,
        node: yaml.Node,
        what: str,
        allowed: frozenset[str],
        required: Iterable[str] = (),
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, f"{what}: keys must be plain names")
            key = key_node.value
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(key_node, f"{what}: unknown key {key!r} (known: {known})")
            if key in found:
                raise self.fail(key_node, f"{what}: key {key!r} appears twice")
            found[key] = value_node
        for key in required:
            if key not in found:
                raise self.fail(node, f"{what}: missing key {key!r}")
        return found

    def text(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        if node.tag == "tag:yaml.org,2002:null" or not node.value.strip():
            raise self.fail(node, f"{what} is empty")
        return str(node.value)

    def reason(self, node: yaml.Node, what: str) -> str:
        text = self.text(node, what).strip()
        if _CONTROL.search(text):
            raise self.fail(node, f"{what} must be one line")
        if len(text) > _MAX_TEXT:
            raise self.fail(node, f"{what} is longer than {_MAX_TEXT} characters")
        if carries_personal_data(text):
            raise self.fail(node, f"{what} looks like it carries a pseudonym or a BSN")
        return text

    def codes(self, node: yaml.Node, what: str, enum: type[_E]) -> frozenset[_E]:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not items:
            raise self.fail(node, f"{what} is empty")
        return frozenset(self.code(item, what, enum) for item in items)

    def code(self, node: yaml.Node, what: str, enum: type[_E]) -> _E:
        value = self.text(node, what)
        try:
            return enum(value)
        except ValueError:
            known = ", ".join(member.value for member in enum)
            raise self.fail(node, f"{what}: unknown value {value!r} (known: {known})") from None


def load_routing(text: str, *, origin: str) -> RoutingPolicy:
    """Read a routing policy from YAML, refusing anything malformed or beyond the policy.

    The file holds ``version`` (e.g. ``2025.1``; write it quoted or not, the text is kept),
    an optional ``title`` and ``rules``: each with ``id``, ``event`` (``signal_assessed`` or
    ``risk_changed``), ``when`` (signals: ``outcome`` and optionally ``priority``; risk:
    ``change`` rise or fall and optionally the new ``level``; a value or a list),
    ``recipients`` (a list of :class:`RecipientGroup` values) and ``reason_en`` /
    ``reason_nl`` (one line each).

    Args:
        text: The YAML text.
        origin: Where it came from (a file name), for messages.

    Returns:
        The policy.

    Raises:
        RoutingError: ``"<origin>:<line>: <problem>"`` for invalid YAML, a missing or unknown
            key, an unknown code or group, a repeated rule id, a group that does not fit its
            event, IGJ told of anything but ``refer_to_igj`` / ``out_of_scope``, a reason on
            several lines or that looks like personal data.
    """
    reader = _Reader(origin)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise RoutingError(f"{origin}:{line}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise RoutingError(f"{origin}:1: not valid YAML: {exc}") from None
    if root is None:
        raise RoutingError(f"{origin}:1: the file is empty")
    top = reader.mapping(root, "the policy", _TOP_KEYS, required=("version", "rules"))
    version = reader.text(top["version"], "version")
    if not _VERSION.fullmatch(version):
        raise reader.fail(top["version"], f"version {version!r} is not a policy version")
    if "title" in top:
        reader.reason(top["title"], "title")
    rules_node = top["rules"]
    if not isinstance(rules_node, yaml.SequenceNode) or not rules_node.value:
        raise reader.fail(rules_node, "rules must be a non-empty list")
    rules: list[RoutingRule] = []
    seen: dict[str, int] = {}
    for rule_node in rules_node.value:
        rule = _read_rule(reader, rule_node)
        if rule.id in seen:
            raise reader.fail(
                rule_node, f"rule id {rule.id!r} repeats the rule at line {seen[rule.id]}"
            )
        seen[rule.id] = rule_node.start_mark.line + 1
        rules.append(rule)
    return RoutingPolicy(version=version, rules=tuple(rules), origin=origin)


def _read_rule(reader: _Reader, node: yaml.Node) -> RoutingRule:
    keys = reader.mapping(node, "a rule", _RULE_KEYS, required=sorted(_RULE_KEYS))
    rule_id = reader.text(keys["id"], "id")
    if not _RULE_ID.fullmatch(rule_id):
        raise reader.fail(keys["id"], f"rule id {rule_id!r}: letters, digits, '.', '_', '-' only")
    what = f"rule {rule_id}"
    event = reader.code(keys["event"], f"{what}: event", EventKind)
    when = reader.mapping(
        keys["when"], f"{what}: when", _WHEN_KEYS[event], required=(_REQUIRED_WHEN[event],)
    )
    groups = _read_groups(reader, keys["recipients"], what)
    parsed = _Conditions.read(reader, when, what)
    _check_groups(reader, keys["recipients"], what, event=event, groups=groups, conditions=parsed)
    return RoutingRule(
        id=rule_id,
        event=event,
        recipients=groups,
        reason_en=reader.reason(keys["reason_en"], f"{what}: reason_en"),
        reason_nl=reader.reason(keys["reason_nl"], f"{what}: reason_nl"),
        outcomes=parsed.outcomes,
        priorities=parsed.priorities,
        change=parsed.change,
        levels=parsed.levels,
    )


@dataclass(frozen=True, slots=True)
class _Conditions:
    outcomes: frozenset[Outcome] | None
    priorities: frozenset[Priority] | None
    change: RiskChange | None
    levels: frozenset[RiskLevel] | None

    @classmethod
    def read(cls, reader: _Reader, when: Mapping[str, yaml.Node], what: str) -> _Conditions:
        def codes(key: str, enum: type[_E]) -> frozenset[_E] | None:
            return reader.codes(when[key], f"{what}: {key}", enum) if key in when else None

        return cls(
            outcomes=codes("outcome", Outcome),
            priorities=codes("priority", Priority),
            change=reader.code(when["change"], f"{what}: change", RiskChange)
            if "change" in when
            else None,
            levels=codes("level", RiskLevel),
        )


def _read_groups(reader: _Reader, node: yaml.Node, what: str) -> tuple[RecipientGroup, ...]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise reader.fail(node, f"{what}: recipients must be a non-empty list")
    groups: list[RecipientGroup] = []
    for item in node.value:
        group = reader.code(item, f"{what}: recipients", RecipientGroup)
        if group in groups:
            raise reader.fail(item, f"{what}: recipient group {group.value!r} appears twice")
        groups.append(group)
    return tuple(groups)


def _check_groups(
    reader: _Reader,
    node: yaml.Node,
    what: str,
    *,
    event: EventKind,
    groups: tuple[RecipientGroup, ...],
    conditions: _Conditions,
) -> None:
    def refuse(problem: str) -> RoutingError:
        return reader.fail(node, f"{what}: {problem}")

    for group in groups:
        if event is EventKind.RISK_CHANGED and group in _SIGNAL_ONLY:
            raise refuse(f"{group.value} needs a signal; a risk change has no municipality")
        if event is EventKind.SIGNAL_ASSESSED and group in _RISK_ONLY:
            raise refuse(f"{group.value} applies to a fall of the risk level only")
        if group is RecipientGroup.TOLD_OF_RISE and conditions.change is not RiskChange.FALL:
            raise refuse(f"{group.value} applies to a fall of the risk level only")
        if group is RecipientGroup.IGJ and not (
            conditions.outcomes is not None and conditions.outcomes <= _IGJ_OUTCOMES
        ):
            raise refuse("IGJ is told only of refer_to_igj and out_of_scope signals")


def load_routing_file(path: Path) -> RoutingPolicy:
    """Read a region's routing policy file (UTF-8 YAML), e.g. the one configured.

    Raises:
        RoutingError: ``"<path>:<line>: <problem>"`` as :func:`load_routing`, and
            ``"<path>:1: ..."`` when the file cannot be read.
    """
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RoutingError(f"{path}:1: cannot be read: {reason}") from None
    return load_routing(text, origin=str(path))


@cache
def shipped_routing(version: str) -> RoutingPolicy:
    """A routing version shipped with notify, read once from the package.

    Raises:
        RoutingError: When ``version`` is not shipped, or its file does not say it is that
            version.
    """
    name = shipped_routing_resource(version)
    resource = resources.files("zicht_notify").joinpath(name)
    policy = load_routing(resource.read_text("utf-8"), origin=f"zicht_notify/{name}")
    if policy.version != version:
        raise RoutingError(f"zicht_notify/{name}:1: the file says version {policy.version!r}")
    return policy


def default_routing() -> RoutingPolicy:
    """The default routing policy (:data:`DEFAULT_ROUTING_VERSION`), read once."""
    return shipped_routing(DEFAULT_ROUTING_VERSION)
