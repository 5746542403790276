"""Run the intake service: ``python -m zicht_intake`` (settings from ``ZICHT_*``).

``python -m zicht_intake keys create|list|revoke`` manages partners' API keys.
"""

from __future__ import annotations

import sys

import uvicorn

from zicht_intake.api import ROLES
from zicht_intake.app import create_app
from zicht_intake.config import IntakeSettings
from zicht_runtime.auth import keys_main
from zicht_runtime.logs import configure_logging

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments) or manage API keys (``keys ...``)."""
    args = sys.argv[1:] if argv is None else argv
    settings = IntakeSettings()
    if args[:1] == ["keys"]:
        return keys_main(args[1:], settings, roles=ROLES, prog="python -m zicht_intake")
    configure_logging(settings.service_name, settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
