"""``make run``: the whole chain on one machine: broker, Postgres, the four services.

``python -m zicht_devtools.stack run`` starts the local Kafka-protocol broker and a local
Postgres (data kept in ``.zicht/postgres``, so a second run resumes), then intake, triage,
scoring and notify as separate processes, each logged in to Postgres as its own role that
owns only its schema (``zicht_runtime.roles``), waits until each answers ``/readyz``, and
stops everything cleanly on Ctrl-C or SIGTERM. ``KAFKA_BOOTSTRAP_SERVERS`` and
``ZICHT_DATABASE_URL`` in the environment make it use servers you run instead.
A known problem (a port taken, Postgres missing, the broker wheel missing) is one line that
says what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from zicht_devtools.devstack import (
    DevStackError,
    LocalBroker,
    LocalPostgres,
    parent_death_preexec,
    port_is_free,
)
from zicht_runtime.auth import KeyStore
from zicht_runtime.db import create_pool
from zicht_runtime.ops import OPERATOR_SCOPE
from zicht_runtime.roles import provision_service_role
from zicht_schemas.regions import RegionCatalogue, regions

__all__ = ["SERVICES", "main"]

SERVICES: tuple[str, ...] = ("intake", "triage", "scoring", "notify")
_DEFAULT_PORT_BASE = 8000
_READY_TIMEOUT_S = 180.0


@dataclass
class _Service:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class _Output:
    """Where the launcher's lines go: the terminal, or a log while the demo's view holds it.

    The live view redraws the terminal in place; a line printed under it would tear it.
    """

    def __init__(self) -> None:
        self.log: Path | None = None

    def hold(self, log: Path) -> None:
        self.log = log

    def release(self) -> None:
        self.log = None


_OUTPUT = _Output()


def _say(text: str) -> None:
    if _OUTPUT.log is not None:
        moment = datetime.now(UTC).isoformat(timespec="seconds")
        with _OUTPUT.log.open("a", encoding="utf-8") as log:
            log.write(f"{moment} zicht: {text}\n")
        return
    try:
        print(f"zicht: {text}", flush=True)
    except OSError:
        # Whoever read the output is gone (a closed pipe, a closed terminal). Stopping must go
        # on in order all the same: services first, then the broker and Postgres. A launcher
        # that died here would take the broker and Postgres down under running services.
        _silence_stdout()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


async def _ensure_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _is_ready(url: str) -> bool:
    # A probe of a port nobody listens on yet can connect to itself (Linux picks the port as
    # the probe's own ephemeral port: a TCP self-connect) and read its own request back as
    # the answer; http.client then raises BadStatusLine, which is "not ready", not a crash.
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)  # noqa: PLR2004 - HTTP OK
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError):
        return False


@contextlib.contextmanager
def _infrastructure(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """The broker and the database: from the environment, or started here."""
    with contextlib.ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if bootstrap:
            _say(f"broker: using KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
        else:
            broker = LocalBroker(port=args.kafka_port, log_path=args.data_dir / "broker.log")
            _say(f"broker: starting the local Kafka-protocol broker on port {args.kafka_port}")
            stack.enter_context(broker)
            bootstrap = broker.bootstrap_servers
        database_url = os.environ.get("ZICHT_DATABASE_URL", "")
        if database_url:
            _say("postgres: using ZICHT_DATABASE_URL")
        else:
            data_dir = args.data_dir / "postgres"
            postgres = LocalPostgres(data_dir, port=args.pg_port, durable=True)
            _say(f"postgres: starting on port {args.pg_port}, data in {data_dir}")
            stack.enter_context(postgres)
            if not postgres.created_cluster:
                _say("postgres: resumed the existing cluster")
            asyncio.run(_ensure_database(postgres.url, "zicht"))
            database_url = postgres.dsn_for("zicht")
        yield bootstrap, database_url


def _pseudonym_key(data_dir: Path) -> dict[str, str]:
    """Intake's pseudonym key for this installation: made on first start, kept 0600.

    There is no built-in key: with a public one, anyone could reverse a pseudonym by trying
    every BSN. ``ZICHT_PSEUDONYM_KEY`` in the environment wins; rotating is a new key with a
    new id (docs/operations.md), after which old pseudonyms no longer link up with new ones.
    """
    if os.environ.get("ZICHT_PSEUDONYM_KEY"):
        return {}
    path = data_dir / "pseudonym-key.json"
    if not path.exists():
        key = {"key": secrets.token_urlsafe(48), "key_id": time.strftime("local-%Y%m%d")}
        # Created 0600 from the start: the key is never readable by others, not even briefly.
        _write_private(path, key)
        _say(f"intake: made this installation's pseudonym key in {path} (keep it secret)")
    stored = json.loads(path.read_text(encoding="utf-8"))
    return {"ZICHT_PSEUDONYM_KEY": stored["key"], "ZICHT_PSEUDONYM_KEY_ID": stored["key_id"]}


def _write_private(path: Path, content: object) -> None:
    """Write JSON to a new file that is 0600 from the start, never readable by others."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        json.dump(content, out)


