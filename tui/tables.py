"""Prints rows (lists of flat dicts) as a terminal table, CSV, JSON or Markdown."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any, TextIO

from engine.errors import UserError

NESTED = ("recall",)
INTERVALS = ("auc_ci", "mel_recall_ci")  # [low, high]: one cell in tables, two columns in CSV
NAME_WIDTH = 40  # a longer cell (a name, a reason) is cut with an ellipsis, so the figures after it stay in view


def numeric_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns --sort offers: those holding a number in some row and nothing else in any."""
    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    return [key for key in rows[0] if all(number(r.get(key)) or r.get(key) is None for r in rows)
            and any(number(r.get(key)) for r in rows)] if rows else []


def check_sort_column(rows: list[dict[str, Any]], column: str) -> None:
    """A column of names, flags or nested tables has no order to sort by: say which columns have one."""
    if rows and column not in numeric_columns(rows):
        reason = "no such column" if column not in rows[0] else "not a column of numbers"
        raise UserError(f"--sort {column}: {reason}; use one of {', '.join(numeric_columns(rows))}.")


def sort_rows(rows: list[dict[str, Any]], column: str, descending: bool) -> list[dict[str, Any]]:
    present = [r for r in rows if r.get(column) is not None]
    missing = [r for r in rows if r.get(column) is None]
    return sorted(present, key=lambda r: r[column], reverse=descending) + missing


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in row.items() if not isinstance(v, dict)}
    for key in NESTED:
        for name, value in (row.get(key) or {}).items():
            flat[f"{key}_{name}"] = value
    return flat


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "–".join(cell(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def print_table(rows: list[dict[str, Any]], fmt: str, shown: dict[str, str] | None = None) -> None:
    """`shown` (header -> key) picks the columns of the table and markdown formats; CSV and JSON keep all."""
    if fmt == "json":
        print(json.dumps(rows, indent=1))
        return
    if fmt == "csv":
        write_csv(rows, sys.stdout)
        return
    flat = [flatten(r) for r in rows]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    if shown:
        flat = [{header: r.get(key) for header, key in shown.items()} for r in flat]
        columns = list(shown)
    if fmt == "markdown":
        print(markdown(flat, columns))
    elif not flat:
        print("No runs stored yet; start one with 'dermalab run 8 --data synthetic --epochs 1'.")
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, header_style="bold")
        for column in columns:
            table.add_column(column, no_wrap=True, max_width=NAME_WIDTH, overflow="ellipsis")
        for r in flat:
            # Text, not str: a str cell is read as markup, and a name from a file may hold "[/bold]".
            table.add_row(*(Text(cell(r.get(c))) for c in columns))
        # Piped output is not cut to 80 columns; a terminal gets its own width.
        Console(width=None if sys.stdout.isatty() else 250).print(table)


def write_csv(rows: list[dict[str, Any]], stream: TextIO) -> None:
    """Every column of every row, nested ones flattened."""
    flat = [flatten(r) for r in rows]
    for row in flat:
        for key in INTERVALS:
            if key in row:
                row[f"{key}_low"], row[f"{key}_high"] = row.pop(key) or (None, None)
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
