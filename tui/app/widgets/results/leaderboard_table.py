"""The leaderboard table: as many of its columns as the terminal's width allows, most important first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import DataTable

from engine.status import Status
from engine.store import summary
from tui.app.ranking import Ranking
from tui.text import numbers
from tui.text.measures import MEASURES, Measure, held

Row = dict[str, Any]
PADDING = 1  # cells on each side of a value, as DataTable draws them
SCROLLBAR = 2


@dataclass(frozen=True)
class Column:
    key: str  # the summary row's key: what the column shows and sorts by
    header: str
    priority: int  # 0 is always shown; 1, 2 and 3 only where the terminal is wide enough
    cell: Callable[[Row], str]
    numeric: bool = True


def metric(key: str, show: Callable[[Any], str], scale: float = 1, places: int = 3) -> Callable[[Row], str]:
    """A value, with ± its spread over seeds where the row has one (per-experiment rows)."""
    return lambda row: numbers.spread(show(row.get(key)), row.get(f"{key}_std"), scale, places)


def versus_page(key: str, show: Callable[[Any], str]) -> Callable[[Row], str]:
    """A difference from the page's figure; blank for runs unlike the page's (synthetic data among them), where it
    would mean nothing."""
    return lambda row: show(row[key])


def run_auc(row: Row) -> str:
    """Runs that did not finish have no figures; their AUC cell says why."""
    return numbers.auc(row["auc"]) if row["status"] == Status.FINISHED else row["status"]


def unlike_page(row: Row) -> str:
    """What differs from the page's run, to follow the experiment's name (the data column shows synthetic)."""
    words = [word for word in row["differs"] if word != summary.SYNTHETIC_DATA]
    return f" · {', '.join(words)}" if words else ""


def name_cell(marked: list[str]) -> Callable[[Row], str]:
    """The experiment's name and how it ran unlike the page, after a dot when the run is marked for an ensemble."""
    return lambda row: ("● " if row.get("run_id") in marked else "") + row["name"] + unlike_page(row)


def columns(per_experiment: bool, marked: list[str], measures: dict[str, Measure] = MEASURES) -> list[Column]:
    """`measures`: the set's (tui.text.measures.of_set), whose critical classes title the clinical columns (a set
    without them has neither)."""
    spread_or_status = metric("auc", numbers.auc) if per_experiment else run_auc
    count_or_seed = (Column("n", "n", 0, lambda row: str(row["n"])) if per_experiment
                     else Column("seed", "seed", 0, lambda row: str(row["seed"])))  # else seeds look like twins
    every = [
        Column("experiment_id", "#", 0, lambda row: str(row["experiment_id"])),
        Column("name", "experiment", 0, name_cell(marked), numeric=False),
        count_or_seed,
        Column("synthetic", "data", 0, lambda row: "synth" if row["synthetic"] else "real", numeric=False),
        Column("chapter", "chapter", 3, lambda row: row["chapter"], numeric=False),
        Column("auc", "AUC", 0, spread_or_status),
        *(Column(key, measures[key].header, 0, metric(key, numbers.percent, 100, 0))
          for key in ("mel_recall", "cancer_sensitivity") if key in measures),
        Column("accuracy", "acc", 1, metric("accuracy", numbers.percent, 100, 0)),
        Column("balanced_accuracy", "bal acc", 2, metric("balanced_accuracy", numbers.percent, 100, 0)),
        Column("params", "params", 2, lambda row: numbers.count(row["params"])),
        Column("train_seconds", "time", 2, lambda row: numbers.seconds(row["train_seconds"])),
        Column("delta_auc", "ΔAUC", 1, versus_page("delta_auc", numbers.signed_auc)),
        Column("delta_mel_recall", "Δmel pts", 2, versus_page("delta_mel_recall", numbers.signed_points)),
    ]
    return [column for column in every if held(column.key, measures)]


NAME_AT_LEAST = 14  # the experiment column's width when it gives way: "Adam lr=1e-3" whole, "Best Custom C…"
# Priority-0 columns dropped, in this order, where even they do not fit (60 columns): the figures go whole, never cut.
DROPPED_FIRST = ("cancer_sensitivity", "mel_recall", "synthetic")


