"""``python -m bench report``: ``bench/results/*.json`` as tables in docs/performance.md.

Only the part between the two ``bench:generated`` markers is rewritten; the text around it
(the reading of the figures, what limits each missed target) is written by hand and kept.
Every rate is also given as a ratio to the raw chain's rate of the same results directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from bench.common import RESULTS, ROOT, format_number, load_result

__all__ = ["DOC", "generated", "write_report"]

DOC: Final = ROOT / "docs" / "performance.md"
START: Final = "<!-- bench:generated:start (python -m bench report rewrites this part) -->"
END: Final = "<!-- bench:generated:end -->"
ORDER: Final = (
    "raw_chain",
    "throughput",
    "latency",
    "intake",
    "replay",
    "growth",
    "restart",
    "poison",
    "footprint",
)
_RAW_FIGURE: Final = "raw chain, 4 hops"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | None):
        return str(value)
    return format_number(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cells(items: Sequence[str]) -> str:
        return "| " + " | ".join(str(i).replace("|", "\\|") for i in items) + " |"

    return [cells(header), "| " + " | ".join("---" for _ in header) + " |", *map(cells, rows)]


def _raw_rate(results: Mapping[str, Mapping[str, Any]]) -> float | None:
    raw = results.get("raw_chain")
    if raw is None:
        return None
    for figure in raw["figures"]:
        if figure["name"] == _RAW_FIGURE and figure["value"]:
            return float(figure["value"])
    return None


def _ratio(figure: Mapping[str, Any], raw: float | None) -> str:
    if raw is None or figure["value"] is None or not str(figure["unit"]).endswith("/s"):
        return ""
    return f"{figure['value'] / raw:.3f}"


def _met(figure: Mapping[str, Any]) -> str:
    return {True: "met", False: "**missed**", None: ""}[figure.get("met")]


def _machine(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    first = next(iter(results.values()))["machine"]
    machines = [r["machine"] for r in results.values()]
    postgres = next((m["postgres"] for m in machines if m["postgres"]), "")
    broker = next((m["broker"] for m in machines if m["broker"]), "")
    rows = [
        ["CPU", f"{first['cpu_model']}, {first['cores']} cores"],
        ["RAM", f"{first['ram_gib']} GiB"],
        ["OS", first["os"]],
        ["Python", first["python"]],
        ["PostgreSQL", postgres],
        ["Broker", broker],
    ]
    lines = _table(["", ""], rows)
    lines += ["", *_table(
        ["benchmark", "command", "finished (UTC)", "took", "commit", "load average at start"],
        [
            [
                name,
                f"`{r['command']}`",
                r["finished_at"],
                f"{r['duration_s']:.0f} s",
                _commit(r["machine"]),
                " / ".join(_number(x) for x in r["machine"]["load_average_at_start"]),
            ]
            for name, r in results.items()
        ],
    )]  # fmt: skip
    return lines


def _commit(machine: Mapping[str, Any]) -> str:
    return str(machine["git_commit"]) + (" + local changes" if machine["git_dirty"] else "")


def _summary(results: Mapping[str, Mapping[str, Any]], raw: float | None) -> list[str]:
    rows = [
        [
            name,
            f["name"],
            f"{_number(f['value'])} {f['unit']}",
            f["target_text"],
            _met(f),
            _ratio(f, raw),
        ]
        for name, r in results.items()
        for f in r["figures"]
        if f["target"] is not None or f["name"] == _RAW_FIGURE
    ]
    return _table(["benchmark", "figure", "value", "target", "", "ratio to raw chain"], rows)


def _section(result: Mapping[str, Any], raw: float | None) -> list[str]:
    lines = [f"### {result['title']}", "", f"Command: `{result['command']}`.", ""]
    lines += _table(
        ["figure", "value", "unit", "target", "", "ratio to raw chain", "note"],
        [
            [
                f["name"],
                _number(f["value"]),
                f["unit"],
                f["target_text"],
                _met(f),
                _ratio(f, raw),
                f["note"],
            ]
            for f in result["figures"]
        ],
    )
    settings = result.get("settings") or {}
    if settings:
        lines += ["", "Settings:", ""]
        lines += [f"- {key}: `{_number(value)}`" for key, value in settings.items()]
    for note in result.get("notes") or []:
        lines += ["", f"Note: {note}"]
    return [*lines, ""]


def generated(results_dir: Path = RESULTS) -> str:
    """The generated Markdown: machine, summary with targets and ratios, every figure."""
    results = {name: r for name in ORDER if (r := load_result(name, results_dir)) is not None}
    if not results:
        return "No results yet: run `make bench`.\n"
    raw = _raw_rate(results)
    quick = [name for name, r in results.items() if r.get("quick")]
    lines = ["## Machine and runs", "", *_machine(results), ""]
    if quick:
        lines += [f"**Quick (smoke) runs, not comparable:** {', '.join(quick)}.", ""]
    lines += [
        "## Targets",
        "",
        (
            "The ratio divides a rate by the raw chain's rate in the same results. Replay does "
            "not pass through the broker: there the ratio only puts the two numbers side by side."
        ),
        "",
        *_summary(results, raw),
        "",
        "## Every figure",
        "",
    ]
    for result in results.values():
        lines += _section(result, raw)
    return "\n".join(lines)


def write_report(doc: Path = DOC, results_dir: Path = RESULTS) -> Path:
    """Rewrite the generated part of ``doc`` (or create the document around it)."""
    body = generated(results_dir)
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = f"{before}{START}\n\n{body}\n{END}{after}"
    else:
        text = f"# Performance\n\n{START}\n\n{body}\n{END}\n{text}"
    doc.write_text(text, encoding="utf-8")
    return doc
