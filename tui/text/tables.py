"""Prints rows (lists of flat dicts) as a terminal table, CSV, JSON or Markdown.

JSON and CSV speak one vocabulary for every command: the experiment is `id` (as in `list --json` and
`run --json`), and an undefined figure is null, never the non-standard NaN."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from engine.errors import UserError
from engine.store.figures import defined
from tui.text import numbers
from tui.text.measures import measure_of

NESTED = ("recall",)  # per-class dicts; a column names one class as CSV does: recall_mel
INTERVALS = ("auc_ci", "mel_recall_ci")  # [low, high]: one cell in tables, two columns in CSV
GAP = 2  # spaces between two columns of a table
# Keys that read in tables as they do in the app.
SHOWN_AS: dict[str, Callable[[Any], str]] = {
    "synthetic": lambda synthetic: "synth" if synthetic else "real", "params": numbers.count,
    "train_seconds": numbers.seconds, "delta_auc": numbers.signed_auc}
NAME_WIDTH = 40  # a longer cell (a name, a reason) is cut with an ellipsis, so the figures after it stay in view
MACHINE_NAMES = {"experiment_id": "id"}
NO_RUNS = "No runs stored yet; start one with 'dermalab run 8 --data synthetic --epochs 1'."


def numeric_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns --sort offers: those holding a number in some row and nothing else in any."""
    return [key for key in sortable(rows[0]) if _numbers_only(rows, key)] if rows else []


def _numbers_only(rows: list[dict[str, Any]], key: str) -> bool:
    """Numbers and blanks, and a number in some row; or a measure that no row has yet (before any run finished,
    every AUC is blank), which sorts as soon as one has."""
    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    values = [column_value(r, key) for r in rows]
    return all(number(v) or v is None for v in values) and (any(map(number, values)) or measure_of(key) is not None)


def check_sort_column(rows: list[dict[str, Any]], column: str) -> None:
    """A column of names, flags or nested tables has no order to sort by: say which columns have one (looked for
    only then: one column is quick to check at 10,000 rows, all of them are not)."""
    if rows and not (column in sortable(rows[0]) and _numbers_only(rows, column)):
        reason = "no such column" if column not in {*rows[0], *sortable(rows[0])} else "not a column of numbers"
        raise UserError(f"--sort {column}: {reason}; use one of {', '.join(numeric_columns(rows))}.")


def sortable(row: dict[str, Any]) -> list[str]:
    """The columns a row has to sort by: its flat keys, and each class of its nested ones."""
    return [k for k in row if k not in NESTED] + [f"{key}_{name}" for key in NESTED for name in row.get(key) or {}]


def column_value(row: dict[str, Any], column: str) -> Any:
    """A row's value in `column`, reaching into a nested dict for a column such as recall_mel."""
    for key in NESTED:
        if column not in row and column.startswith(f"{key}_"):
            return (row.get(key) or {}).get(column.removeprefix(f"{key}_"))
    return row.get(column)


def sort_rows(rows: list[dict[str, Any]], column: str, descending: bool) -> list[dict[str, Any]]:
    present = [r for r in rows if column_value(r, column) is not None]
    missing = [r for r in rows if column_value(r, column) is None]
    return sorted(present, key=lambda r: column_value(r, column), reverse=descending) + missing


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in row.items() if not isinstance(v, dict)}
    for key in NESTED:
        for name, value in (row.get(key) or {}).items():
            flat[f"{key}_{name}"] = value
    return flat


def cell(value: Any, key: str = "") -> str:
    """A value as tables show it; `key` names what it holds: proportions read as percents, and a few keys read
    as the app shows them."""
    if value is None:
        return ""
    if key in SHOWN_AS:
        return SHOWN_AS[key](value)
    if isinstance(value, list):  # an interval, or words (what differs from the page, notes)
        return ("; " if all(isinstance(v, str) for v in value) else "–").join(cell(v, key) for v in value)
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        measure = measure_of(key)
        if measure and measure.percent:
            return numbers.percent(value)
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    spread: bool = False  # a seed mean: "mean±std" in one cell, and key_std as its own CSV column
    priority: int = 0  # 0: always shown; 1, 2 and 3 only while the table still fits the terminal
    otherwise: str | None = None  # the key shown when this one has no value (a cancelled run's status for its AUC)

    def shown(self, row: dict[str, Any]) -> str:
        if row.get(self.key) is None and self.otherwise:
            return cell(row.get(self.otherwise), self.otherwise)
        std = row.get(f"{self.key}_std") if self.spread else None
        return cell(row.get(self.key), self.key) + (f"±{cell(std, f'{self.key}_std')}" if std is not None else "")

    def raw(self, row: dict[str, Any]) -> dict[str, Any]:
        keys = (self.key, f"{self.key}_std") if self.spread else (self.key,)
        return {key: row.get(key) for key in keys}


