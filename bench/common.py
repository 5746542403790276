"""What every benchmark shares: the machine it ran on, its figures, its table and its JSON.

A benchmark returns a :class:`Result`: named figures with a unit and, where the issue sets
one, a target. :func:`publish` prints the result as a table and writes it to
``bench/results/<name>.json`` with the machine, the git commit and the command, so a figure
is never quoted without what produced it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

__all__ = [
    "RESULTS",
    "ROOT",
    "Figure",
    "Result",
    "cpu_seconds",
    "format_number",
    "load_result",
    "machine",
    "percentile",
    "postgres_cpu",
    "print_table",
    "publish",
    "rss_mib",
    "say",
    "scratch_dir",
    "slope",
]

ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS: Final = ROOT / "bench" / "results"
_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


def say(text: str) -> None:
    """One progress line on stderr, so the tables on stdout stay clean."""
    print(f"bench {time.strftime('%H:%M:%S')}: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured value, with its unit and (where the issue sets one) its target."""

    name: str
    value: float | None
    unit: str
    target: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None without a target or without a value."""
        if self.target is None or self.value is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def target_text(self) -> str:
        """``>= 1000`` or ``<= 40``; empty without a target."""
        if self.target is None:
            return ""
        return f"{'>=' if self.higher_is_better else '<='} {format_number(self.target)}"

    def as_json(self) -> dict[str, Any]:
        """The figure as stored in the results file."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.target,
            "target_text": self.target_text,
            "met": self.met,
            "note": self.note,
        }


@dataclass
class Result:
    """What one benchmark measured."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        name: str,
        value: float | None,
        unit: str,
        *,
        target: float | None = None,
        higher_is_better: bool = True,
        note: str = "",
    ) -> Figure:
        """Record a figure and return it."""
        figure = Figure(name, value, unit, target, higher_is_better, note)
        self.figures.append(figure)
        return figure

    def figure(self, name: str) -> Figure | None:
        """A figure by name."""
        return next((f for f in self.figures if f.name == name), None)


def format_number(value: float | None) -> str:
    """A figure as the tables show it: thousands separated, three significant digits."""
    if value is None:
        return "-"
    if isinstance(value, int) or value == 0:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    """An aligned plain-text table on stdout."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def _met_text(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[met]


def _table_rows(figures: Iterable[Figure]) -> list[list[str]]:
    return [
        [f.name, format_number(f.value), f.unit, f.target_text, _met_text(f.met), f.note]
        for f in figures
    ]


def _git(*args: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def machine(postgres: str = "", broker: str = "") -> dict[str, Any]:
    """The machine, software versions and commit a figure was measured with."""
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgres": postgres,
        "broker": broker,
        "git_commit": _git("rev-parse", "--short=12", "HEAD"),
        "git_dirty": dirty,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def publish(
    result: Result,
    *,
    quick: bool,
    started: float,
    machine_info: Mapping[str, Any],
    results_dir: Path = RESULTS,
) -> Path:
    """Print ``result`` as a table and write its JSON; return the file written."""
    elapsed = time.monotonic() - started
    print()
    print(f"== {result.title} ({result.name}{', quick' if quick else ''}, {elapsed:.0f} s)")
    print_table(_table_rows(result.figures), ["figure", "value", "unit", "target", "met", "note"])
    for note in result.notes:
        print(f"  note: {note}")
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.name}.json"
    document = {
        "benchmark": result.name,
        "title": result.title,
        "quick": quick,
        "command": f"python -m bench {result.name}{' --quick' if quick else ''}",
        "finished_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "machine": dict(machine_info),
        "settings": result.settings,
        "figures": [f.as_json() for f in result.figures],
        "details": result.details,
        "notes": result.notes,
    }
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    scratch.replace(path)
    return path


def load_result(name: str, results_dir: Path = RESULTS) -> dict[str, Any] | None:
    """A benchmark's last results file, or None when there is none (or it is unreadable)."""
    path = results_dir / f"{name}.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return loaded if isinstance(loaded, dict) else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` percentile (0..1) of ``values`` by the nearest-rank method."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process (``VmRSS`` in ``/proc/<pid>/status``), in MiB."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used so far (``/proc/<pid>/stat``)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        # The command name may hold spaces: the fields after it start past the last ')'.
        fields = text.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return None


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """The least-squares rate (count per second) of ``(seconds, count)`` samples.

    Progress read from committed offsets moves in steps, one per batch; the fitted line over
    every sample of the window is steadier than the difference of its two ends.
    """
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_n = sum(n for _, n in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    return sum((t - mean_t) * (n - mean_n) for t, n in points) / spread


def _postgres_pids(postmaster: int) -> list[int]:
    """The postmaster and all its children (the backends and helpers)."""
    found = [postmaster]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                found.append(int(entry.name))
    return found


def postgres_cpu(postmaster: int | None) -> float:
    """CPU time used so far by a Postgres server: its postmaster and every live child."""
    if postmaster is None:
        return 0.0
    return sum(cpu_seconds(pid) or 0.0 for pid in _postgres_pids(postmaster))


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory for logs: removed after success, kept (and named) after a failure."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    except BaseException:
        say(f"logs kept in {path}")
        raise
    shutil.rmtree(path, ignore_errors=True)
