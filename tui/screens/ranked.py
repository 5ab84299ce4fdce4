"""What the leaderboard and the recall grid share: the same rows in the same order, under a caption that says
which rows and which order, above a legend."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from tui.widgets.header import LabHeader
from tui.widgets.key_line import KeyLine

SORT_NAMES = {"auc": "AUC", "mel_recall": "mel recall", "cancer_sensitivity": "cancer sensitivity",
              "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "train_seconds": "time",
              "delta_auc": "Δ AUC vs the page", "delta_mel_recall": "Δ mel recall vs the page", "experiment_id": "#",
              "synthetic": "data"}


def order_caption(app: Any) -> str:
    if not app.lab.runs:
        return "No runs stored yet: select experiments (e), then press r."
    ranking = app.ranking
    rows = "per experiment (mean ± std over seeds, n runs)" if ranking.per_experiment else "per run"
    direction = "descending" if ranking.descending else "ascending"
    return f"{rows} · sorted by {SORT_NAMES.get(ranking.key, ranking.key)}, {direction}"


class RankedScreen(Screen):
    VIEW = ""
    LEGEND = ""

    def rows_widget(self) -> Widget:
        raise NotImplementedError

    def show(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        yield LabHeader(self.VIEW)
        yield Static(id="order-caption", classes="caption", markup=False)
        yield self.rows_widget()
        yield Static(self.LEGEND, classes="legend", markup=False)
        yield KeyLine()

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        self.redraw()

    def changed(self, what: str) -> None:
        if what in ("store", "ranking"):
            self.redraw()

    def redraw(self) -> None:
        app = self.app
        self.query_one("#order-caption", Static).update(order_caption(app))
        self.show(app.ranking.rows(app.lab.runs, app.lab.experiments))
