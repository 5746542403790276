"""Run the notify service: ``python -m zicht_notify`` (settings from ``ZICHT_*``).

``python -m zicht_notify keys create|list|revoke`` manages subscribers' and operators' keys.
"""

from __future__ import annotations

import sys

import uvicorn

from zicht_notify.api import ROLES
from zicht_notify.app import create_app
from zicht_notify.config import NotifySettings
from zicht_runtime.auth import keys_main
from zicht_runtime.logs import configure_logging

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments) or manage API keys (``keys ...``)."""
    args = sys.argv[1:] if argv is None else argv
    settings = NotifySettings()
    if args[:1] == ["keys"]:
        return keys_main(args[1:], settings, roles=ROLES, prog="python -m zicht_notify")
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
