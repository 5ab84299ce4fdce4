"""Prints rows (lists of flat dicts) as a terminal table, CSV, JSON or Markdown.

JSON and CSV speak one vocabulary for every command: the experiment is `id` (as in `list --json` and
`run --json`), and an undefined figure is null, never the non-standard NaN."""

from __future__ import annotations

import csv
import json
import math
import sys
from typing import Any, TextIO

from engine.errors import UserError
from engine.experiments import CLASSES

NESTED = ("recall",)  # per-class dicts; a column names one class as CSV does: recall_mel
INTERVALS = ("auc_ci", "mel_recall_ci")  # [low, high]: one cell in tables, two columns in CSV
NAME_WIDTH = 40  # a longer cell (a name, a reason) is cut with an ellipsis, so the figures after it stay in view
MACHINE_NAMES = {"experiment_id": "id"}


def numeric_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns --sort offers: those holding a number in some row and nothing else in any."""
    return [key for key in sortable(rows[0]) if _numbers_only(rows, key)] if rows else []


def _numbers_only(rows: list[dict[str, Any]], key: str) -> bool:
    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    return all(number(value(r, key)) or value(r, key) is None for r in rows) and any(number(value(r, key)) for r in rows)


def check_sort_column(rows: list[dict[str, Any]], column: str) -> None:
    """A column of names, flags or nested tables has no order to sort by: say which columns have one (looked for
    only then: one column is quick to check at 10,000 rows, all of them are not)."""
    if rows and not (column in sortable(rows[0]) and _numbers_only(rows, column)):
        reason = "no such column" if column not in {*rows[0], *sortable(rows[0])} else "not a column of numbers"
        raise UserError(f"--sort {column}: {reason}; use one of {', '.join(numeric_columns(rows))}.")


def sortable(row: dict[str, Any]) -> list[str]:
    """The columns a row has to sort by: its flat keys, and each class of its nested ones."""
    return [k for k in row if k not in NESTED] + [f"{key}_{name}" for key in NESTED if key in row for name in CLASSES]


def value(row: dict[str, Any], column: str) -> Any:
    """A row's value in `column`, reaching into a nested dict for a column such as recall_mel."""
    for key in NESTED:
        if column not in row and column.startswith(f"{key}_"):
            return (row.get(key) or {}).get(column.removeprefix(f"{key}_"))
    return row.get(column)


def sort_rows(rows: list[dict[str, Any]], column: str, descending: bool) -> list[dict[str, Any]]:
    present = [r for r in rows if value(r, column) is not None]
    missing = [r for r in rows if value(r, column) is None]
    return sorted(present, key=lambda r: value(r, column), reverse=descending) + missing


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in row.items() if not isinstance(v, dict)}
    for key in NESTED:
        for name, value in (row.get(key) or {}).items():
            flat[f"{key}_{name}"] = value
    return flat


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):  # an interval, or words (what differs from the page, notes)
        return ("; " if all(isinstance(v, str) for v in value) else "–").join(cell(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def print_table(rows: list[dict[str, Any]], fmt: str, shown: dict[str, str] | None = None) -> None:
    """`shown` (header -> key) picks the columns of the table and markdown formats; CSV and JSON keep all."""
    if fmt == "json":
        print(dumps([machine(row) for row in rows]))
        return
    if fmt == "csv":
        write_csv([machine(row) for row in rows], sys.stdout)
        return
    if shown:  # flattened only where a shown column is a nested one (recall_mel): 10,000 rows add up
        nested = rows and any(key not in rows[0] for key in shown.values())
        source = map(flatten, rows) if nested else rows
        flat = [{header: r.get(key) for header, key in shown.items()} for r in source]
        columns = list(shown)
    else:
        flat = [flatten(r) for r in rows]
        columns = list(dict.fromkeys(k for r in flat for k in r))
    if fmt == "markdown":
        print(markdown(flat, columns))
    elif not flat:
        print("No runs stored yet; start one with 'dermalab run 8 --data synthetic --epochs 1'.")
    else:
        print(aligned(flat, columns))


def aligned(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Each column as wide as its widest cell, two spaces apart: plain text, quick for 10,000 rows (a rich table
    takes about 2 ms a row), and never read as markup."""
    lines = [columns] + [[_cut(cell(row.get(column))) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join(" " + "  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in lines)


def _cut(text: str) -> str:
    return text if len(text) <= NAME_WIDTH else text[:NAME_WIDTH - 1] + "…"


def machine(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON and CSV give it: the shared key names, and null for an undefined figure."""
    return {MACHINE_NAMES.get(key, key): _defined(value) for key, value in row.items()}


def dumps(value: Any, indent: int | None = 1) -> str:
    """JSON with null where a figure is undefined: NaN is no JSON, and strict parsers refuse it."""
    return json.dumps(_defined(value), indent=indent, allow_nan=False)


def _defined(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _defined(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_defined(item) for item in value]
    return value


def write_csv(rows: list[dict[str, Any]], stream: TextIO) -> None:
    """Every column of every row, nested ones flattened."""
    flat = [flatten(r) for r in rows]
    for row in flat:
        for key in INTERVALS:
            if key in row:
                row[f"{key}_low"], row[f"{key}_high"] = row.pop(key) or (None, None)
        for key, value in row.items():
            if isinstance(value, list):
                row[key] = cell(value)
    writer = csv.DictWriter(stream, fieldnames=list(dict.fromkeys(k for r in flat for k in r)))
    writer.writeheader()
    writer.writerows(flat)


def markdown(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(markdown_cell(cell(r.get(c))) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def markdown_cell(text: str) -> str:
    """A '|' in a name would end the cell, and a line break the row."""
    return " ".join(text.replace("|", "\\|").split())
