"""The servers a benchmark runs against: Postgres, the broker, and the four services as processes.

Everything is started fresh for each benchmark and stopped afterwards, as ``make run`` starts
it: a durable local Postgres (fsync on, as a deployment runs it), the Tansu Kafka-protocol
broker, and each service as ``python -m zicht_<name>`` with its ``ZICHT_*`` environment. A
service's start-up time is measured from the moment its process is spawned to its first
``/readyz`` 200.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import asyncpg

from bench.common import cpu_seconds, rss_mib
from zicht_devtools.devstack import LocalBroker, LocalPostgres, find_free_port
from zicht_runtime.auth import KeyStore
from zicht_runtime.db import create_pool
from zicht_schemas.regions import regions

# Intake's pseudonym key for this benchmark process: random, never a built-in one.
_PSEUDONYM_KEY: Final = secrets.token_urlsafe(48)
_WEBHOOK_SECRET_KEYS: Final = f"bench:{secrets.token_urlsafe(32)}"

__all__ = [
    "SERVICES",
    "Infra",
    "Keys",
    "ServiceProcess",
    "Services",
    "issue_keys",
]

SERVICES: Final = ("intake", "triage", "scoring", "notify")
_READY_TIMEOUT_S: Final = 120.0
_READY_POLL_S: Final = 0.05
_STOP_TIMEOUT_S: Final = 20.0


class Infra:
    """A fresh durable Postgres and a fresh broker; usable as a context manager."""

    def __init__(
        self, workdir: Path, *, durable: bool = True, postgres: bool = True, broker: bool = True
    ) -> None:
        self.workdir = workdir
        self.durable = durable
        self.with_postgres = postgres
        self.with_broker = broker
        self._pg_dir = Path(tempfile.mkdtemp(prefix="zicht-bench-pg-"))
        self.postgres = LocalPostgres(self._pg_dir, durable=durable)
        self.broker = LocalBroker(log_path=workdir / "broker.log")

    def __enter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.with_postgres:
            self.postgres.start()
        try:
            if self.with_broker:
                self.broker.start()
        except BaseException:
            self.postgres.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.broker.stop()
        self.postgres.stop()
        shutil.rmtree(self._pg_dir, ignore_errors=True)

    @property
    def bootstrap(self) -> str:
        """The broker's ``host:port``."""
        return self.broker.bootstrap_servers

    async def database(self, name: str = "zicht") -> str:
        """Create database ``name`` (once) and return its URL."""
        conn = await asyncpg.connect(self.postgres.url)
        try:
            exists = await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.postgres.dsn_for(name)

    def versions(self) -> tuple[str, str]:
        """Postgres and broker versions, for the results' machine section."""
        done = subprocess.run(  # noqa: S603 - a resolved binary path, no shell
            [str(self.postgres.bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        pg = done.stdout.strip() or "postgres (version unknown)"
        durability = "fsync on" if self.durable else "fsync off"
        return f"{pg} ({durability})", self.broker.version


@dataclass
class ServiceProcess:
    """One running service process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    spawned_at: float
    ready_after_s: float | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def rss_mib(self) -> float | None:
        """Resident memory now."""
        return rss_mib(self.pid)

    def cpu_seconds(self) -> float | None:
        """CPU time used so far."""
        return cpu_seconds(self.pid)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:  # noqa: S310 - our own loopback URL
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


@dataclass
class Services:
    """The four services as processes, with one environment each; stopped on exit."""

    bootstrap: str
    database_url: str
    log_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    per_service_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    running: dict[str, ServiceProcess] = field(default_factory=dict)

    def environment(self, name: str, port: int) -> dict[str, str]:
        """The environment of one service: the kit's settings, then the benchmark's."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ZICHT_", "OTEL_", "KAFKA_"))
        }
        env.update(
            {
                "ZICHT_SERVICE_NAME": name,
                "ZICHT_HTTP_PORT": str(port),
                "ZICHT_DATABASE_URL": self.database_url,
                "ZICHT_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "ZICHT_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "ZICHT_LOG_LEVEL": "INFO",
                # Intake has no built-in key; a benchmark run makes its own.
                "ZICHT_PSEUDONYM_KEY": _PSEUDONYM_KEY,
                "ZICHT_PSEUDONYM_KEY_ID": "bench",
                "ZICHT_WEBHOOK_SECRET_KEYS": _WEBHOOK_SECRET_KEYS,
            }
        )
        env.update(self.env)
        env.update(self.per_service_env.get(name, {}))
        return env

    def spawn(self, name: str) -> ServiceProcess:
        """Start one service; return at once (see :meth:`wait_ready`)."""
        port = find_free_port()
        log = self.log_dir / f"{name}.log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", f"zicht_{name}"],
                env=self.environment(name, port),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = ServiceProcess(name, port, process, log, time.monotonic())
        self.running[name] = service
        return service

    def wait_ready(self, names: Sequence[str] | None = None) -> None:
        """Wait until each service answers ``/readyz`` 200; record its start-up time.

        Raises:
            RuntimeError: A service exited, or was not ready in time (with its log's tail).
        """
        waiting = [
            s for n in (names or list(self.running)) if (s := self.running[n]).ready_after_s is None
        ]
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while waiting:
            for service in list(waiting):
                if service.process.poll() is not None:
                    raise RuntimeError(
                        f"{service.name} exited with {service.process.returncode} while "
                        f"starting:\n{_tail(service.log)}"
                    )
                if _ready(service.url):
                    service.ready_after_s = time.monotonic() - service.spawned_at
                    waiting.remove(service)
            if time.monotonic() > deadline:
                names_left = ", ".join(s.name for s in waiting)
                raise RuntimeError(f"not ready after {_READY_TIMEOUT_S:.0f} s: {names_left}")
            time.sleep(_READY_POLL_S)

    def start_all(self, *, one_by_one: bool = False) -> None:
        """Start the four services, all at once or each alone (a clean start-up time)."""
        for name in SERVICES:
            self.spawn(name)
            if one_by_one:
                self.wait_ready([name])
        self.wait_ready()

    def url(self, name: str) -> str:
        """A running service's base URL."""
        return self.running[name].url

    def stop(self) -> None:
        """SIGTERM every service (notify first), then SIGKILL what does not stop in time."""
        for service in reversed(list(self.running.values())):
            if service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGTERM)
        for service in reversed(list(self.running.values())):
            try:
                service.process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        self.running.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class Keys:
    """The API keys a benchmark uses: partners, contract management, every subscriber."""

    igj: str
    police: str
    contract_management: str
    subscribers: Mapping[str, str]

    def as_demo_keys(self) -> dict[str, Any]:
        """In the layout of the stack's keys file, for ``zicht_demo.client.load_keys``."""
        return {
            "intake": {
                "igj": self.igj,
                "police": self.police,
                "contract_management": self.contract_management,
            },
            "notify": {"subscribers": dict(self.subscribers)},
        }


