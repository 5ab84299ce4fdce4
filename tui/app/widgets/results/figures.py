"""A small table of named figures: a label column, then one right-aligned column per thing compared."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class FigureTable(Static):
    def show(self, headers: list[str], rows: list[tuple[str, list[str]]]) -> None:
        """`headers` name the value columns; each row is a label and one formatted value per column."""
        table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0))
        table.add_column("", no_wrap=True)
        for header in headers:
            table.add_column(header, justify="right", no_wrap=True)
        for label, values in rows:
            table.add_row(Text(label), *map(Text, values))  # Text: a str cell would be read as markup
        self.update(table)
