"""The triage service's use cases."""

from __future__ import annotations

from dataclasses import dataclass

from zicht_triage.ports import Clock

__all__ = ["TriageService"]


@dataclass
class TriageService:
    """Assesses each signal against the versioned framework; keeps investigations.

    Decides what the service does with each input; handlers only translate.
    """

    clock: Clock
