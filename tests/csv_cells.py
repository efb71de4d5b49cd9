"""Check CSV text as a spreadsheet would read it: no cell may start a formula."""

from __future__ import annotations

import csv
import io

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def formula_cells(text: str) -> list[str]:
    """The cells (header included) that a spreadsheet would run: text starting with a formula
    character. A number such as -5 or -0.25 is a number, not a formula."""
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if cell.startswith(FORMULA_STARTS) and not _is_number(cell)
    ]


def cells(text: str) -> set[str]:
    """Every cell of the CSV text, header included."""
    return {cell for row in csv.reader(io.StringIO(text)) for cell in row}
