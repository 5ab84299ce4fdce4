"""The leaderboard: every stored run, or every experiment's mean ± std over seeds, sorted by any column."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.widgets.header import LabHeader
from tui.widgets.leaderboard_table import LeaderboardTable

NAMES = {"auc": "AUC", "mel_recall": "mel recall", "cancer_sensitivity": "cancer sensitivity", "accuracy": "accuracy",
         "balanced_accuracy": "balanced accuracy", "train_seconds": "time", "delta_auc": "Δ AUC vs the page",
         "delta_mel_recall": "Δ mel recall vs the page", "experiment_id": "#", "synthetic": "data"}


def order_caption(app) -> str:
    """Which rows, in which order: shared with the recall grid, which follows the leaderboard."""
    if not app.lab.runs:
        return "No runs stored yet: select experiments (e), then press r."
    ranking = app.ranking
    rows = "per experiment (mean ± std over seeds, n runs)" if ranking.per_experiment else "per run"
    direction = "descending" if ranking.descending else "ascending"
    return f"{rows} · sorted by {NAMES.get(ranking.key, ranking.key)}, {direction}"


class LeaderboardScreen(Screen):
    BINDINGS = [
        Binding("s", "cycle_sort", "Sort", id="sort", tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse", id="reverse", tooltip="Reverse the sort order"),
        Binding("t", "toggle_rows", "Runs/experiments", id="per-experiment",
                tooltip="Switch between one row per run and one row per experiment (mean ± std over seeds)"),
    ]

    def compose(self) -> ComposeResult:
        yield LabHeader("leaderboard")
        yield Static(id="leaderboard-caption", classes="caption", markup=False)
        yield LeaderboardTable()
        yield Static("synth: synthetic data, not comparable with the page · Δ: ours minus the page's figure",
                     classes="legend", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        self.redraw()

    def changed(self, what: str) -> None:
        if what in ("store", "ranking"):
            self.redraw()

    def redraw(self) -> None:
        app = self.app
        self.query_one("#leaderboard-caption", Static).update(order_caption(app))
        self.query_one(LeaderboardTable).show(app.ranking.rows(app.lab.runs, app.lab.experiments), app.ranking)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.app.ranking.sort_by(str(event.column_key.value))
        self.app.lab_changed.publish("ranking")

    def action_cycle_sort(self) -> None:
        self.app.ranking.cycle([column.key for column in self.query_one(LeaderboardTable).shown])
        self.app.lab_changed.publish("ranking")

    def action_reverse_sort(self) -> None:
        self.app.ranking.descending = not self.app.ranking.descending
        self.app.lab_changed.publish("ranking")

    def action_toggle_rows(self) -> None:
        self.app.ranking.per_experiment = not self.app.ranking.per_experiment
        self.app.lab_changed.publish("ranking")
