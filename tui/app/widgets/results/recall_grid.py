"""Per-class recall as a grid: each cell on the colour of its share (tui.app.widgets.results.scale), with its number
printed, so it still reads without colour. The melanoma column is bold, wider and capitalised."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from engine.classes import CLASSES
from tui.app.ranking import Ranking
from tui.app.widgets.results.leaderboard_table import NAME_AT_LEAST, SCROLLBAR, RankedTable, shortened, unlike_page
from tui.app.widgets.results.scale import on_shade
from tui.text.measures import MEASURES, Measure

STANDOUT = "mel"
WIDTH, WIDE = 6, 8  # cells of a class; of melanoma and cancer sensitivity
FIGURES_WIDTH = 4 + 6 * WIDTH + 2 * WIDE  # every column but the names: #, six classes, MEL and cancer
SHORTEST_NAME = 10  # "BatchNor…" at 60 columns, where every class still fits whole
# Each class's column is keyed by what it sorts by; melanoma's recall is the leaderboard's own mel_recall.
CLASS_KEYS = {name: "mel_recall" if name == STANDOUT else f"recall_{name}" for name in CLASSES}
# What `s` steps through here: melanoma first (the page's punchline), then cancer, the other classes, and AUC.
SORT_KEYS = ["mel_recall", "cancer_sensitivity", *(key for key in CLASS_KEYS.values() if key != "mel_recall"), "auc"]


def cell(recall: float | None, width: int, bold: bool = False) -> Text:
    """The percentage right-aligned in the middle of the cell, on its colour."""
    if recall is None:
        return Text("  –".center(width))
    return on_shade(f"{round(recall * 100):>3}".center(width), recall, bold=bold)


def label(row: dict[str, Any], per_experiment: bool, width: int | None = None) -> Text:
    """The run's name, seed (or count) and marks; where `width` is too narrow for them, the name and marks are
    shortened before the seed, which stays whole."""
    suffix = f" n={row['n']}" if per_experiment else f" s{row['seed']}"
    synthetic = " synth" if row["synthetic"] else ""
    words = f"{row['name']}{suffix}{unlike_page(row)}{synthetic}"
    if width is not None and len(words) > width - 2:
        words = shortened(f"{row['name']}{unlike_page(row)}{synthetic}", width - 2 - len(suffix)) + suffix
    return Text(f" {words} ")  # text, never markup


class RecallGrid(RankedTable):
    def __init__(self) -> None:
        super().__init__(cursor_type="row", cell_padding=0, id="recall-grid")
        self.rows_shown = []
        self.given: list[dict[str, Any]] = []  # the rows as shown last, to show again at a new width
        self.ranking = Ranking()
        self.measures = MEASURES

    def on_resize(self) -> None:
        self.show(self.given, self.ranking, self.measures)

    def show(self, rows: list[dict[str, Any]], ranking: Ranking, measures: dict[str, Measure]) -> None:
        """Rows without per-class figures (runs that did not finish) are left out. The sorted column's header
        carries an arrow; a header click sorts by that column. The names give way to the width, so that the
        classes (melanoma among the first) stay in view."""
        self.given, self.ranking, self.measures = rows, ranking, measures
        cancer_title = measures["cancer_sensitivity"].header  # the set's critical group, as on the leaderboard
        per_experiment = ranking.per_experiment
        self.rows_shown = [row for row in rows if row.get("recall")]
        room = self.size.width - FIGURES_WIDTH - SCROLLBAR
        # cancer (the mean of three recalls shown beside) goes whole where even short names leave no room for it
        cancer = not self.size.width or room >= NAME_AT_LEAST
        name_width = (max(SHORTEST_NAME, room if cancer else room + WIDE)) if self.size.width else None
        self.leave_out([] if cancer else [cancer_title])
        self.clear(columns=True)

        def column(label: str, key: str, width: int, bold: bool = False) -> None:
            if key == ranking.key:
                label, bold = f"{label}{'▼' if ranking.descending else '▲'}", True
            self.add_column(Text(label.center(width), style="bold" if bold else ""), key=key)

        column("#", "experiment_id", 4)
        column("experiment", "name", 12)
        for name in CLASSES:
            standout = name == STANDOUT
            column(name.upper() if standout else name, CLASS_KEYS[name], WIDE if standout else WIDTH, standout)
        if cancer:
            column(cancer_title, "cancer_sensitivity", WIDE)
        for row in self.rows_shown:
            self.add_row(f" {row['experiment_id']:>2} ", label(row, per_experiment, name_width),
                         *(cell(row["recall"].get(name), WIDE if name == STANDOUT else WIDTH, name == STANDOUT)
                           for name in CLASSES),
                         *([cell(row.get("cancer_sensitivity"), WIDE)] if cancer else []))
