"""The README's run command: the four services start as processes, are ready, stop cleanly."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from zicht_demo.region import build_region
from zicht_devtools.devstack import PostgresDatabases, find_free_port, port_is_free

pytestmark = pytest.mark.connected


def _readyz(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
        assert response.status == 200
        body: dict[str, object] = json.load(response)
        return body


def _free_port_base() -> int:
    """A base port whose next four ports are free (the services listen on base+1..4)."""
    # From a random start: two test runs on one machine (two checkouts) must not both take
    # the first free base and race for its ports. Below 32768, the start of the ephemeral
    # range, so no client socket of the run takes one of them first.
    start: int = random.randrange(21000, 32000, 10)
    bases: list[int] = [*range(start, 32000, 10), *range(21000, start, 10)]
    for base in bases:
        if all(port_is_free("127.0.0.1", base + offset) for offset in range(1, 6)):
            return base
    raise AssertionError("no four free ports in a row on 127.0.0.1")


async def _logins(database: str) -> dict[str, str]:
    """The role each service's connections log in as (a pool names itself by its schema)."""
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT application_name, usename FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = ANY($1)",
            ["intake", "triage", "scoring", "notify"],
        )
    finally:
        await conn.close()
    return {row["application_name"]: row["usename"] for row in rows}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_run_starts_the_four_services_ready_and_ctrl_c_leaves_no_process_behind(
    databases: PostgresDatabases, kafka_bootstrap: str, tmp_path: object
) -> None:
    database = await databases.create()
    base = _free_port_base()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ZICHT_DATABASE_URL": database,
        "ZICHT_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zicht_devtools.stack",
        "run",
        "--data-dir",
        str(tmp_path),
        "--http-port-base",
        str(base),
        "--no-demo",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(120):
            while not any("all four services are ready" in line for line in lines):
                raw = await process.stdout.readline()
                assert raw, "the run command ended early:\n" + "".join(lines)
                lines.append(raw.decode())
        for offset, name in enumerate(("intake", "triage", "scoring", "notify"), start=1):
            body = _readyz(base + offset)
            assert body["status"] == "ready", f"{name}: {body}"
        # Each service is logged in as its own role, not as the superuser it was handed.
        assert await _logins(database) == {
            name: f"{database.rsplit('/', 1)[1]}_{name}"
            for name in ("intake", "triage", "scoring", "notify")
        }
        # Operators' keys are written and reach every service's flow counts. (Whether they
        # add up is the fault tests' business: this broker carries other tests' events.)
        async with asyncio.timeout(30):
            while not any("operators: keys in" in line for line in lines):
                lines.append((await process.stdout.readline()).decode())
        reconciled = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zicht_devtools.reconcile", "--data-dir", str(tmp_path),
            "--http-port-base", str(base), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        report, _ = await reconciled.communicate()
        assert reconciled.returncode in {0, 1}, report.decode()  # 2: a service not asked
        assert "reconciliation: submissions" in report.decode()
        assert "no answer from" not in report.decode()
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            rest, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = "".join(lines) + rest.decode()
    assert process.returncode == 0, output
    pids = [int(pid) for pid in re.findall(r"started \(pid (\d+)", output)]
    assert len(pids) == 4
    assert not [pid for pid in pids if _alive(pid)], "a service process outlived Ctrl-C"
    assert output.rstrip().endswith("zicht: stopped")


def _stats(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=2) as response:
            body: dict[str, object] = json.load(response)
            return body
    except OSError:
        return {}


def _milestones(lines: list[str]) -> list[str]:
    """The demo's lines on its first colour change and first alert, timed from the start."""
    return [
        line for line in lines if re.search(r"first (colour change|alert at) .*after start", line)
    ]


