"""Pytest plugin: a real Postgres and a real Kafka-protocol broker for connected tests.

Fixtures: ``postgres_url``, ``databases`` and ``fresh_database`` (Postgres), ``kafka_bootstrap``,
``unique_topic`` and ``unique_group`` (Kafka), ``infrastructure`` (which backends were chosen).
Any test that uses one of the server fixtures, directly or through other fixtures, is marked
``connected``. When a server cannot start, those tests error with the reason; they never skip.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from zicht_devtools.devstack import PostgresDatabases

from .backends import Infrastructure

__all__ = [
    "CONNECTED_FIXTURES",
    "databases",
    "fresh_database",
    "infrastructure",
    "kafka_bootstrap",
    "postgres_url",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "unique_group",
    "unique_topic",
]

CONNECTED_FIXTURES = frozenset({"postgres_url", "databases", "fresh_database", "kafka_bootstrap"})

_INFRASTRUCTURE = pytest.StashKey[Infrastructure]()
_OUTCOME_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 2}


def _infrastructure(config: pytest.Config) -> Infrastructure:
    if _INFRASTRUCTURE not in config.stash:
        config.stash[_INFRASTRUCTURE] = Infrastructure(os.environ)
    return config.stash[_INFRASTRUCTURE]


# --- hooks ---------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    """Count connected outcomes for the terminal summary."""
    config.pluginmanager.register(_ConnectedTally(config), "zicht-connected-tally")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which Postgres and broker connected tests will use (started on first use)."""
    return [backend.header() for backend in _infrastructure(config).backends]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs a server as ``connected``, so ``-m`` selections stay honest;
    and group the tests for ``pytest -n N --dist loadgroup`` so each group's module- and
    package-scoped services start on one worker only."""
    tests = config.rootpath / "tests"
    for item in items:
        # fixturenames is the transitive closure: a fixture built on fresh_database counts too.
        if CONNECTED_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.connected)
        item.add_marker(pytest.mark.xdist_group(_group_of(item.path, tests)))


def _group_of(path: Path, tests: Path) -> str:
    """A test's group: its package when that is a package (its fixtures may be package-scoped,
    as the chain under faults is), else its file."""
    try:
        relative = path.relative_to(tests)
    except ValueError:
        return str(path)
    top = tests / relative.parts[0]
    if len(relative.parts) > 1 and (top / "__init__.py").exists():
        return relative.parts[0]
    return str(relative)


class _ConnectedTally:
    """Counts connected tests by outcome; the summary line proves in CI that they ran."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._outcomes: dict[str, str] = {}
        self._workers: dict[str, list[str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if "connected" not in report.keywords:
            return
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "skipped"
        elif report.when == "call":
            outcome = "passed"
        else:
            return
        # A test reports up to three phases; keep the worst (a teardown error beats a pass).
        previous = self._outcomes.get(report.nodeid)
        if previous is None or _OUTCOME_RANK[outcome] >= _OUTCOME_RANK[previous]:
            self._outcomes[report.nodeid] = outcome

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        counts = dict.fromkeys(("passed", "failed", "error", "skipped"), 0)
        for outcome in self._outcomes.values():
            counts[outcome] += 1
        labels = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped"}
        tally = ", ".join(f"{number} {labels[outcome]}" for outcome, number in counts.items())
        terminalreporter.write_sep("-", f"connected tests: {tally}")
        if _INFRASTRUCTURE in self._config.stash:
            for backend in self._config.stash[_INFRASTRUCTURE].backends:
                terminalreporter.write_line(backend.summary())
        for worker, lines in sorted(self._workers.items()):
            for line in lines:
                terminalreporter.write_line(f"[{worker}] {line}")

    # With pytest-xdist, each worker starts its own servers and tells the controller where.

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(session.config, "workeroutput", None)
        if output is not None and _INFRASTRUCTURE in self._config.stash:
            output["zicht_backends"] = [
                b.summary() for b in self._config.stash[_INFRASTRUCTURE].backends
            ]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        del error  # a crashed worker is reported by xdist itself
        output = getattr(node, "workeroutput", {})
        name = str(getattr(getattr(node, "gateway", None), "id", "worker"))
        self._workers[name] = [str(line) for line in output.get("zicht_backends", [])]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def infrastructure(pytestconfig: pytest.Config) -> Infrastructure:
    """The chosen backends (source, description, whether started); starts nothing itself."""
    return _infrastructure(pytestconfig)


@pytest.fixture(scope="session")
def postgres_url(infrastructure: Infrastructure) -> Iterator[str]:
    """A superuser URL of a real Postgres for the session (its maintenance database)."""
    with infrastructure.postgres() as url:
        yield url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def databases(postgres_url: str) -> AsyncIterator[PostgresDatabases]:
    """Throwaway databases on the session's server; all dropped when the session ends."""
    factory = PostgresDatabases(postgres_url)
    try:
        yield factory
    finally:
        await factory.close()


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_database(databases: PostgresDatabases) -> AsyncIterator[str]:
    """The URL of a new, empty database of this test's own, dropped after it."""
    url = await databases.create()
    yield url
    await databases.drop(url)


@pytest.fixture(scope="session")
def kafka_bootstrap(infrastructure: Infrastructure) -> Iterator[str]:
    """Bootstrap servers of a real Kafka-protocol broker for the session."""
    with infrastructure.kafka() as servers:
        yield servers


def _name_factory(request: pytest.FixtureRequest) -> Callable[[str], str]:
    # The test's name in the topic makes a broker's topic list readable; the uuid makes it
    # unique across tests, parametrisations, reruns and runs sharing one broker.
    test = re.sub(r"[^a-zA-Z0-9-]+", "-", request.node.name).strip("-")[:60]

    def name(prefix: str) -> str:
        return f"{prefix}.{test}.{uuid.uuid4().hex[:8]}"

    return name


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_topic("signals")`` gives a topic name no other test uses."""
    return _name_factory(request)


@pytest.fixture
def unique_group(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_group("triage")`` gives a consumer group id no other test uses."""
    return _name_factory(request)
