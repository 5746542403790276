"""Run the triage service: ``python -m zicht_triage`` (settings from ``ZICHT_*``).

``python -m zicht_triage keys create|list|revoke`` manages supervisors' API keys;
``python -m zicht_triage reassess --framework FILE`` re-assesses under a new framework.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import uvicorn

from zicht_runtime.auth import keys_main
from zicht_runtime.kit import ServiceKit
from zicht_runtime.logs import configure_logging
from zicht_triage.api import ROLES
from zicht_triage.app import create_app, create_kit, create_service
from zicht_triage.config import TriageSettings
from zicht_triage.domain import FrameworkError, load_framework_file

__all__ = ["main"]


def _reassess(argv: list[str], settings: TriageSettings) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zicht_triage reassess",
        description="Re-assess every signal under a framework version; publish the "
        "decisions that change (each marked as a re-assessment with both versions).",
    )
    parser.add_argument("--framework", type=Path, required=True, help="the framework YAML")
    args = parser.parse_args(argv)
    try:
        framework = load_framework_file(args.framework)
    except FrameworkError as exc:
        print(f"framework refused: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        service = create_service(settings)
        kit: ServiceKit = create_kit(settings, service)
        await kit.start()  # migrations, topics and the outbox relay that publishes
        try:
            report = await service.reassess(kit.pool, framework)
            await kit.relay.relay_once()
        finally:
            await kit.stop()
        print(
            f"re-assessed {report.assessed} signals decided under "
            f"{', '.join(report.from_versions) or '-'} with {report.to_version}: "
            f"{report.changed} decisions changed and were published"
        )
        return 0

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments), manage API keys (``keys``) or re-assess (``reassess``)."""
    args = sys.argv[1:] if argv is None else argv
    settings = TriageSettings()
    if args[:1] == ["keys"]:
        return keys_main(args[1:], settings, roles=ROLES, prog="python -m zicht_triage")
    if args[:1] == ["reassess"]:
        return _reassess(args[1:], settings)
    configure_logging(settings.service_name, settings.log_level, json_lines=settings.log_json)
    try:
        app = create_app(settings)
    except FrameworkError as exc:
        print(f"triage cannot start: the assessment framework is refused: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
