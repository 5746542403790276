"""Which real Postgres and Kafka-protocol broker a test session uses, and starting them."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import pytest

from zicht_devtools.devstack import (
    DevStackError,
    LocalBroker,
    LocalPostgres,
    find_free_port,
    find_postgres_bindir,
    port_is_free,
    resolve_broker_binary,
)

__all__ = [
    "DATABASE_URL_ENV",
    "KAFKA_BOOTSTRAP_ENV",
    "Backend",
    "Infrastructure",
]

DATABASE_URL_ENV = "ZICHT_TEST_DATABASE_URL"
KAFKA_BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
POSTGRES_IMAGE = "postgres:15"  # the major version production and the Debian package run
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # testcontainers' KafkaContainer drives this image
DOCKER_PING_SECONDS = 2

Source = Literal["environment", "testcontainers", "local"]


@dataclass
class Backend:
    """One piece of infrastructure: where it comes from, how it is described, whether it runs."""

    kind: Literal["postgres", "kafka"]
    source: Source
    description: str
    problem: str | None = None
    """Why it cannot be used; fixtures that need it fail (not skip) with this message."""
    started: bool = False
    address: str | None = field(default=None, repr=False)
    """Where it actually ran (URL without password, or bootstrap servers), once started."""

    def header(self) -> str:
        """The line for pytest's report header."""
        if self.problem is not None:
            return f"{self.kind}: UNAVAILABLE ({self.source}): {self.problem}"
        return f"{self.kind}: {self.description}"

    def summary(self) -> str:
        """The line for the terminal summary: what ran, or that nothing needed it."""
        if self.problem is not None:
            return f"{self.kind}: unavailable: {self.problem}"
        state = f"started, at {self.address}" if self.started else "not needed by any test"
        return f"{self.kind}: {self.description} ({state})"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _still_free(port: int | None) -> int | None:
    """The planned port if nothing took it since the header was printed, else None (any)."""
    return port if port is not None and port_is_free("127.0.0.1", port) else None


def _docker_problem() -> str | None:
    """None when a Docker engine answers a ping within a couple of seconds, else why not."""
    # Without a configured host or the default socket there is nothing to ask: skip importing
    # the Docker SDK (a noticeable part of a second) on machines that have no engine at all.
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return "no DOCKER_HOST and no /var/run/docker.sock"
    import docker  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415 - the Docker SDK ships no types; imported only when an engine may exist
    from docker.errors import (  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415 - as above
        DockerException,
    )

    try:
        client = docker.from_env(timeout=DOCKER_PING_SECONDS)
        try:
            client.ping()
        finally:
            client.close()
    # DockerException when the API version cannot be fetched; requests' errors are OSErrors.
    except (DockerException, OSError) as exc:
        return f"Docker engine did not answer: {exc}"
    return None


