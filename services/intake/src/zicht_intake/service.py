"""The intake service's use cases."""

from __future__ import annotations

from dataclasses import dataclass

from zicht_intake.ports import Clock

__all__ = ["IntakeService"]


@dataclass
class IntakeService:
    """Records partners' signals, identifies the provider, pseudonymises and publishes.

    Decides what the service does with each input; handlers only translate.
    """

    clock: Clock
