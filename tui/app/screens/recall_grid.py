"""The recall grid: per-class recall of each run (or experiment), rows in the leaderboard's order."""

from __future__ import annotations

from typing import Any

from tui.app.screens.ranked import RankedScreen
from tui.app.widgets.results.recall_grid import SORT_KEYS, RecallGrid
from tui.app.widgets.results.scale import scale_words
from tui.text.measures import explained


class RecallGridScreen(RankedScreen):
    VIEW = "recall grid"

    def rows_widget(self) -> RecallGrid:
        return RecallGrid()

    def show(self, rows: list[dict[str, Any]]) -> None:
        self.query_one(RecallGrid).show(rows, self.app.ranking, self.measures())

    def legend(self, rows: list[dict[str, Any]]) -> list[str]:
        return [f"recall in %: {scale_words(not self.app.no_color)} · MEL = melanoma",
                explained("cancer_sensitivity", measures=self.measures()),
                "s sorts by MEL first"]

    def sort_keys(self) -> list[str]:
        return SORT_KEYS

    def columns(self) -> list[str]:
        return [key for key in SORT_KEYS if key != "auc"]  # AUC orders the rows (s reaches it) but has no column
