"""Reading the tables of Zicht's Markdown docs (the partner agreements) in tests."""

from __future__ import annotations

import re

import pytest

__all__ = ["Row", "Table", "split_row", "tables_under"]

Row = dict[str, str]
Table = list[Row]


def split_row(line: str) -> list[str]:
    """The cells of one Markdown table row; ``\\|`` inside a cell is a literal bar."""
    inner = line.strip()[1:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def tables_under(page: str, heading: str) -> list[Table]:
    """Every Markdown table between the heading line and the next heading (code fences skipped)."""
    lines = page.splitlines()
    try:
        start = lines.index(heading) + 1
    except ValueError:
        pytest.fail(f"heading {heading!r} not found")
    tables: list[Table] = []
    header: list[str] | None = None
    in_fence = False
    for line in lines[start:]:
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            header = None
            continue
        cells = split_row(line)
        if header is None:
            header = cells
            tables.append([])
        elif not all(set(cell) <= set("-: ") for cell in cells):
            tables[-1].append(dict(zip(header, cells, strict=True)))
    return tables