class Infrastructure:
    """The session's choice of backends: environment first, then testcontainers, then local.

    Choosing is cheap (no server starts); ``postgres()`` and ``kafka()`` start what was chosen,
    for as long as their ``with`` block lasts.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        self._docker_problem: str | None = None
        self._docker_checked = False
        # Ports are chosen now so the report header can name them; start() re-checks them.
        self._postgres_port: int | None = None
        self._kafka_port: int | None = None
        self.postgres_backend = self._choose_postgres()
        self.kafka_backend = self._choose_kafka()

    @property
    def backends(self) -> tuple[Backend, Backend]:
        """Postgres, then Kafka."""
        return (self.postgres_backend, self.kafka_backend)

    def _docker(self) -> str | None:
        if not self._docker_checked:
            self._docker_problem = _docker_problem()
            self._docker_checked = True
        return self._docker_problem

    def _choose_postgres(self) -> Backend:
        url = self._environ.get(DATABASE_URL_ENV)
        if url:
            return Backend(
                "postgres", "environment", f"{DATABASE_URL_ENV}={_without_password(url)}"
            )
        if self._docker() is None:
            return Backend("postgres", "testcontainers", f"testcontainers {POSTGRES_IMAGE}")
        try:
            bindir = find_postgres_bindir()
        except DevStackError as exc:
            return Backend("postgres", "local", "local binaries", problem=str(exc))
        self._postgres_port = find_free_port()
        return Backend(
            "postgres",
            "local",
            f"local binaries {bindir} on 127.0.0.1:{self._postgres_port} (durable=False)",
        )

    def _choose_kafka(self) -> Backend:
        servers = self._environ.get(KAFKA_BOOTSTRAP_ENV)
        if servers:
            return Backend("kafka", "environment", f"{KAFKA_BOOTSTRAP_ENV}={servers}")
        if self._docker() is None:
            return Backend("kafka", "testcontainers", f"testcontainers {KAFKA_IMAGE} (KRaft)")
        try:
            binary = resolve_broker_binary()
        except DevStackError as exc:
            return Backend("kafka", "local", "tansu", problem=str(exc))
        self._kafka_port = find_free_port()
        broker = LocalBroker(binary=binary)
        return Backend("kafka", "local", f"{broker.version} on 127.0.0.1:{self._kafka_port}")

    @contextmanager
    def postgres(self) -> Iterator[str]:
        """Run the chosen Postgres and yield a superuser URL to its maintenance database."""
        backend = self.postgres_backend
        if backend.problem is not None:
            pytest.fail(backend.problem, pytrace=False)
        if backend.source == "environment":
            url = self._environ[DATABASE_URL_ENV]
            with self._running(backend, _without_password(url)):
                yield url
        elif backend.source == "testcontainers":
            yield from self._postgres_container(backend)
        else:
            yield from self._local_postgres(backend)

    @contextmanager
    def kafka(self) -> Iterator[str]:
        """Run the chosen broker and yield its bootstrap servers."""
        backend = self.kafka_backend
        if backend.problem is not None:
            pytest.fail(backend.problem, pytrace=False)
        if backend.source == "environment":
            servers = self._environ[KAFKA_BOOTSTRAP_ENV]
            with self._running(backend, servers):
                yield servers
        elif backend.source == "testcontainers":
            yield from self._kafka_container(backend)
        else:
            yield from self._local_broker(backend)

    @contextmanager
    def _running(self, backend: Backend, address: str) -> Iterator[None]:
        backend.started, backend.address = True, address
        yield

    def _local_postgres(self, backend: Backend) -> Iterator[str]:
        # mkdtemp, not pytest's tmp_path: the postgres OS user must reach the directory, and
        # pytest's base temp dir is private to the user running the tests.
        data_dir = Path(tempfile.mkdtemp(prefix="zicht-test-pg-"))
        server = LocalPostgres(data_dir, port=_still_free(self._postgres_port), durable=False)
        try:
            try:
                server.start()
            except DevStackError as exc:
                pytest.fail(str(exc), pytrace=False)
            backend.started, backend.address = True, server.url
            yield server.url
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)

    def _local_broker(self, backend: Backend) -> Iterator[str]:
        broker = LocalBroker(port=_still_free(self._kafka_port))
        try:
            try:
                broker.start()
            except DevStackError as exc:
                pytest.fail(str(exc), pytrace=False)
            backend.started, backend.address = True, broker.bootstrap_servers
            yield broker.bootstrap_servers
        finally:
            broker.stop()

    def _postgres_container(self, backend: Backend) -> Iterator[str]:
        from testcontainers.community.postgres import (  # noqa: PLC0415 - Docker only
            PostgresContainer,
        )

        container = PostgresContainer(POSTGRES_IMAGE, driver=None)
        container.start()
        try:
            url = container.get_connection_url()
            backend.started, backend.address = True, _without_password(url)
            yield url
        finally:
            container.stop()

    def _kafka_container(self, backend: Backend) -> Iterator[str]:
        from testcontainers.community.kafka import KafkaContainer  # noqa: PLC0415 - Docker only

        container = KafkaContainer(KAFKA_IMAGE).with_kraft()
        container.start()
        try:
            servers = container.get_bootstrap_server()
            backend.started, backend.address = True, servers
            yield servers
        finally:
            container.stop()
