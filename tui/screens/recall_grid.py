"""The recall grid: per-class recall of each run (or experiment), rows in the leaderboard's order."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.screens.leaderboard import order_caption
from tui.widgets.header import LabHeader
from tui.widgets.recall_grid import RecallGrid

LEGEND = ("recall in %: red 0 → amber 50 → green 100 · MEL = melanoma · cancer = sensitivity over akiec, bcc, mel · "
          "order and rows follow the leaderboard (l)")


class RecallGridScreen(Screen):
    def compose(self) -> ComposeResult:
        yield LabHeader("recall grid")
        yield Static(id="grid-caption", classes="caption", markup=False)
        yield RecallGrid()
        yield Static(LEGEND, classes="legend", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        self.redraw()

    def changed(self, what: str) -> None:
        if what in ("store", "ranking"):
            self.redraw()

    def redraw(self) -> None:
        app = self.app
        self.query_one("#grid-caption", Static).update(order_caption(app))
        rows = app.ranking.rows(app.lab.runs, app.lab.experiments)
        self.query_one(RecallGrid).show(rows, app.ranking.per_experiment)
