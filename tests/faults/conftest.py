"""One running chain for the whole package: four service processes, broker, databases.

Starting the chain is the slow part (four processes, group joins, the registry), so every
scenario and fault shares it; a fault test puts back what it broke before it ends, and
:func:`chain` checks that each test leaves every service running and the broker awake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from faults.chain import SERVICES, Chain, running_chain
from faults.synthetic import SCENARIO_PROVIDERS, spare_providers
from zicht_devtools.devstack import PostgresDatabases

SPARE = 40


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def running(
    databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Chain]:
    """The chain, started once for the package and stopped (every process) at its end."""
    url = await databases.create()
    spare = spare_providers(SPARE)
    registry = [*SCENARIO_PROVIDERS.values(), *spare]
    log_dir: Path = tmp_path_factory.mktemp("chain")
    try:
        async with running_chain(url, registry, [p.provider_id for p in spare], log_dir) as chain:
            yield chain
    finally:
        await databases.drop(url)


@pytest_asyncio.fixture(loop_scope="session")
async def chain(running: Chain) -> AsyncIterator[Chain]:
    """The shared chain; after the test every service must be running again."""
    # The test's period for the operators' command: the chain was quiet when it began.
    running.period_start = datetime.now(UTC)
    yield running
    stopped = [name for name in SERVICES if not running.running(name)]
    if stopped:
        # Leave the chain whole for the next test, and say this one broke it.
        await running.start(*stopped)
        pytest.fail(f"the test left {stopped} stopped")
