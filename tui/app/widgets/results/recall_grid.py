"""Per-class recall as a grid: each cell on the colour of its share (tui.app.widgets.results.scale), with its number
printed, so it still reads without colour. The critical class's column (melanoma's on DermaMNIST) is bold, wider and
capitalised; a set without one has none, nor the cancer column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from engine.classes import CRITICAL, DEFAULT, class_names
from tui.app.ranking import Ranking
from tui.app.widgets.results.leaderboard_table import NAME_AT_LEAST, SCROLLBAR, RankedTable, shortened, unlike_page
from tui.app.widgets.results.scale import on_shade
from tui.text.measures import MEASURES, Measure

WIDTH, WIDE = 6, 8  # cells of a DermaMNIST class (its names are 5 letters at most); of the focus and cancer columns
SHORTEST_NAME = 10  # "BatchNor…" at 60 columns, where every class still fits whole


@dataclass(frozen=True)
class Classes:
    """The grid's columns for a set: its classes by label, the critical one (`focus`) standing out."""

    names: tuple[str, ...]
    focus: str | None
    focus_title: str  # "MEL", "TUM": the set's title of its critical class, capitalised
    group: bool  # whether the set has a critical group (the cancer column)
    width: int  # of a class's cell

    @classmethod
    def of(cls, dataset: str | None) -> Classes:
        name = dataset or DEFAULT
        names, critical = class_names(name), CRITICAL.get(name)
        focus = None if critical is None else critical.focus
        title = "mel" if critical is None or name == DEFAULT else critical.titles[0].removesuffix(" rec")
        return cls(names, focus, title.upper(), critical is not None,
                   WIDTH if all(len(n) < WIDTH for n in names) else WIDE)

    def key(self, name: str) -> str:
        """What a class's column sorts by (recall_<class>, as CSV names it); the focus is the leaderboard's own."""
        return "mel_recall" if name == self.focus else f"recall_{name}"

    def header(self, name: str) -> str:
        return self.focus_title if name == self.focus else abbreviated(name, self.width - 1)

    def cell_width(self, name: str) -> int:
        return WIDE if name == self.focus else self.width

    @property
    def sort_keys(self) -> list[str]:
        """What `s` steps through: the focus first (the page's punchline), then cancer, the other classes, AUC."""
        first = ["mel_recall", "cancer_sensitivity"] if self.focus else []
        return [*first, *(self.key(name) for name in self.names if name != self.focus), "auc"]

    @property
    def figures_width(self) -> int:
        """Every column's but the names: #, the classes and cancer."""
        return 4 + sum(self.cell_width(name) for name in self.names) + (WIDE if self.group else 0)

    @property
    def abbreviated(self) -> bool:
        return any(self.header(name) != name for name in self.names if name != self.focus)


def abbreviated(name: str, width: int) -> str:
    """A class's name in `width` letters: its first word cut, and the initials of the next two ("femur-l" for
    femur-left, so that the organ sets' left and right stay apart)."""
    if len(name) <= width:
        return name
    first, *rest = re.split(r"[ \-(]+", name)
    tail = "".join(word[0] for word in rest[:2] if word)
    return f"{first[:width - len(tail) - 1]}-{tail}" if tail else f"{first[:width - 1]}…"


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
        self.grid_classes = Classes.of(None)

    def on_resize(self) -> None:
        self.show(self.given, self.ranking, self.measures, self.grid_classes)

    def show(self, rows: list[dict[str, Any]], ranking: Ranking, measures: dict[str, Measure],
             classes: Classes) -> None:
        """Rows without per-class figures (runs that did not finish) are left out. The sorted column's header
        carries an arrow; a header click sorts by that column. The names give way to the width, so that the
        classes (the critical one among the first) stay in view."""
        self.given, self.ranking, self.measures, self.grid_classes = rows, ranking, measures, classes
        # the set's critical group, as on the leaderboard (a set without one has no such measure)
        cancer_title = measures["cancer_sensitivity"].header if classes.group else ""
        per_experiment = ranking.per_experiment
        self.rows_shown = [row for row in rows if row.get("recall")]
        room = self.size.width - classes.figures_width - SCROLLBAR
        # cancer (the mean of recalls shown beside) goes whole where even short names leave no room for it
        cancer = classes.group and (not self.size.width or room >= NAME_AT_LEAST)
        name_width = (max(SHORTEST_NAME, room if cancer else room + WIDE)) if self.size.width else None
        self.leave_out([cancer_title] if classes.group and not cancer else [])
        self.clear(columns=True)

        def column(label: str, key: str, width: int, bold: bool = False) -> None:
            if key == ranking.key:
                label, bold = f"{label}{'▼' if ranking.descending else '▲'}", True
            self.add_column(Text(label.center(width), style="bold" if bold else ""), key=key)

        column("#", "experiment_id", 4)
        column("experiment", "name", 12)
        for name in classes.names:
            column(classes.header(name), classes.key(name), classes.cell_width(name), name == classes.focus)
        if cancer:
            column(cancer_title, "cancer_sensitivity", WIDE)
        for row in self.rows_shown:
            self.add_row(f" {row['experiment_id']:>2} ", label(row, per_experiment, name_width),
                         *(cell(row["recall"].get(name), classes.cell_width(name), name == classes.focus)
                           for name in classes.names),
                         *([cell(row.get("cancer_sensitivity"), WIDE)] if cancer else []))
