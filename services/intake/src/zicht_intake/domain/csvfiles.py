"""Reading the partners' CSV files: UTF-8, ';'-separated, RFC 4180 quoting, a header row.

Shared by the access-team, registry and indicator CSV formats, which agree on the file rules:
a byte-order mark is allowed, header names match case-insensitively after trimming, every
agreed column must be present, an unknown column refuses the whole file (it may hold personal
data intake must not store), cells are trimmed, and rows are numbered as a spreadsheet shows
them (the header is row 1; a quoted cell with a line break still counts as one row).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from zicht_intake.domain.problems import Detail, Refusal, Rejection
from zicht_schemas.codes import RejectionCode

__all__ = ["CsvRecord", "read_csv"]

_BOM = b"\xef\xbb\xbf"
_OTHER_SEPARATORS = (",", "\t", "|")


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One data row: its spreadsheet row number and its trimmed cells by agreed column name.

    ``problem`` is set (and ``cells`` empty) when the row cannot be read as the header says.
    """

    row: int
    cells: dict[str, str]
    problem: Rejection | None = None


def _malformed(detail: str, *, row: int | None = None, column: str | None = None) -> Rejection:
    return Rejection(RejectionCode.MALFORMED_PAYLOAD, detail, row=row, column=column)


def _header(names: Sequence[str], columns: Sequence[str]) -> dict[int, str] | Refusal:
    """Header position -> agreed column name, or the refusal of the whole file."""
    by_folded = {column.casefold(): column for column in columns}
    trimmed = [name.strip() for name in names]
    if len(trimmed) == 1 and any(sep in trimmed[0] for sep in _OTHER_SEPARATORS):
        return Refusal.of(_malformed(Detail.CSV_WRONG_SEPARATOR, row=1))
    rejections: list[Rejection] = []
    positions: dict[int, str] = {}
    for position, name in enumerate(trimmed):
        column = by_folded.get(name.casefold())
        if column is None:
            rejections.append(_malformed(Detail.csv_unknown_column(position + 1), row=1))
        elif column in positions.values():
            rejections.append(_malformed(Detail.CSV_DUPLICATE_COLUMN, row=1, column=column))
        else:
            positions[position] = column
    rejections.extend(
        _malformed(Detail.CSV_MISSING_COLUMN, row=1, column=column)
        for column in columns
        if column not in positions.values()
    )
    return Refusal(tuple(rejections)) if rejections else positions


def _records(text: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"')


def read_csv(  # noqa: PLR0911 # one pass over the file, each refusal said where it arises
    data: bytes, *, columns: Sequence[str], max_bytes: int, max_rows: int
) -> Refusal | tuple[CsvRecord, ...]:
    """The data rows of a partner CSV file, or the refusal of the whole file.

    Args:
        data: The file as received.
        columns: The agreed column names, as the format page spells them.
        max_bytes: The agreed size limit of the file.
        max_rows: The agreed maximum of data rows.

    Returns:
        Every non-empty data row with its cells by agreed column name (empty cell = ``""``),
        or a refusal: ``malformed_payload`` for a file intake cannot read as agreed (too large,
        not UTF-8, holding NUL, not ';'-separated CSV, header wrong, no data rows),
        ``invalid_value`` for more data rows than agreed.
    """
    if len(data) > max_bytes:
        return Refusal.of(_malformed(Detail.too_large(max_bytes)))
    try:
        text = data.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError:
        return Refusal.of(_malformed(Detail.NOT_UTF8))
    if "\x00" in text:
        # Valid UTF-8, but no cell with it could be stored (Postgres text cannot hold U+0000).
        return Refusal.of(_malformed(Detail.NUL_CHARACTER))
    records = _records(text)
    result: list[CsvRecord] = []
    try:
        header_cells = next(records, None)
        if header_cells is None or not any(cell.strip() for cell in header_cells):
            return Refusal.of(_malformed(Detail.CSV_EMPTY, row=1))
        header = _header(header_cells, columns)
        if isinstance(header, Refusal):
            return header
        for index, cells in enumerate(records, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # an empty line, or a row of empty cells as spreadsheets export them
            if len(result) >= max_rows:
                return Refusal.of(
                    Rejection(RejectionCode.INVALID_VALUE, Detail.csv_too_many_rows(max_rows))
                )
            if len(cells) != len(header_cells):
                result.append(CsvRecord(index, {}, _malformed(Detail.CSV_ROW_CELLS, row=index)))
                continue
            result.append(CsvRecord(index, {header[pos]: cells[pos].strip() for pos in header}))
    except csv.Error:
        # e.g. a cell longer than the csv module's field limit, far beyond any agreed cell.
        return Refusal.of(_malformed(Detail.CSV_UNREADABLE))
    if not result:
        return Refusal.of(_malformed(Detail.CSV_NO_ROWS))
    return tuple(result)
