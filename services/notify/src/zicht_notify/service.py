"""The notify service's use cases."""

from __future__ import annotations

from dataclasses import dataclass

from zicht_notify.ports import Clock

__all__ = ["NotifyService"]


@dataclass
class NotifyService:
    """Routes assessments and risk changes to related parties as signed webhooks.

    Decides what the service does with each input; handlers only translate.
    """

    clock: Clock