def _webhook_secret_keys(data_dir: Path) -> dict[str, str]:
    """Notify's key for the webhook secrets it keeps: made on first start, kept 0600.

    Notify stores each subscription's signing secrets encrypted under it, and refuses to
    start without one. ``ZICHT_WEBHOOK_SECRET_KEYS`` in the environment wins. The file holds
    the setting's value (``<key id>:<key>``, current first); rotating is adding a new entry
    in front and running ``python -m zicht_notify reseal`` (docs/operations.md).
    """
    if os.environ.get("ZICHT_WEBHOOK_SECRET_KEYS"):
        return {}
    path = data_dir / "notify-secret-keys.json"
    if not path.exists():
        key_id = time.strftime("local-%Y%m%d")
        _write_private(path, {"keys": f"{key_id}:{secrets.token_urlsafe(32)}"})
        _say(f"notify: made this installation's webhook secret key in {path} (keep it secret)")
    stored = json.loads(path.read_text(encoding="utf-8"))
    return {"ZICHT_WEBHOOK_SECRET_KEYS": stored["keys"]}


def _service_databases(admin_url: str, data_dir: Path) -> dict[str, str]:
    """Each service's own login role on the shared database; its URL, by service.

    The launcher connects as the administrator it was given (the local cluster's superuser,
    or ``ZICHT_DATABASE_URL``) and makes one role per service that owns that service's
    schema and nothing else (``zicht_runtime.roles``). Passwords are random per installation,
    kept 0600 in ``.zicht/database-roles.json``. The local cluster trusts loopback logins, so
    there the split guards against one service's SQL touching another's tables, not against
    a hostile process on this machine; a server that checks passwords checks these.
    """
    path = data_dir / "database-roles.json"
    if not path.exists():
        _write_private(path, {name: secrets.token_urlsafe(24) for name in SERVICES})
    passwords: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))

    async def provision() -> dict[str, str]:
        return {
            name: await provision_service_role(
                admin_url, service=name, schema=name, password=passwords[name]
            )
            for name in SERVICES
        }

    try:
        urls = asyncio.run(provision())
    except asyncpg.InsufficientPrivilegeError as exc:
        raise DevStackError(
            f"the database login cannot make the services' own roles ({exc}): give "
            "ZICHT_DATABASE_URL a superuser, or a role with CREATEROLE that owns the database"
        ) from exc
    _say("postgres: each service logs in as its own role, owning only its own schema")
    return urls


def _start_services(
    bootstrap: str, database_url: str, log_dir: Path, base_port: int
) -> list[_Service]:
    started: list[_Service] = []
    databases = _service_databases(database_url, log_dir)
    own_env = {"intake": _pseudonym_key(log_dir), "notify": _webhook_secret_keys(log_dir)}
    for offset, name in enumerate(SERVICES, start=1):
        port = base_port + offset
        if not port_is_free("127.0.0.1", port):
            raise DevStackError(
                f"port {port} on 127.0.0.1 (the {name} service) is taken: stop what uses it "
                f"(see: ss -ltnp 'sport = :{port}') and run again"
            )
        env = {
            **os.environ,
            "ZICHT_SERVICE_NAME": name,
            "ZICHT_HTTP_PORT": str(port),
            "ZICHT_DATABASE_URL": databases[name],
            "ZICHT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            # Quicker group joins on the local broker (it answers a join after half of it).
            "ZICHT_KAFKA_SESSION_TIMEOUT_MS": os.environ.get(
                "ZICHT_KAFKA_SESSION_TIMEOUT_MS", "6000"
            ),
            "ZICHT_LINK_BASE_URL": f"http://127.0.0.1:{base_port + 3}/v1/providers",
            **own_env.get(name, {}),
        }
        log = (log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", f"zicht_{name}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the launcher, which stops them in order
            # ... and if the launcher itself is killed, they stop too rather than linger.
            preexec_fn=parent_death_preexec(signal.SIGTERM),  # noqa: PLW1509 - prctl only
        )
        started.append(_Service(name, port, process))
        _say(f"{name}: started (pid {process.pid}, http://127.0.0.1:{port}, log {log.name})")
    return started


