"""The named inputs a framework's conditions may look at, and what kind of value each holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from zicht_schemas.codes import (
    Category,
    CrimeIndicator,
    Law,
    Outcome,
    Severity,
    Shortcoming,
    Source,
    VulnerableGroup,
)

__all__ = ["INPUTS", "InputKind", "InputSpec"]


class InputKind(StrEnum):
    """What kind of value an input holds; it decides which operators a condition may use."""

    CODE = "code"
    """One code, e.g. ``category: quality``."""
    CODES = "codes"
    """A list of codes without repeats, e.g. the crime indicators."""
    SHORTCOMINGS = "shortcomings"
    """A list of shortcoming codes, each quick or complex."""
    FLAG = "flag"
    """Yes or no."""
    COUNT = "count"
    """A whole number of zero or more."""


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input of the condition language: its kind, its codes and where it may be used."""

    name: str
    kind: InputKind
    codes: type[StrEnum] | None = None
    """The contract's codes for a code or list input; a framework's vocabulary is a subset."""
    in_vocabulary: bool = False
    """The framework file lists the values it knows under ``vocabulary: <name>``."""
    outcome_rules: bool = True
    """Outcome rules may look at it (``outcome`` is only known after them)."""


def _specs(*specs: InputSpec) -> Mapping[str, InputSpec]:
    return MappingProxyType({spec.name: spec for spec in specs})


INPUTS: Mapping[str, InputSpec] = _specs(
    InputSpec("law", InputKind.CODE, Law, in_vocabulary=True),
    InputSpec("category", InputKind.CODE, Category, in_vocabulary=True),
    InputSpec("severity", InputKind.CODE, Severity, in_vocabulary=True),
    InputSpec("vulnerable_group", InputKind.CODE, VulnerableGroup, in_vocabulary=True),
    InputSpec("source", InputKind.CODE, Source, in_vocabulary=True),
    InputSpec("crime_indicators", InputKind.CODES, CrimeIndicator, in_vocabulary=True),
    InputSpec("shortcomings", InputKind.SHORTCOMINGS, Shortcoming, in_vocabulary=True),
    InputSpec("fraud_suspected", InputKind.FLAG),
    InputSpec("administrative_error", InputKind.FLAG),
    InputSpec("related_to_region", InputKind.FLAG),
    InputSpec("open_investigation", InputKind.FLAG),
    InputSpec("signals_12_months_including_this", InputKind.COUNT),
    InputSpec("outcome", InputKind.CODE, Outcome, outcome_rules=False),
)
"""Every input by name, in the order the framework file documents them."""
