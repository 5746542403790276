"""The scoring service's use cases."""

from __future__ import annotations

from dataclasses import dataclass

from zicht_scoring.ports import Clock

__all__ = ["ScoringService"]


@dataclass
class ScoringService:
    """Keeps each provider's risk score and traffic light.

    Decides what the service does with each input; handlers only translate.
    """

    clock: Clock
