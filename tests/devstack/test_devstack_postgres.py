"""LocalPostgres: a real server from the machine's binaries, resumable, errors that say the fix."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from zicht_devtools import devstack
from zicht_devtools.devstack import DevStackError, LocalPostgres, find_postgres_bindir


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    # Not tmp_path: pytest's base temp dir is private to root, and the server runs as postgres.
    path = Path(tempfile.mkdtemp(prefix="zicht-devstack-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake_bindir(tmp_path: Path) -> Path:
    """Executables that only answer --version like PostgreSQL 15: for paths that fail early."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("initdb", "postgres"):
        script = bindir / tool
        script.write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 15.4'\n", encoding="utf-8")
        script.chmod(0o755)
    return bindir


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for process {pid}")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    # A zombie has exited; it only waits for its new parent (init) to reap it.
    return "\nState:\tZ" not in status


@pytest.mark.connected
async def test_local_postgres_runs_as_a_non_root_user_and_answers_queries(
    pg_data_dir: Path,
) -> None:
    server = LocalPostgres(pg_data_dir, durable=False)
    try:
        server.start()
        assert server.pid is not None
        pid = server.pid
        assert server.created_cluster
        assert _uid_of(pid) != 0
        if os.geteuid() == 0:
            assert _uid_of(pid) == pwd.getpwnam("postgres").pw_uid
        connection = await asyncpg.connect(server.url)
        try:
            assert await connection.fetchval("SELECT 6 * 7") == 42
            assert await connection.fetchval("SHOW listen_addresses") == "127.0.0.1"
            assert await connection.fetchval("SHOW fsync") == "off"
            assert await connection.fetchval("SHOW max_connections") == "200"
            assert Path(await connection.fetchval("SHOW data_directory")) == pg_data_dir
        finally:
            await connection.close()
    finally:
        server.stop()
    assert not server.running
    assert not _alive(pid)


@pytest.mark.connected
async def test_a_second_local_postgres_on_the_same_data_dir_resumes_with_the_data_kept(
    pg_data_dir: Path,
) -> None:
    first = LocalPostgres(pg_data_dir)
    try:
        first.start()
        connection = await asyncpg.connect(first.url)
        try:
            await connection.execute("CREATE TABLE kept (note text)")
            await connection.execute("INSERT INTO kept VALUES ('survives a restart')")
        finally:
            await connection.close()
    finally:
        first.stop()

    second = LocalPostgres(pg_data_dir)
    try:
        second.start()
        assert not second.created_cluster
        connection = await asyncpg.connect(second.dsn_for("postgres"))
        try:
            assert await connection.fetchval("SELECT note FROM kept") == "survives a restart"
        finally:
            await connection.close()
    finally:
        second.stop()


def test_starting_postgres_on_a_taken_port_names_the_port_and_leaves_the_dir_alone(
    pg_data_dir: Path,
) -> None:
    with socket.socket() as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1]
        server = LocalPostgres(pg_data_dir, port=port)
        try:
            with pytest.raises(DevStackError, match=rf"port {port} on 127\.0\.0\.1 is taken"):
                server.start()
        finally:
            server.stop()
    assert not (pg_data_dir / "PG_VERSION").exists()


def test_missing_postgres_binaries_give_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_config, no initdb on PATH
    monkeypatch.setattr(devstack, "_PG_LIB_ROOT", tmp_path / "no-debian-installs")

    with pytest.raises(DevStackError, match=r"apt-get install -y postgresql"):
        find_postgres_bindir()
    with pytest.raises(DevStackError, match=r"binaries not found \(initdb\)"):
        LocalPostgres(tmp_path / "data").start()


def test_a_data_dir_of_another_major_version_is_refused_with_both_versions_named(
    tmp_path: Path, fake_bindir: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "PG_VERSION").write_text("14\n", encoding="utf-8")

    with pytest.raises(DevStackError, match=r"PostgreSQL 14 cluster.*are PostgreSQL 15"):
        LocalPostgres(data_dir, bindir=fake_bindir).start()


def test_a_non_empty_directory_without_a_cluster_is_refused(
    tmp_path: Path, fake_bindir: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("not a cluster", encoding="utf-8")

    with pytest.raises(DevStackError, match=r"not empty and holds no PostgreSQL cluster"):
        LocalPostgres(tmp_path / "data", bindir=fake_bindir).start()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the data dir to another user")
def test_a_data_dir_the_postgres_user_cannot_reach_is_refused_with_the_way_out(
    tmp_path: Path, fake_bindir: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)

    with pytest.raises(DevStackError, match=r"postgres OS user cannot reach .*chmod o\+x"):
        LocalPostgres(private / "data", bindir=fake_bindir).start()