def fitting(candidates: list[Column], cells: dict[str, list[str]], width: int,
            keep: str) -> tuple[list[Column], int | None]:
    """Those of priority 0 and the sorted one, then each of priority 1, 2 and 3 in turn that still fits: a long
    name (a run marked 'from scratch') costs the last columns, not a whole level of them. Where even priority 0
    is too wide, the names are shortened first (words, not figures), then whole columns dropped. Returns the
    columns and the names' width where they must be shortened."""
    def needed(column: Column) -> int:
        header = len(column.header) + (2 if column.key == keep else 0)  # the sorted one carries an arrow
        return max([header, *map(len, cells[column.key])]) + 2 * PADDING

    chosen = {c.key for c in candidates if c.priority == 0 or c.key == keep}
    used = sum(needed(c) for c in candidates if c.key in chosen)
    name = next(c for c in candidates if c.key == "name")
    name_width = None
    if used > width:
        name_width = max(NAME_AT_LEAST, needed(name) - 2 * PADDING - (used - width))
        used -= needed(name) - name_width - 2 * PADDING
    for key in DROPPED_FIRST:
        if used > width and key in chosen and key != keep:
            chosen.discard(key)
            used -= needed(next(c for c in candidates if c.key == key))
            width = used  # a figure the table could not hold: none of lower priority takes its place
    for level in (1, 2, 3):
        for column in candidates:
            if column.priority == level and column.key not in chosen and used + needed(column) <= width:
                chosen.add(column.key)
                used += needed(column)
    return [c for c in candidates if c.key in chosen], name_width


def shortened(words: str, width: int) -> str:
    return words if len(words) <= width else words[:width - 1] + "…"


class RankedTable(DataTable):
    """A table of the ranking's rows (the leaderboard's, the recall grid's): the ranked screens read the
    highlighted row back from `rows_shown`, in the table's order, and name the columns it had no room for."""

    rows_shown: list[Row]
    left_out: list[str] = []  # the headers of the columns too wide for the terminal

    class Fitted(Message):
        """The width left out other columns than before: the caption names them."""

    def leave_out(self, headers: list[str]) -> None:
        if headers != self.left_out:
            self.left_out = headers
            self.post_message(self.Fitted())


class LeaderboardTable(RankedTable):
    def __init__(self) -> None:
        super().__init__(cursor_type="row", id="leaderboard-table")
        self.rows_shown = []
        self.ranking = Ranking()
        self.shown: list[Column] = []
        self.marked: list[str] = []
        self.measures = MEASURES

    def show(self, rows: list[Row], ranking: Ranking, marked: list[str], measures: dict[str, Measure]) -> None:
        self.rows_shown, self.ranking, self.marked, self.measures = rows, ranking, marked, measures
        self._draw()

    def on_resize(self, event: events.Resize) -> None:
        self._draw()

    def _draw(self) -> None:
        candidates = columns(self.ranking.per_experiment, self.marked, self.measures)
        cells = {c.key: [c.cell(row) for row in self.rows_shown] for c in candidates}
        self.shown, name_width = fitting(candidates, cells, self.size.width - SCROLLBAR, self.ranking.key)
        self.leave_out([c.header for c in candidates if c.priority == 0 and c not in self.shown])
        if name_width is not None:
            cells["name"] = [shortened(name, name_width) for name in cells["name"]]
        cursor = self.cursor_row
        self.clear(columns=True)
        for column in self.shown:
            self.add_column(self._header(column), key=column.key)
        for index in range(len(self.rows_shown)):
            self.add_row(*(Text(cells[c.key][index], justify="right" if c.numeric else "left") for c in self.shown))
        self.move_cursor(row=min(cursor, max(self.row_count - 1, 0)))

    def _header(self, column: Column) -> Text:
        if column.key != self.ranking.key:
            return Text(column.header)
        return Text(f"{column.header} {'▼' if self.ranking.descending else '▲'}", style="bold")
