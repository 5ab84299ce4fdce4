"""The `/` filter of a list: typing narrows the list at once; enter goes back to the list with the filter kept,
escape clears it. The bar stays in view while a filter is on, so the list never looks shorter without a reason."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

FILTER = Binding("slash", "filter", "Filter", id="filter",
                 tooltip="Show only the rows whose experiment matches what you type")


class FilterBar(Input):
    BINDINGS = [Binding("escape", "clear", "Clear the filter", show=False)]

    def __init__(self) -> None:
        super().__init__(placeholder="filter: part of a name or a chapter, or an experiment's id; esc clears",
                         id="filter-bar")
        self.display = False

    def open(self) -> None:
        self.display = True
        self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.display = bool(self.value.strip())
        self.screen.focus_next()  # the list below

    def action_clear(self) -> None:
        self.value = ""  # the screen hears Input.Changed and shows everything again
        self.display = False
        self.screen.focus_next()
