"""The leaderboard: every stored run, or every experiment's mean ± std over seeds, sorted by any column."""

from __future__ import annotations

from typing import Any

from tui.app.screens.ranked import RankedScreen
from tui.app.widgets.results.leaderboard_table import LeaderboardTable
from tui.text.measures import explained


class LeaderboardScreen(RankedScreen):
    VIEW = "leaderboard"

    def rows_widget(self) -> LeaderboardTable:
        return LeaderboardTable()

    def show(self, rows: list[dict[str, Any]]) -> None:
        self.query_one(LeaderboardTable).show(rows, self.app.ranking, self.app.lab.marked)

    def legend(self) -> list[str]:
        return [explained("cancer_sensitivity"), "after a name: unlike the page (from scratch: no ImageNet weights), "
                "so no Δ", "Δ: ours minus the page's figure"]

    def sort_keys(self) -> list[str]:
        return [column.key for column in self.query_one(LeaderboardTable).shown]
