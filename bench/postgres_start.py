"""How long a local Postgres takes to come up: initdb and start, then a resume of the same data.

    python -m bench.postgres_start                        the machine's binaries (devstack's choice)
    python -m bench.postgres_start -n 10 NAME=BINDIR ...  and other server binaries, e.g. a wheel's

Each run is ``LocalPostgres.start()`` on an empty data dir until a query answers over TCP
("fresh": initdb, start, ready), then a stop and a start of the same data dir ("resume", what
a second ``make run`` does), fsync on and off. The runs of all binaries are interleaved, so a
busy moment of the machine falls on all of them alike. Not part of ``make bench``: its figures
are in docs/architecture.md ("Dev tooling").
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from zicht_devtools.devstack import LocalPostgres, find_postgres_bindir

__all__ = ["main"]


async def _answers(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.fetchval("SELECT 1")
    finally:
        await connection.close()


def _one(bindir: Path, *, durable: bool) -> tuple[float, float]:
    """Seconds to a first answer from a new cluster, and from the same cluster resumed."""
    data = Path(tempfile.mkdtemp(prefix="zicht-bench-pgstart-"))
    server = LocalPostgres(data, durable=durable, bindir=bindir)
    try:
        began = time.perf_counter()
        server.start()
        asyncio.run(_answers(server.url))
        fresh = time.perf_counter() - began
        server.stop()
        began = time.perf_counter()
        server.start()
        asyncio.run(_answers(server.url))
        resumed = time.perf_counter() - began
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    return fresh, resumed


def _version(bindir: Path) -> str:
    result = subprocess.run(  # noqa: S603 - a resolved binary path, no shell
        [str(bindir / "postgres"), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    words = result.stdout.split()  # postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
    return words[2] if len(words) > 2 else result.stdout.strip()


def _spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):5.2f} s ({min(values):.2f}-{max(values):.2f})"


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print one line per binaries and fsync setting."""
    parser = argparse.ArgumentParser(prog="python -m bench.postgres_start")
    parser.add_argument("-n", "--runs", type=int, default=10, help="runs of each (default 10)")
    parser.add_argument("bindirs", nargs="*", metavar="NAME=BINDIR", help="more server binaries")
    args = parser.parse_args(argv)
    bindirs = {"machine": find_postgres_bindir()}
    for given in args.bindirs:
        name, _, path = given.partition("=")
        bindirs[name] = Path(path)
    cases = [(name, durable) for name in bindirs for durable in (True, False)]
    runs: dict[tuple[str, bool], list[tuple[float, float]]] = {case: [] for case in cases}
    for _ in range(args.runs):
        random.shuffle(cases)  # interleaved, see the module docstring
        for name, durable in cases:
            runs[name, durable].append(_one(bindirs[name], durable=durable))
    print(f"{'binaries':28} {'version':8} {'fsync':5}  {'fresh, median (range)':24}  resume")
    for name, bindir in bindirs.items():
        for durable in (True, False):
            fresh = [run[0] for run in runs[name, durable]]
            resumed = [run[1] for run in runs[name, durable]]
            print(
                f"{name:28} {_version(bindir):8} {'on' if durable else 'off':5}  "
                f"{_spread(fresh):24}  {_spread(resumed)}"
            )
    print(f"({args.runs} runs each)")


if __name__ == "__main__":
    main()
