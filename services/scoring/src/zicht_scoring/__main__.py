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

import uvicorn

from zicht_runtime.auth import keys_main
from zicht_runtime.logs import configure_logging
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
        await kit.start()
        try:
            report = await service.replay(kit.pool, model, at=args.at)
            await kit.relay.relay_once()
        finally:
            await kit.stop()
        print(
            f"replayed {report.providers} providers under model {report.model_version}: "
            f"{report.published} changes published"
        )
        return 0

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments), manage API keys (``keys``) or rebuild scores (``replay``)."""
    args = sys.argv[1:] if argv is None else argv
    settings = ScoringSettings()
    if args[:1] == ["keys"]:
        return keys_main(args[1:], settings, roles=ROLES, prog="python -m zicht_scoring")
    if args[:1] == ["replay"]:
        return _replay(args[1:], settings)
    configure_logging(settings.service_name, settings.log_level, json_lines=settings.log_json)
    try:
        app = create_app(settings)
    except ModelError as exc:
        print(f"scoring cannot start: the risk model is refused: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
