"""Profiles of a service under load, with py-spy: a flame graph and the hottest frames.

py-spy samples a running process from the outside (no change to the service, no restart);
``--nonblocking`` lets it read the stacks without pausing the process, so the load goes on
as measured. The hottest frames (by their own time and with what they call) go into the
results JSON, the flame graph next to it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from bench.common import RESULTS, ROOT

__all__ = ["profile", "profile_here"]

_MAX_SVG_BYTES: Final = 1024 * 1024


def profile(pid: int, name: str, seconds: float, results_dir: Path = RESULTS) -> dict[str, Any]:
    """Profile a process with py-spy for ``seconds``: a flame graph and the hottest frames.

    Two samplers run side by side without pausing the process (``--nonblocking``): one writes
    the SVG flame graph, the other the collapsed stacks that the hottest frames are read from.
    A flame graph over 1 MB is kept as ``<name>.large.svg``, which git ignores, as it ignores
    the collapsed stacks (``<name>.collapsed.txt``, for a closer look).
    """
    spy = shutil.which("py-spy")
    if spy is None:
        return {"error": "py-spy not found (it is a dev dependency: uv sync)"}
    results_dir.mkdir(parents=True, exist_ok=True)
    svg = results_dir / f"{name}.svg"
    raw = results_dir / f"{name}.collapsed.txt"
    common = ["--pid", str(pid), "--duration", str(int(seconds)), "--rate", "50", "--nonblocking"]
    commands = [
        [spy, "record", "-o", str(svg), "--format", "flamegraph", *common],
        [spy, "record", "-o", str(raw), "--format", "raw", *common],
    ]
    processes = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603 - py-spy from PATH with fixed arguments
        for command in commands
    ]
    errors = []
    for process in processes:
        _, err = process.communicate(timeout=seconds + 60)
        if process.returncode != 0:
            errors.append(err.decode(errors="replace").strip()[-500:])
    if errors:
        return {"error": "; ".join(errors)}
    summary = _hottest(raw)
    summary["collapsed_stacks"] = str(raw.relative_to(ROOT))
    if svg.exists() and svg.stat().st_size > _MAX_SVG_BYTES:
        svg = svg.replace(results_dir / f"{name}.large.svg")
    summary["flamegraph"] = str(svg.relative_to(ROOT)) if svg.exists() else None
    summary["command"] = " ".join(["py-spy", "record", *commands[0][2:]]).replace(
        str(ROOT) + "/", ""
    )
    return summary


def _hottest(collapsed: Path, top: int = 15) -> dict[str, Any]:
    """Where the samples went, from py-spy's collapsed stacks.

    ``self``: the frames running when sampled. ``zicht``: Zicht's own frames with everything
    they call (inclusive). ``self_by_file``: each sample charged to the source file of its
    running frame (``asyncio/selector_events.py``, ``asyncpg/connection.py``, ...).
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    files: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[_short(frames[-1])] += count
        files[_file(frames[-1])] += count
        for frame in {_short(f) for f in frames if "zicht_" in f}:
            inclusive[frame] += count
    if not total:
        return {"samples": 0}

    def share(found: Counter[str], limit: int = top) -> list[dict[str, Any]]:
        return [
            {"frame": frame, "share": round(count / total, 3)}
            for frame, count in found.most_common(limit)
        ]

    return {
        "samples": total,
        "self": share(own),
        "zicht": share(inclusive, 25),
        "self_by_file": share(files),
    }


def _file(frame: str) -> str:
    """The source file of a frame, as py-spy names it (``asyncpg/connection.py``)."""
    where = frame.partition(" (")[2].rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/"):
        if marker in where:
            return where.split(marker, 1)[1]
    return where or "?"


def _short(frame: str) -> str:
    """``function (path/to/module.py:12)`` -> ``function (module path from site-packages)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    where = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    else:
        if "lib/python3." in where:
            where = where.split("lib/python3.", 1)[1].split("/", 1)[1]
    return f"{name} ({where})" if where else name


async def profile_here(
    work: Callable[[], Awaitable[object]], name: str, results_dir: Path = RESULTS
) -> dict[str, Any]:
    """Profile a coroutine of this process with pyinstrument (async-aware).

    The text report goes to ``<name>.txt`` next to the results; its path and first lines
    are returned.
    """
    from pyinstrument import Profiler  # noqa: PLC0415 - a dev dependency, only when profiling

    profiler = Profiler(interval=0.001, async_mode="enabled")
    profiler.start()
    try:
        await work()
    finally:
        profiler.stop()
    text = profiler.output_text(unicode=False, color=False)
    path = _write(results_dir / f"{name}.txt", text)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return {"report": str(path.relative_to(ROOT)), "top": lines[:45]}


def _write(path: Path, text: str) -> Path:
    """Write a small report file (a few KB, once, after the profiled run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
