"""The recall grid: per-class recall of each run (or experiment), rows in the leaderboard's order."""

from __future__ import annotations

from typing import Any

from tui.app.screens.ranked import RankedScreen
from tui.app.widgets.results.recall_grid import Classes, RecallGrid
from tui.app.widgets.results.scale import scale_words
from tui.text.measures import explained


class RecallGridScreen(RankedScreen):
    VIEW = "recall grid"

    def rows_widget(self) -> RecallGrid:
        return RecallGrid()

    def grid_classes(self) -> Classes:
        return Classes.of(self.app.lab.dataset)

    def show(self, rows: list[dict[str, Any]]) -> None:
        self.query_one(RecallGrid).show(rows, self.app.ranking, self.measures(), self.grid_classes())

    def legend(self, rows: list[dict[str, Any]]) -> list[str]:
        classes = self.grid_classes()
        lines = [f"recall in %: {scale_words(not self.app.no_color)}"]
        if classes.focus is not None:
            lines[0] += f" · {classes.focus_title} = {'melanoma' if classes.focus == 'mel' else classes.focus}"
            lines += [explained("cancer_sensitivity", measures=self.measures()),
                      f"s sorts by {classes.focus_title} first"]
        if classes.abbreviated:  # the headers cut the set's long names: here they are whole, in the columns' order
            lines.append(f"classes: {', '.join(classes.names)}")
        return lines

    def sort_keys(self) -> list[str]:
        return self.grid_classes().sort_keys

    def columns(self) -> list[str]:
        return [key for key in self.sort_keys() if key != "auc"]  # AUC orders the rows (s reaches it) but has no column
