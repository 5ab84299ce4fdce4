"""The leaderboard: every stored run, or every experiment's mean ± std over seeds, sorted by any column."""

from __future__ import annotations

from typing import Any

from engine.store import summary
from tui.app.screens.ranked import RankedScreen
from tui.app.widgets.results.leaderboard_table import LeaderboardTable
from tui.text.measures import explained


class LeaderboardScreen(RankedScreen):
    VIEW = "leaderboard"

    def rows_widget(self) -> LeaderboardTable:
        return LeaderboardTable()

    def show(self, rows: list[dict[str, Any]]) -> None:
        self.query_one(LeaderboardTable).show(rows, self.app.ranking, self.app.lab.marked, self.measures())

    def legend(self, rows: list[dict[str, Any]]) -> list[str]:
        """The marks explained only where a shown row carries them, each in its own words."""
        measures = self.measures()
        words = [explained("cancer_sensitivity", measures=measures)] if "cancer_sensitivity" in measures else []
        if any(row.get("run_id") in self.app.lab.marked for row in rows):
            words.append("●: marked (m)")
        unlike = {word for row in rows for word in row["differs"] if word != summary.SYNTHETIC_DATA}
        if unlike:
            words.append("after a name: unlike the page, so no Δ")
            if "from scratch" in unlike:
                words.append("from scratch: no ImageNet weights")
        return [*words, "Δ: ours minus the page's figure"]

    def sort_keys(self) -> list[str]:
        return [column.key for column in self.query_one(LeaderboardTable).shown]
