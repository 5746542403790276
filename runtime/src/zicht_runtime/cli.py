"""The command line every service shares: serve, manage API keys, run a maintenance command.

``python -m zicht_<service>`` serves; ``... keys create|list|revoke`` manages its API keys;
a service may add commands of its own (``reassess``, ``replay``). A policy file the service
refuses is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from zicht_runtime.auth import keys_main
from zicht_runtime.kit import ServiceKit
from zicht_runtime.logs import configure_logging
from zicht_runtime.settings import ServiceSettings

__all__ = ["run_with_kit", "service_main"]

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
ResultT = TypeVar("ResultT")


def service_main(  # the parts of a service's command line, all by keyword
    argv: Sequence[str] | None,
    *,
    settings: SettingsT,
    create_app: Callable[[SettingsT], FastAPI],
    roles: Mapping[str, Sequence[str]],
    commands: Mapping[str, Callable[[list[str], SettingsT], int]] | None = None,
    refused: tuple[type[Exception], str] | None = None,
) -> int:
    """Serve (no arguments), manage API keys (``keys``) or run one of ``commands``.

    Args:
        argv: The arguments after the module name (``sys.argv[1:]`` when None).
        settings: The service's settings, read once.
        create_app: Builds the service's app from its settings.
        roles: The named scope sets the ``keys`` command hands out.
        commands: Extra commands by name, each given its arguments and the settings.
        refused: An error the app raises for a policy file it refuses, and what to say.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    prog = f"python -m zicht_{settings.service_name}"
    if args[:1] == ["keys"]:
        return keys_main(args[1:], settings, roles=roles, prog=prog)
    if args and commands and args[0] in commands:
        return commands[args[0]](args[1:], settings)
    configure_logging(settings.service_name, settings.log_level, json_lines=settings.log_json)
    try:
        app = create_app(settings)
    except Exception as exc:
        if refused is None or not isinstance(exc, refused[0]):
            raise
        print(f"{settings.service_name} cannot start: {refused[1]}: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )
    return 0


async def run_with_kit(kit: ServiceKit, work: Callable[[], Awaitable[ResultT]]) -> ResultT:
    """Run a maintenance command with the service's kit started, then publish and stop.

    The kit brings migrations, topics and the outbox relay; after ``work`` the relay
    publishes what it wrote before the kit stops.
    """
    await kit.start()
    try:
        result = await work()
        await kit.relay.relay_once()
    finally:
        await kit.stop()
    return result
