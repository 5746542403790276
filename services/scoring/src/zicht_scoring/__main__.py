"""Run the scoring service: ``python -m zicht_scoring`` (settings from ``ZICHT_*``).

``python -m zicht_scoring keys create|list|revoke`` manages API keys of the risk register;
``python -m zicht_scoring replay [--model FILE] [--at ISO-TIME]`` rebuilds every score.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

from zicht_runtime.cli import run_with_kit, service_main
from zicht_scoring.api import ROLES
from zicht_scoring.app import create_app, create_kit, create_service
from zicht_scoring.config import ScoringSettings
from zicht_scoring.domain import ModelError, default_model, load_model_file

__all__ = ["main"]


def _replay(argv: list[str], settings: ScoringSettings) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zicht_scoring replay",
        description="Score every provider again from scoring's stored inputs under a model "
        "version; publish only what differs from what was last published.",
    )
    parser.add_argument("--model", type=Path, help="the risk model YAML (default: shipped)")
    parser.add_argument("--at", type=datetime.fromisoformat, help="the moment (default: now)")
    args = parser.parse_args(argv)
    try:
        model = load_model_file(args.model) if args.model else default_model()
    except ModelError as exc:
        print(f"model refused: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        service = create_service(settings)
        kit = create_kit(settings, service)
        report = await run_with_kit(kit, lambda: service.replay(kit.pool, model, at=args.at))
        print(
            f"replayed {report.providers} providers under model {report.model_version}: "
            f"{report.published} changes published"
        )
        return 0

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments), manage API keys (``keys``) or rebuild scores (``replay``)."""
    return service_main(
        argv,
        settings=ScoringSettings(),
        create_app=create_app,
        roles=ROLES,
        commands={"replay": _replay},
        refused=(ModelError, "the risk model is refused"),
    )


if __name__ == "__main__":
    sys.exit(main())
