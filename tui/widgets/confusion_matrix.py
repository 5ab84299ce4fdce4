"""A run's confusion matrix: true classes down, predicted across. Each cell is shaded by its share of the row,
so rare classes read as clearly as nevi, and prints its count and that share, so it reads without colour too."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.color import Color
from textual.widgets import Static

from engine.experiments import CLASSES
from tui import numbers

NONE, ALL = Color.parse("#1b1f24"), Color.parse("#1e88e5")  # a share of 0 and of 1


def cell(count: int, share: float | None) -> Text:
    if share is None:  # a class absent from this val set
        return Text(numbers.MISSING)
    background = NONE.blend(ALL, share)
    style = Style(bgcolor=background.rich_color, color=background.get_contrast_text().rich_color)
    return Text(f"{count} {numbers.percent(share):>4}", style=style)


class ConfusionMatrix(Static):
    def show(self, rows: list[dict[str, Any]]) -> None:
        """`rows` as `summary.confusion_rows` makes them."""
        table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0))
        table.add_column("true ↓", no_wrap=True)
        for name in CLASSES:
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        for row in rows:
            table.add_row(row["true"], *(cell(row[name], row[f"{name}_share"]) for name in CLASSES), str(row["n"]))
        self.update(table)