def _wait_ready(services: Sequence[_Service], stop: list[bool], log_dir: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    waiting = {service.name for service in services}
    while waiting and not stop:
        for service in services:
            if service.process.poll() is not None:
                raise DevStackError(
                    f"{service.name} exited with code {service.process.returncode} while "
                    f"starting; its log is {log_dir / service.name}.log"
                )
            if service.name in waiting and _is_ready(service.url):
                waiting.discard(service.name)
                _say(f"{service.name}: ready")
        if time.monotonic() > deadline:
            raise DevStackError(f"not ready after {_READY_TIMEOUT_S:.0f}s: {sorted(waiting)}")
        time.sleep(0.2)


async def _migrated(
    database_url: str, schema: str, services: Sequence[_Service], log_dir: Path
) -> None:
    """Wait until a service has made its key table (its migrations run first at start-up)."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    conn = await asyncpg.connect(database_url)
    try:
        while not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.api_keys"):
            for service in services:
                if service.process.poll() is not None:
                    raise DevStackError(
                        f"{service.name} exited with code {service.process.returncode} while "
                        f"starting; its log is {log_dir / service.name}.log"
                    )
            if time.monotonic() > deadline:
                raise DevStackError(f"{schema}: its tables were not made in time")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def _demo_keys(
    database_url: str, services: Sequence[_Service], log_dir: Path
) -> dict[str, Any]:
    """API keys for the demo region's partners, subscribers, supervisors and operators."""

    async def keys_of(
        schema: str, wanted: dict[str, tuple[str, list[str], dict[str, str]]]
    ) -> dict[str, str]:
        await _migrated(database_url, schema, services, log_dir)
        pool = await create_pool(database_url, schema, min_size=1, max_size=2)
        try:
            store = KeyStore(pool)
            issued = {}
            for name, (party, scopes, attributes) in wanted.items():
                key = await store.create(party, scopes, attributes=attributes, description="demo")
                issued[name] = key.secret
            return issued
        finally:
            await pool.close()

    catalogue = regions()
    teams = {
        f"wijkteam-{m.code.lower()}": (
            f"wijkteam-{m.code.lower()}",
            ["signals:access_team"],
            {"team": f"wijkteam-{m.code.lower()}", "municipality": m.code},
        )
        for r in catalogue.regions
        for m in r.municipalities
    }
    intake = await keys_of(
        "intake",
        {
            "igj": ("igj", ["signals:igj"], {}),
            "police": ("police-demo", ["signals:police"], {}),
            "contract_management": (
                "contract-management-demo",
                ["registry:write", "indicators:write"],
                {},
            ),
            "operator": ("operator-demo", ["operator"], {}),
            **teams,
        },
    )
    subscribers: dict[str, tuple[str, list[str], dict[str, str]]] = {
        m.code: (m.code, ["subscriptions"], {"kind": "municipality", "id": m.code})
        for r in catalogue.regions
        for m in r.municipalities
    }
    subscribers.update(
        {
            t.id: (t.id, ["subscriptions"], {"kind": "casus_table", "id": t.id})
            for r in catalogue.regions
            for t in r.casus_tables
        }
    )
    subscribers["igj"] = ("igj", ["subscriptions"], {"kind": "igj", "id": "igj"})
    subscribers.update(
        {
            f"supervisors-{r.id}": (
                f"supervisors-{r.id}",
                ["subscriptions"],
                {"kind": "supervisors", "id": f"supervisors-{r.id}"},
            )
            for r in catalogue.regions
        }
    )
    notify = await keys_of(
        "notify", {**subscribers, "operator": ("operator-demo", ["operator"], {})}
    )
    return {
        "intake": {
            "igj": intake["igj"],
            "police": intake["police"],
            "contract_management": intake["contract_management"],
            "operator": intake["operator"],
            "access_team": {team: intake[team] for team in teams},
        },
        "triage": await keys_of("triage", {"supervisor": ("supervisor-demo", ["supervisor"], {})}),
        "scoring": await _scoring_keys(keys_of, catalogue),
        "notify": {
            "operator": notify["operator"],
            "subscribers": {name: notify[name] for name in subscribers},
        },
    }


async def _scoring_keys(
    keys_of: Callable[
        [str, dict[str, tuple[str, list[str], dict[str, str]]]], Awaitable[dict[str, str]]
    ],
    catalogue: RegionCatalogue,
) -> dict[str, Any]:
    """A region-wide reader, and each municipality's own key: it sees only its providers."""
    municipalities = {
        m.code: (m.code, ["risk:read"], {"municipality": m.code})
        for r in catalogue.regions
        for m in r.municipalities
    }
    issued = await keys_of(
        "scoring", {"reader": ("operator-demo", ["risk:read"], {}), **municipalities}
    )
    return {
        "reader": issued["reader"],
        "municipalities": {code: issued[code] for code in municipalities},
    }


def _municipality_hint(keys_file: Path, keys: Mapping[str, Any], base: int) -> str:
    """How a municipality reads its own risk register, with its key from the keys file."""
    code = next(iter(keys["scoring"]["municipalities"]))
    read = (
        f'python3 -c \'import json; print(json.load(open("{keys_file}"))'
        f'["scoring"]["municipalities"]["{code}"])\''
    )
    return (
        f"scoring: municipality {code} sees only the providers related to it: curl -s -H "
        f'"Authorization: Bearer $({read})" http://127.0.0.1:{base + 3}/v1/providers?level=red'
    )


async def _operator_keys(
    database_url: str, services: Sequence[_Service], log_dir: Path
) -> dict[str, str]:
    """One operator key per service, for ``GET /v1/ops/flow`` and the reconciliation."""
    issued: dict[str, str] = {}
    for name in SERVICES:
        await _migrated(database_url, name, services, log_dir)
        pool = await create_pool(database_url, name, min_size=1, max_size=1)
        try:
            key = await KeyStore(pool).create(
                "operator-local", [OPERATOR_SCOPE], description="run command: operator"
            )
        finally:
            await pool.close()
        issued[name] = key.secret
    return issued


def _write_operator_keys(
    args: argparse.Namespace, database_url: str, services: Sequence[_Service]
) -> None:
    path = args.data_dir / "operator-keys.json"
    if not path.exists():
        keys = asyncio.run(_operator_keys(database_url, services, args.data_dir))
        path.write_text(json.dumps(keys, indent=2), encoding="utf-8")
        path.chmod(0o600)
    port = (
        ""
        if args.http_port_base == _DEFAULT_PORT_BASE
        else (f" --http-port-base {args.http_port_base}")
    )
    _say(
        f"operators: keys in {path}; check that the counts add up with "
        f"python -m zicht_devtools.reconcile --data-dir {args.data_dir}{port}"
    )


def _start_demo(
    args: argparse.Namespace, database_url: str, base: int, services: Sequence[_Service]
) -> subprocess.Popen[bytes]:
    """Seed the synthetic region and run its generator, receiver and view.

    It starts while the services are still getting ready (once their tables exist, for the
    keys), so its own start-up overlaps theirs; it waits for them to be ready itself.
    """
    keys_file = args.data_dir / "demo-keys.json"
    keys = asyncio.run(_demo_keys(database_url, services, args.data_dir))
    keys_file.write_text(json.dumps(keys, indent=2), encoding="utf-8")
    keys_file.chmod(0o600)
    _say(_municipality_hint(keys_file, keys, base))
    (args.data_dir / "demo-started").touch()
    command = [
        sys.executable, "-m", "zicht_demo", "run", "--keys", str(keys_file),
        "--intake", f"http://127.0.0.1:{base + 1}", "--triage", f"http://127.0.0.1:{base + 2}",
        "--scoring", f"http://127.0.0.1:{base + 3}", "--notify", f"http://127.0.0.1:{base + 4}",
        "--receiver-port", str(base + 5), "--rate", str(args.rate),
        "--providers", str(args.providers), "--since", str(args.started_at),
    ]  # fmt: skip
    live = sys.stdout.isatty()
    if not live:
        command.append("--no-view")
    process = subprocess.Popen(  # noqa: S603 - our own module
        command,
        start_new_session=True,
        preexec_fn=parent_death_preexec(signal.SIGTERM),  # noqa: PLW1509 - prctl only
    )
    _say(
        f"demo: started (pid {process.pid}); it seeds the synthetic region once the services "
        f"are ready, and webhooks arrive at http://127.0.0.1:{base + 5}"
    )
    if live:
        log = args.data_dir / "launcher.log"
        _say(f"the demo's live view takes the terminal; until it stops, these lines go to {log}")
        _OUTPUT.hold(log)
    return process


def _stop_services(services: Sequence[_Service]) -> None:
    for service in reversed(services):
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in reversed(services):
        try:
            service.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
        _say(f"{service.name}: stopped")


def _run(args: argparse.Namespace) -> int:
    args.started_at = time.time()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    stop: list[bool] = []

    def request_stop(signum: int, _frame: object) -> None:
        stop.append(True)
        _say(f"{signal.Signals(signum).name}: stopping")

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    # A closed terminal stops the chain in order too, rather than killing the launcher.
    signal.signal(signal.SIGHUP, request_stop)
    services: list[_Service] = []
    demo: subprocess.Popen[bytes] | None = None
    try:
        with _infrastructure(args) as (bootstrap, database_url):
            try:
                services = _start_services(
                    bootstrap, database_url, args.data_dir, args.http_port_base
                )
                demo_on = (
                    args.demo
                    if args.demo is not None
                    else not (args.data_dir / "demo-started").exists()
                )
                if demo_on and not stop:
                    demo = _start_demo(args, database_url, args.http_port_base, services)
                _wait_ready(services, stop, args.data_dir)
                if not stop:
                    _say("all four services are ready; Ctrl-C stops everything")
                    _write_operator_keys(args, database_url, services)
                if not demo_on and not stop:
                    _say("demo: off (run with --demo to run the synthetic region again)")
                while not stop:
                    for service in services:
                        if service.process.poll() is not None:
                            raise DevStackError(
                                f"{service.name} stopped unexpectedly (code "
                                f"{service.process.returncode}); its log is "
                                f"{args.data_dir}/{service.name}.log"
                            )
                    time.sleep(0.5)
            finally:
                if demo is not None and demo.poll() is None:
                    demo.send_signal(signal.SIGTERM)
                    try:
                        demo.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        demo.kill()
                        demo.wait()
                held = _OUTPUT.log
                _OUTPUT.release()
                if demo is not None:
                    meanwhile = f"; the launcher's lines meanwhile are in {held}" if held else ""
                    _say(f"demo: stopped{meanwhile}")
                _stop_services(services)
    except DevStackError as exc:
        _say(f"error: {exc}")
        return 1
    _say("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="zicht", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole chain on this machine")
    run.add_argument("--data-dir", type=Path, default=Path(".zicht"), help="state and logs")
    run.add_argument("--pg-port", type=int, default=55432, help="port of the local Postgres")
    run.add_argument("--kafka-port", type=int, default=59092, help="port of the local broker")
    run.add_argument(
        "--http-port-base",
        type=int,
        default=_DEFAULT_PORT_BASE,
        help="services listen on base+1 (intake), +2 (triage), +3 (scoring), +4 (notify)",
    )
    demo = run.add_mutually_exclusive_group()
    demo.add_argument(
        "--demo", dest="demo", action="store_true", default=None,
        help="run the synthetic demo region (default: only the first time)",
    )  # fmt: skip
    demo.add_argument("--no-demo", dest="demo", action="store_false", help="no demo region")
    run.add_argument("--rate", type=float, default=2.0, help="demo signals per second")
    run.add_argument("--providers", type=int, default=300, help="providers in the demo region")
    args = parser.parse_args(argv)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
