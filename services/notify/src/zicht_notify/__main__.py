"""Run the notify service: ``python -m zicht_notify`` (settings from ``ZICHT_*``).

``python -m zicht_notify keys create|list|revoke`` manages subscribers' and operators' keys.
"""

from __future__ import annotations

import sys

from zicht_notify.api import ROLES
from zicht_notify.app import create_app
from zicht_notify.config import NotifySettings
from zicht_runtime.cli import service_main

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments) or manage API keys (``keys ...``)."""
    return service_main(argv, settings=NotifySettings(), create_app=create_app, roles=ROLES)


if __name__ == "__main__":
    sys.exit(main())
