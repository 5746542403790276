"""Run the intake service: ``python -m zicht_intake`` (settings from ``ZICHT_*``).

``python -m zicht_intake keys create|list|revoke`` manages partners' API keys.
"""

from __future__ import annotations

import sys

from zicht_intake.api import ROLES
from zicht_intake.app import PseudonymKeyError, create_app
from zicht_intake.config import IntakeSettings
from zicht_runtime.cli import service_main

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments) or manage API keys (``keys ...``)."""
    return service_main(
        argv,
        settings=IntakeSettings(),
        create_app=create_app,
        roles=ROLES,
        refused=(PseudonymKeyError, "its pseudonym key is refused"),
    )


if __name__ == "__main__":
    sys.exit(main())
