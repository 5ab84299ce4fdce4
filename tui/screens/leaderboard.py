"""The leaderboard: every stored run, or every experiment's mean ± std over seeds, sorted by any column."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable

from tui.screens.ranked import RankedScreen
from tui.widgets.leaderboard_table import LeaderboardTable


class LeaderboardScreen(RankedScreen):
    VIEW = "leaderboard"
    LEGEND = ("synth: synthetic data · after a name: how it ran unlike the page (from scratch: no ImageNet weights), "
              "so no Δ · Δ: ours minus the page's figure")
    BINDINGS = [
        Binding("s", "cycle_sort", "Sort", id="sort", tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse", id="reverse", tooltip="Reverse the sort order"),
        Binding("t", "toggle_rows", "Runs/experiments", id="per-experiment",
                tooltip="Switch between one row per run and one row per experiment (mean ± std over seeds)"),
    ]

    def rows_widget(self) -> LeaderboardTable:
        return LeaderboardTable()

    def show(self, rows: list[dict[str, Any]]) -> None:
        self.query_one(LeaderboardTable).show(rows, self.app.ranking, self.app.lab.marked)

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