def _subscribers() -> dict[str, tuple[str, list[str], dict[str, str]]]:
    catalogue = regions()
    found: dict[str, tuple[str, list[str], dict[str, str]]] = {}
    for region in catalogue.regions:
        for municipality in region.municipalities:
            found[municipality.code] = (
                municipality.code,
                ["subscriptions"],
                {"kind": "municipality", "id": municipality.code},
            )
        for table in region.casus_tables:
            found[table.id] = (table.id, ["subscriptions"], {"kind": "casus_table", "id": table.id})
        supervisors = f"supervisors-{region.id}"
        found[supervisors] = (
            supervisors,
            ["subscriptions"],
            {"kind": "supervisors", "id": supervisors},
        )
    found["igj"] = ("igj", ["subscriptions"], {"kind": "igj", "id": "igj"})
    return found


async def issue_keys(database_url: str, *, notify: bool = True) -> Keys:
    """Create the keys in intake's and notify's schemas (the services must have migrated)."""

    async def create(
        schema: str, wanted: Mapping[str, tuple[str, list[str], dict[str, str]]]
    ) -> dict[str, str]:
        pool = await create_pool(database_url, schema, min_size=1, max_size=2)
        try:
            store = KeyStore(pool)
            issued: dict[str, str] = {}
            for name, (party, scopes, attributes) in wanted.items():
                key = await store.create(party, scopes, attributes=attributes, description="bench")
                issued[name] = key.secret
            return issued
        finally:
            await pool.close()

    intake = await create(
        "intake",
        {
            "igj": ("igj", ["signals:igj"], {}),
            "police": ("police", ["signals:police"], {}),
            "contract_management": (
                "contract-management-bench",
                ["registry:write", "indicators:write"],
                {},
            ),
        },
    )
    subscribers = await create("notify", _subscribers()) if notify else {}
    return Keys(intake["igj"], intake["police"], intake["contract_management"], subscribers)