def terminal_width() -> int | None:
    """The terminal's columns (or $COLUMNS); None when the output goes to a pipe or a file."""
    return shutil.get_terminal_size((0, 0)).columns or None


def fitting(columns: list[Column], rows: list[dict[str, Any]], width: int | None) -> list[Column]:
    """The columns of the highest priority level whose table fits `width` (all of them when None). A column that
    may give way and has nothing to show in any row does so first: its header alone would crowd out figures."""
    if width is None:
        return columns
    columns = [c for c in columns if c.priority == 0 or any(c.shown(row) for row in rows)]

    def needed(column: Column) -> int:
        return min(max([len(column.header), *(len(column.shown(row)) for row in rows)]), NAME_WIDTH) + GAP

    chosen = [c for c in columns if c.priority == 0]
    for level in (1, 2, 3):
        wider = [c for c in columns if c.priority <= level]
        if sum(map(needed, wider)) - GAP > width:
            break
        chosen = wider
    return chosen


def print_table(rows: list[dict[str, Any]], fmt: str, columns: list[Column] | None = None, wide: bool = False,
                notes: tuple[str, ...] = (), empty: str = NO_RUNS) -> None:
    """`columns` pick and order what the table and markdown formats show (every key when None); a table keeps to
    the terminal's width unless `wide`. CSV and JSON keep every key, as fractions; `notes` follow a table, and
    `empty` stands in for one without rows."""
    if fmt == "json":
        print(dumps([machine(row) for row in rows]))
        return
    if fmt == "csv":
        write_csv([machine(row) for row in rows], sys.stdout)
        return
    if columns:  # flattened only where a shown column is a nested one (recall_mel): 10,000 rows add up
        nested = rows and any(column.key not in rows[0] for column in columns)
        flat = [flatten(r) for r in rows] if nested else rows
    else:
        flat = [flatten(r) for r in rows]
        columns = [Column(key, key) for key in dict.fromkeys(k for r in flat for k in r)]
    if fmt == "markdown":
        print(markdown([{c.header: c.shown(r) for c in columns} for r in flat], [c.header for c in columns]))
    elif not flat:
        print(empty)
    else:
        width = terminal_width()
        shown = fitting(columns, flat, None if wide else width)
        print(aligned([[c.header for c in shown], *([c.shown(r) for c in shown] for r in flat)]))
        for note in (*notes, *left_out(columns, shown, flat, width)):
            print(wrapped(note, width))


def left_out(columns: list[Column], shown: list[Column], rows: list[dict[str, Any]], width: int | None) -> list[str]:
    """The sentence naming the columns that gave way to the terminal's width (those with something to show), so
    that a blank beside a figure is never read as a missing one."""
    names = [c.header for c in columns if c not in shown and any(c.shown(row) for row in rows)]
    return [f"Left out at {width} columns: {', '.join(names)}; --wide shows every column."] if names else []


def wrapped(text: str, width: int | None) -> str:
    """A line of prose under a table, broken to the terminal's width (one line in a pipe)."""
    return textwrap.fill(text, width, subsequent_indent="  ") if width else text


def aligned(lines: list[list[str]]) -> str:
    """The header line and the rows' cells, each column as wide as its widest cell, GAP spaces apart: plain text,
    quick for 10,000 rows (a rich table takes about 2 ms a row), and never read as markup."""
    lines = [[_cut(text) for text in line] for line in lines]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(" " + (" " * GAP).join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
                     for line in lines)


def _cut(text: str) -> str:
    return text if len(text) <= NAME_WIDTH else text[:NAME_WIDTH - 1] + "…"


def machine(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON and CSV give it: the shared key names, and null for an undefined figure."""
    return {MACHINE_NAMES.get(key, key): defined(value) for key, value in row.items()}


def dumps(value: Any, indent: int | None = 1) -> str:
    """JSON with null where a figure is undefined: NaN is no JSON, and strict parsers refuse it."""
    return json.dumps(defined(value), indent=indent, allow_nan=False)


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


def markdown(rows: list[dict[str, str]], columns: list[str]) -> str:
    """`rows` of cells already formatted, under the `columns` headers."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(markdown_cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def markdown_cell(text: str) -> str:
    """A '|' in a name would end the cell, and a line break the row."""
    return " ".join(text.replace("|", "\\|").split())
