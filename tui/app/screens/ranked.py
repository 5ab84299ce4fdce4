"""What the leaderboard and the recall grid share: the same rows in the same order, under a caption that says
which rows and which order, above a legend."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from engine.classes import CRITICAL, DEFAULT
from engine.store import sealed
from engine.words import unsealed
from tui.app.lab_app import LabApp, LabScreen
from tui.app.screens.run_detail import (
    MISSED_MELANOMAS,
    RunDetailScreen,
    missed_melanomas,
    name_missed_cases,
    open_screen,
)
from tui.app.widgets.frame.filter_bar import FILTER, FilterBar
from tui.app.widgets.frame.fitted_line import FittedLine
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import KeyLine
from tui.app.widgets.results.leaderboard_table import RankedTable
from tui.text import numbers
from tui.text.fit import Part, same
from tui.text.measures import CLINICAL, SYNTHETIC, Measure, of_set, set_titles

SORT_NAMES = {"auc": "AUC", "mel_recall": "mel recall", "cancer_sensitivity": "cancer sensitivity",
              "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "train_seconds": "time",
              "delta_auc": "Δ AUC vs the page", "delta_mel_recall": "Δ mel recall vs the page", "experiment_id": "#",
              "synthetic": "data"}


def sort_name(key: str, dataset: str | None) -> str:
    """What the caption calls the sorted column: a clinical one by its set's title off DermaMNIST, a class's recall
    (recall_<class>) by the class."""
    titles = set_titles(dataset)
    if titles and key in CLINICAL:
        return titles[CLINICAL.index(key)]
    return f"{key.removeprefix('recall_')} recall" if key.startswith("recall_") else SORT_NAMES.get(key, key)


def order_caption(app: LabApp, shown: int, columns: list[str], left_out: list[str]) -> list[Part]:
    """Which rows, in which order, in words that shorten on a narrow screen; a sort by a figure this view has no
    column of (the grid in the leaderboard's order, by AUC) says so, and so do columns too wide to show."""
    stored = app.lab.overview.stored
    if not stored:
        return [same("No runs stored yet: select experiments (e), then press r.")]
    ranking = app.ranking
    rows = ("per experiment (mean ± std over seeds, n runs)", "per experiment") if ranking.per_experiment \
        else same("per run")
    direction, arrow = ("descending", "▼") if ranking.descending else ("ascending", "▲")
    name = sort_name(ranking.key, app.lab.dataset) + ("" if ranking.key in columns else " (not shown)")
    parts = [rows, (f"sorted by {name}, {direction}", f"by {name} {arrow}")]
    if ranking.query.strip():
        parts.append((f"filter '{ranking.query.strip()}': {shown:,} shown", f"'{ranking.query.strip()}': {shown:,}"))
    elif not ranking.per_experiment and shown < stored:
        parts.append((f"first {shown:,} of {stored:,}, more below", f"{shown:,} of {stored:,}"))
    if left_out:
        parts.append((f"too narrow for {', '.join(left_out)}", f"{', '.join(left_out)}: no room"))
    return parts


class RankedScreen(LabScreen):
    VIEW = ""
    shown_rows = 0  # rows the last redraw showed, for the caption
    AUTO_FOCUS = "DataTable"  # not the filter bar, hidden until / opens it
    BINDINGS = [
        Binding("s", "cycle_sort", "Sort", id="sort", tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse", id="reverse", tooltip="Reverse the sort order"),
        Binding("t", "toggle_rows", "Runs/means", id="per-experiment",
                tooltip="Switch between one row per run and one row per experiment (mean ± std over seeds)"),
        # A priority binding: the table would otherwise take enter for itself.
        Binding("enter", "detail", "Detail", id="run-detail", priority=True,
                tooltip="The highlighted run's figures, 95 % intervals and confusion matrix"),
        Binding("o", "operating_point", "Op. point", id="operating-point",
                tooltip="The highlighted run's threshold for a target sensitivity, on its ROC curve"),
        # show=False: the key line shows these after the views' keys, all or none.
        Binding("m", "mark", "Mark", id="mark", show=False,
                tooltip="Mark or unmark the highlighted run, to compare the marked runs or combine two"),
        Binding("C", "compare", "Compare", id="compare", show=False,
                tooltip="The marked runs' loss, AUC and ROC curves overlaid, and the config keys that differ"),
        Binding("c", "ensemble", "Ensemble", id="ensemble", show=False,
                tooltip="The last two marked runs combined, beside each alone"),
        MISSED_MELANOMAS,
        FILTER,
    ]

    def rows_widget(self) -> RankedTable:
        raise NotImplementedError

    def show(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def measures(self) -> dict[str, Measure]:
        """The measures as the runs of the app's set fill them (--dataset; DermaMNIST's, the page's, by default)."""
        return of_set(self.app.lab.dataset)

    def sort_keys(self) -> list[str]:
        """The columns `s` steps through, in order."""
        raise NotImplementedError

    def columns(self) -> list[str]:
        """The keys of the figures this view has a column of."""
        return self.sort_keys()

    def caption(self) -> None:
        self.query_one("#order-caption", FittedLine).show(
            order_caption(self.app, self.shown_rows, self.columns(), self.query_one(RankedTable).left_out))

    def on_ranked_table_fitted(self) -> None:
        self.caption()

    def legend(self, rows: list[dict[str, Any]]) -> list[str]:
        """What the shown rows' words and colours mean; the legend adds synth's when synthetic runs are shown."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        name_missed_cases(self, self.app.lab.dataset or DEFAULT)  # before the key line reads the keys, as it mounts
        yield LabHeader(self.VIEW)
        yield FilterBar()
        yield FittedLine(id="order-caption", classes="caption")
        yield self.rows_widget()
        yield Static(id="legend", classes="legend", markup=False)
        yield KeyLine()

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        self.redraw()

    def changed(self, what: str) -> None:
        if what in ("store", "ranking", "marks"):
            self.redraw()

    def redraw(self) -> None:
        app = self.app
        rows = app.ranking.rows(app.lab.store, app.lab.experiments)
        self.show(rows)
        self.shown_rows = len(rows)
        self.caption()
        synthetic = [SYNTHETIC] if any(row["synthetic"] for row in rows) else []
        looks = sealed.unsealings(app.lab.store)  # once the test split was seen, every reader of the ranks is told
        unsealings = [unsealed(looks)] if looks else []
        self.query_one("#legend", Static).update(" · ".join([*self.legend(rows), *synthetic, *unsealings]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """At the last row read, the next rows are read."""
        ranking = self.app.ranking
        if (not ranking.per_experiment and event.cursor_row == event.data_table.row_count - 1
                and ranking.limit < self.app.lab.overview.stored):
            ranking.more()
            self.redraw()

    def on_screen_resume(self) -> None:
        """The leaderboard and the grid share one filter: the bar shows it on whichever is in view."""
        bar = self.query_one(FilterBar)
        bar.value, bar.display = self.app.ranking.query, bool(self.app.ranking.query.strip())

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.app.ranking.query = event.value
        self.app.lab_changed.publish("ranking")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Enter in the filter bar ends the filter's typing; it opens a run's detail only from the list. M is there
        only on a set with a critical class."""
        if action == "missed_melanomas":
            return (self.app.lab.dataset or DEFAULT) in CRITICAL
        return not (action == "detail" and isinstance(self.focused, FilterBar))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.app.ranking.sort_by(str(event.column_key.value))
        self.app.lab_changed.publish("ranking")

    def action_cycle_sort(self) -> None:
        self.app.ranking.cycle(self.sort_keys())
        self.app.lab_changed.publish("ranking")

    def action_reverse_sort(self) -> None:
        self.app.ranking.descending = not self.app.ranking.descending
        self.app.lab_changed.publish("ranking")

    def action_toggle_rows(self) -> None:
        self.app.ranking.per_experiment = not self.app.ranking.per_experiment
        self.app.lab_changed.publish("ranking")

    def highlighted_run(self) -> str | None:
        """The highlighted row's run id; per-experiment rows have none, and say how to get one."""
        row = self.highlighted_row()
        return row["run_id"] if row else None

    def highlighted_row(self) -> dict[str, Any] | None:
        """The highlighted row if it is one run's (per-experiment rows are not; a notice says how to get one)."""
        table = self.query_one(RankedTable)
        rows = table.rows_shown
        row = rows[table.cursor_row] if rows else None
        if row is None or row.get("run_id") is None:
            self.notify("Highlight one run first: t switches to one row per run." if rows else "No runs stored yet.",
                        severity="warning")
            return None
        return row

    def action_detail(self) -> None:
        if run_id := self.highlighted_run():
            open_screen(self, lambda: RunDetailScreen(self.app.lab.run_detail(run_id), self.app.lab.experiments))

    def action_operating_point(self) -> None:
        from tui.app.screens.operating_point import (
            OperatingPointScreen,  # see its docstring
        )

        if run_id := self.highlighted_run():
            open_screen(self, lambda: OperatingPointScreen(*self.app.lab.predictions([run_id])))

    def action_mark(self) -> None:
        lab = self.app.lab
        if run_id := self.highlighted_run():
            lab.toggle_mark(run_id)
            self.app.lab_changed.publish("marks")
            count = len(lab.marked)
            combined = "them" if count == 2 else "the last two"
            then = ("; mark another to compare (C) or combine (c)" if count < 2 else
                    f": C compares them, c combines {combined}")
            self.notify(f"{numbers.plural(count, 'run')} marked{then}.")

    def action_ensemble(self) -> None:
        from tui.app.screens.ensemble import (
            EnsembleScreen,  # like the operating point, it needs scikit-learn
        )

        marked = self.app.lab.marked
        if len(marked) < 2:
            self.notify("Mark two runs first: m marks the highlighted run.", severity="warning")
            return
        open_screen(self, lambda: EnsembleScreen(*self.app.lab.predictions(marked[-2:])))

    def action_compare(self) -> None:
        from tui.app.screens.compare import (
            CompareScreen,  # its ROC curves need scikit-learn
        )

        marked = self.app.lab.marked
        if len(marked) < 2:
            self.notify("Mark two runs or more first: m marks the highlighted run.", severity="warning")
            return
        open_screen(self, lambda: CompareScreen(self.app.lab.marked_runs()))

    def action_missed_melanomas(self) -> None:
        if row := self.highlighted_row():
            missed_melanomas(self, row)
