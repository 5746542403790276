"""Run the triage service: ``python -m zicht_triage`` (settings from ``ZICHT_*``).

``python -m zicht_triage keys create|list|revoke`` manages supervisors' API keys;
``python -m zicht_triage reassess --framework FILE`` re-assesses under a new framework.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from zicht_runtime.cli import run_with_kit, service_main
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
        kit = create_kit(settings, service)
        report = await run_with_kit(kit, lambda: service.reassess(kit.pool, framework))
        print(
            f"re-assessed {report.assessed} signals decided under "
            f"{', '.join(report.from_versions) or '-'} with {report.to_version}: "
            f"{report.changed} decisions changed and were published"
        )
        return 0

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments), manage API keys (``keys``) or re-assess (``reassess``)."""
    return service_main(
        argv,
        settings=TriageSettings(),
        create_app=create_app,
        roles=ROLES,
        commands={"reassess": _reassess},
        refused=(FrameworkError, "the assessment framework is refused"),
    )


if __name__ == "__main__":
    sys.exit(main())
