"""Run the scoring service: ``python -m zicht_scoring`` (settings from ``ZICHT_*``)."""

from __future__ import annotations

import uvicorn

from zicht_runtime.logs import configure_logging
from zicht_scoring.app import create_app
from zicht_scoring.config import ScoringSettings

__all__ = ["main"]


def main() -> None:
    """Start the HTTP API, the consumers and the outbox relay; stop on SIGTERM or Ctrl-C."""
    settings = ScoringSettings()
    configure_logging(settings.service_name, settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
