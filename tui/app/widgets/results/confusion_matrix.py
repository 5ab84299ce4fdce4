"""A run's confusion matrix: true classes down, predicted across. Each cell prints its count and its share of the
row, so rare classes read as clearly as nevi. The diagonal (each class's recall) is bold and on the recall grid's
colour scale; the errors around it are in greys, darker the fewer, so the diagonal stands out with or without
colour. The arrow keys move a cursor over the cells (the screen opens the highlighted cell's lesions); the matrix
scrolls itself whole into view as the cursor moves, so the cursor never moves out of sight nor leaves its column
names behind."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Static

from engine.classes import CLASSES, MEL
from tui.app.widgets.results.scale import GREYS, VIRIDIS, on_shade
from tui.text import numbers

CURSOR = Style(reverse=True, bold=True, underline=True)  # underlined too: reverse alone can vanish without colour
START = (MEL, CLASSES.index("nv"))  # true mel, called nv: the misses the page is about (on another set, its first)


def cell(count: int, share: float | None, diagonal: bool, shares: bool = True) -> Text:
    if share is None:  # a class absent from this val set
        return Text(numbers.MISSING)
    words = f"{count} {numbers.percent(share):>4}" if shares else str(count)
    return on_shade(words, share, VIRIDIS if diagonal else GREYS, bold=diagonal)


class ConfusionMatrix(Static, can_focus=True):
    BINDINGS = [Binding("up", "move(-1, 0)", show=False), Binding("down", "move(1, 0)", show=False),
                Binding("left", "move(0, -1)", show=False), Binding("right", "move(0, 1)", show=False)]
    cursor: reactive[tuple[int, int]] = reactive(START)  # (true, predicted) class indices

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.rows: list[dict[str, Any]] = []

    def show(self, rows: list[dict[str, Any]]) -> None:
        """`rows` as `summary.confusion_rows` makes them, a row per class of the run's set."""
        self.rows = rows
        start = START if tuple(self.names) == CLASSES else (0, 0)
        if self.cursor != start:
            self.cursor = start  # redraws
        else:
            self.redraw()

    @property
    def names(self) -> list[str]:
        """The classes of the run's set, by label."""
        return [row["true"] for row in self.rows]

    def watch_cursor(self) -> None:
        self.redraw()
        self.scroll_visible(animate=False)

    @property
    def highlighted_count(self) -> int:
        """How many val lesions the highlighted cell holds."""
        true, predicted = self.cursor
        return int(self.rows[true][self.names[predicted]]) if self.rows else 0

    def action_move(self, down: int, across: int) -> None:
        true, predicted = self.cursor
        last = len(self.rows) - 1
        self.cursor = (min(max(true + down, 0), last), min(max(predicted + across, 0), last))

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Each cell's count and share where the width holds them, else the counts alone, said under the table:
        a share is left out whole rather than cut to '8…'."""
        shares = self.width_needed(shares=True) <= self.content_region.width or not self.content_region.width
        caption = None if shares else "shares left out: too narrow"
        table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0), caption=caption,
                      caption_justify="left")
        table.add_column("true ↓", no_wrap=True)
        for name in self.names:
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        for true, row in enumerate(self.rows):
            cells = [cell(row[name], row[f"{name}_share"], name == row["true"], shares) for name in self.names]
            if true == self.cursor[0]:
                cells[self.cursor[1]].stylize(CURSOR)
            table.add_row(row["true"], *cells, str(row["n"]))
        self.update(table)

    def width_needed(self, shares: bool) -> int:
        """The table's width: each column as wide as its widest cell or header, and a space after each."""
        columns = [["true ↓", *(row["true"] for row in self.rows)],
                   *([name, *(cell(row[name], row[f"{name}_share"], False, shares).plain for row in self.rows)]
                     for name in self.names),
                   ["n", *(str(row["n"]) for row in self.rows)]]
        return sum(max(map(len, column)) + 1 for column in columns)
