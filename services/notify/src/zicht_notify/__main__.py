"""Run the notify service: ``python -m zicht_notify`` (settings from ``ZICHT_*``).

``python -m zicht_notify keys create|list|revoke`` manages subscribers' and operators' keys;
``python -m zicht_notify reseal`` seals every webhook secret under the current secret key.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from zicht_notify.api import ROLES
from zicht_notify.app import MIGRATIONS, SecretKeyError, create_app, create_service
from zicht_notify.config import NotifySettings
from zicht_runtime.cli import service_main
from zicht_runtime.db import create_pool
from zicht_runtime.migrations import RUNTIME_MIGRATIONS, apply_migrations

__all__ = ["main"]


def _reseal(argv: list[str], settings: NotifySettings) -> int:
    argparse.ArgumentParser(
        prog="python -m zicht_notify reseal",
        description="Seal every subscription's webhook secrets under the current key of "
        "ZICHT_WEBHOOK_SECRET_KEYS (the first); afterwards the older keys open nothing and "
        "can be removed. Safe while notify runs.",
    ).parse_args(argv)
    try:
        service = create_service(settings)
    except SecretKeyError as exc:
        print(f"notify cannot reseal: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        pool = await create_pool(settings.database_url, settings.db_schema, max_size=1)
        try:
            async with pool.acquire() as conn:
                await apply_migrations(
                    conn,
                    settings.db_schema,
                    [RUNTIME_MIGRATIONS, (settings.service_name, MIGRATIONS)],
                )
                report = await service.reseal(conn)
        finally:
            await pool.close()
        print(
            f"resealed {report.resealed} subscriptions under key {report.key_id} "
            f"({report.were_plain} had plain-text secrets); "
            f"{report.unopenable} could not be opened with these keys"
        )
        return 1 if report.unopenable else 0

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    """Serve (no arguments), manage API keys (``keys ...``) or reseal secrets (``reseal``)."""
    return service_main(
        argv,
        settings=NotifySettings(),
        create_app=create_app,
        roles=ROLES,
        commands={"reseal": _reseal},
        refused=(SecretKeyError, "its webhook secret key is refused"),
    )


if __name__ == "__main__":
    sys.exit(main())