async def test_the_demo_run_stopped_under_load_and_started_again_loses_nothing(
    databases: PostgresDatabases, tmp_path: pathlib.Path
) -> None:
    """``make run`` with the demo, Ctrl-C while signals flow, ``make run`` again: it reconciles.

    The run's own broker forgets its topics on the stop; the services publish their outboxes
    again on the next start. The municipalities' receiver stays up across the restart, as a
    municipality's own would (the demo's receiver stops with the demo, so the test keeps one
    at the same port).
    """
    database = await databases.create()
    base = _free_port_base()
    env = {
        **{k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
        "ZICHT_DATABASE_URL": database,
        "ZICHT_LOG_LEVEL": "WARNING",
    }
    common = [
        sys.executable, "-m", "zicht_devtools.stack", "run", "--data-dir", str(tmp_path),
        "--http-port-base", str(base), "--kafka-port", str(find_free_port()),
    ]  # fmt: skip
    first = await _Launched.start([*common, "--demo", "--providers", "30", "--rate", "5"], env)
    try:
        async with asyncio.timeout(240):
            delivered: dict[str, object] = {}
            while not delivered.get("total") or len(_milestones(first.lines)) < 2:
                assert first.process.returncode is None, "it ended:\n" + first.output
                await asyncio.sleep(1)
                delivered = await asyncio.to_thread(_stats, base + 5)
        await asyncio.to_thread(_a_municipality_sees_only_its_own_providers, first.output, base)
        first.process.send_signal(signal.SIGINT)  # the generator still sends 5 signals/s
        assert await first.stopped() == 0, first.output[-4000:]
    finally:
        await first.kill()
    print("\n" + "".join(_milestones(first.lines)))  # how soon, for the record (not timed)
    assert delivered["bad_signatures"] == 0
    assert delivered["duplicates"] == 0
    assert delivered["unknown_paths"] == 0
    pids = [int(pid) for pid in re.findall(r"started \(pid (\d+)", first.output)]
    assert len(pids) == 5, first.output[-4000:]  # four services and the demo
    assert not [pid for pid in pids if _alive(pid)], "a process outlived Ctrl-C"

    with _AcceptingReceiver(base + 5):
        second = await _Launched.start(common, env)  # the demo does not run again by itself
        try:
            await second.wait_for("all four services are ready", 180)
            assert "demo: off" in second.output or "demo: started" not in second.output
            report = await _reconciled(tmp_path, base, within_s=120)
            second.process.send_signal(signal.SIGINT)
            assert await second.stopped() == 0, second.output[-4000:]
        finally:
            await second.kill()
    totals = report["totals"]
    assert totals["signals"] > 0
    assert totals["alerts"] > 0
    assert totals["in_flight"] == 0
    for name in ("intake", "triage", "scoring", "notify"):
        log = (tmp_path / f"{name}.log").read_text(encoding="utf-8")
        tracebacks = [line for line in log.splitlines() if "Traceback" in line]
        assert not tracebacks, f"{name} logged a traceback:\n" + "\n".join(tracebacks[:5])
    assert "Traceback" not in first.output + second.output


@dataclass
class _Launched:
    """A run command started by a test, its output read as it comes."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, command: list[str], env: dict[str, str]) -> _Launched:
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        launched = cls(process)
        launched.reader = asyncio.create_task(launched._drain())
        return launched

    async def _drain(self) -> None:
        assert self.process.stdout is not None
        while raw := await self.process.stdout.readline():
            self.lines.append(raw.decode(errors="replace"))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def wait_for(self, text: str, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while text not in self.output:
                assert self.process.returncode is None, "it ended:\n" + self.output
                await asyncio.sleep(0.5)

    async def stopped(self) -> int:
        async with asyncio.timeout(90):
            code = await self.process.wait()
            if self.reader is not None:
                await self.reader
        return code

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


class _AcceptingReceiver:
    """A receiver at the demo's port that accepts every webhook (the municipalities' own)."""

    def __init__(self, port: int) -> None:
        class Accept(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Quiet."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Accept)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _AcceptingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


async def _reconciled(data_dir: pathlib.Path, base: int, *, within_s: float) -> dict[str, Any]:
    """The reconciliation of the whole run, once it adds up with nothing in flight."""
    report: dict[str, Any] = {}
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        checked = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zicht_devtools.reconcile", "--data-dir", str(data_dir),
            "--http-port-base", str(base), "--json", stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await checked.communicate()
        if checked.returncode in {0, 1}:
            report = json.loads(out)
            if report["ok"] and report["totals"].get("in_flight", 0) == 0:
                return report
        await asyncio.sleep(2)
    problems = [c for c in report.get("checks", []) if not c["ok"]]
    raise AssertionError(f"the run does not reconcile within {within_s:.0f} s: {problems}")


def _a_municipality_sees_only_its_own_providers(output: str, base: int) -> None:
    """The run prints how a municipality reads its register; its key shows only its own."""
    found = re.search(r"scoring: municipality (GM\d{4}) .*\$\((python3 -c '[^']+')\)", output)
    assert found, output[-4000:]
    code, read_key = found.groups()
    key = subprocess.run(  # noqa: S602 - the line the run command printed for people
        read_key, shell=True, capture_output=True, text=True, check=True
    ).stdout.strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{base + 3}/v1/providers?limit=1000",
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        listed = {p["provider_id"] for p in json.load(response)["providers"]}
    related = {p.provider_id for p in build_region(1, 30).contracted_by(code)}
    assert listed <= related, (code, listed - related)


def test_run_command_stops_services_before_its_broker_and_postgres_when_its_output_is_gone() -> (
    None
):
    """``make run | tee`` stopped with Ctrl-C: the pipe closes first, the launcher carries on.

    It once died on the closed pipe, and its Postgres and broker went down with it while the
    services still ran (hundreds of ERROR lines and tracebacks in their logs).
    """
    # Its own Postgres runs as the postgres user, which cannot reach pytest's tmp_path.
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="zicht-stack-test-"))
    data_dir.chmod(0o755)  # the launcher keeps its keys 0600 inside; postgres needs the way in
    try:
        _run_under_closed_output_and_stop(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _run_under_closed_output_and_stop(tmp_path: pathlib.Path) -> None:
    base = _free_port_base()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"KAFKA_BOOTSTRAP_SERVERS", "ZICHT_DATABASE_URL"}
        # The run command makes its own keys for intake and notify.
        and not key.startswith(("ZICHT_PSEUDONYM_KEY", "ZICHT_WEBHOOK_SECRET_KEYS"))
    }
    read_end, write_end = os.pipe()
    command = [
        sys.executable, "-m", "zicht_devtools.stack", "run", "--data-dir", str(tmp_path),
        "--http-port-base", str(base), "--pg-port", str(find_free_port()),
        "--kafka-port", str(find_free_port()), "--no-demo",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command,
        env=env,
        stdout=write_end,
        stderr=subprocess.STDOUT,
    )
    os.close(write_end)
    seen = b""
    try:
        with os.fdopen(read_end, "rb", buffering=0) as output:
            deadline = time.monotonic() + 180
            while b"all four services are ready" not in seen:
                chunk = output.read(4096)
                assert chunk, "the run command ended early:\n" + seen.decode()
                seen += chunk
                assert time.monotonic() < deadline, seen.decode()
        # The reader is gone, as when tee dies on Ctrl-C; then the Ctrl-C itself.
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0
    # No built-in pseudonym key: this installation made its own, readable by its owner alone.
    key_file = tmp_path / "pseudonym-key.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(json.loads(key_file.read_text(encoding="utf-8"))["key"]) >= 32
    # Likewise notify's key for the webhook secrets, and the services' database passwords.
    for private in ("notify-secret-keys.json", "database-roles.json"):
        assert (tmp_path / private).stat().st_mode & 0o777 == 0o600, private
    [secret_key] = json.loads((tmp_path / "notify-secret-keys.json").read_text())["keys"].split(",")
    assert secret_key.startswith("local-")
    pids = [int(pid) for pid in re.findall(rb"started \(pid (\d+)", seen)]
    assert len(pids) == 4
    assert not [pid for pid in pids if _alive(pid)], "a service process outlived Ctrl-C"
    for name in ("intake", "triage", "scoring", "notify"):
        log = (tmp_path / f"{name}.log").read_text(encoding="utf-8")
        assert "Application shutdown complete" in log, name
        problems = [line for line in log.splitlines() if '"level": "ERROR"' in line]
        problems += [line for line in log.splitlines() if "Traceback" in line]
        assert not problems, f"{name} logged while stopping:\n" + "\n".join(problems[:5])
