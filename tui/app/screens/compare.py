"""Marked runs side by side: their val loss, val AUC and ROC curves overlaid (a letter and a glyph each), and their
configs with only the keys that differ. What W&B users come back for, offline and over SSH.

The ranked screens import this module only when it opens: the ROC curves need scikit-learn."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from engine.analysis import screening
from engine.classes import CRITICAL, DEFAULT
from engine.errors import UserError
from engine.store import summary
from tui.app.lab_app import LabScreen
from tui.app.screens.operating_point import roc
from tui.app.screens.run_detail import dotted
from tui.app.widgets.experiments.experiment_detail import lookup, shown
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import BACK, KeyLine, retitle
from tui.app.widgets.results.run_lines import GLYPHS, Axes, RunLine, RunLines
from tui.text import numbers
from tui.text import screening as words

LETTERS = "ABCDEFGH"
MOST = len(GLYPHS)  # runs compared at once: past a glyph each, lines could not be told apart


class CompareScreen(LabScreen):
    BINDINGS = [
        Binding("c", "toggle_condition", "Mel/cancer", id="compare-condition",
                tooltip="Switch the ROC curves between melanoma and any cancer (akiec, bcc, mel)"),
        BACK,
    ]

    def __init__(self, runs: list[dict[str, Any]]):
        """`runs` as Store.get returns them, in the order they were marked."""
        super().__init__()
        self.runs, self.marked = runs[:MOST], len(runs)
        self.condition = "mel"
        self.dataset = runs[0].get("dataset", DEFAULT)  # the app's set: every ranked row is on it
        retitle(self, "toggle_condition", words.condition_key(self.dataset))
        self.predictions: dict[str, screening.Predictions | None] = {}
        for run in self.runs:
            try:
                predictions: screening.Predictions | None = summary.predictions_of(run)
            except UserError:  # a run that did not finish has curves so far, and no ROC
                predictions = None
            self.predictions[run["run_id"]] = predictions if predictions and len(predictions.labels) else None

    def compose(self) -> ComposeResult:
        yield LabHeader("compare")
        with VerticalScroll(id="compare-body"):
            yield Static(self.legend(), id="compare-legend", markup=False)
            with Horizontal(id="compare-curves"):
                yield RunLines(Axes("val loss", "epoch", "loss"), id="compare-loss")
                yield RunLines(Axes("val AUC", "epoch", "auc"), id="compare-auc")
            yield RunLines(Axes("", "1 − specificity", "rate"), id="compare-roc")
            yield Static(configs(self.runs), id="compare-config")
        yield KeyLine()

    def on_mount(self) -> None:
        for plot, key in (("#compare-loss", "val_loss"), ("#compare-auc", "val_auc")):
            self.query_one(plot, RunLines).draw([
                RunLine(letter, [e["epoch"] for e in run["history"] if e.get(key) is not None],
                        [e[key] for e in run["history"] if e.get(key) is not None], glyph)
                for letter, glyph, run in zip(LETTERS, GLYPHS, self.runs)])
        self.draw_roc()
        self.query_one("#compare-body").focus()

    def draw_roc(self) -> None:
        plot = self.query_one("#compare-roc", RunLines)
        if self.dataset not in CRITICAL:  # no class to draw a ROC curve for
            plot.axes = Axes(f"no ROC: {self.dataset} declares no critical class", "1 − specificity", "rate")
            plot.draw([])
            return
        plot.axes = Axes(f"ROC for {words.condition_name(self.dataset, self.condition)} (sensitivity up)",
                         "1 − specificity", "rate")
        lines = []
        for letter, glyph, run in zip(LETTERS, GLYPHS, self.runs):
            if (predictions := self.predictions[run["run_id"]]) is not None:
                lines.append(RunLine(letter, *roc(predictions, self.condition), glyph))
        plot.draw(lines)

    def legend(self) -> str:
        """Each run's letter and glyph, what it is, and its AUC; a run without predictions says it has no ROC."""
        lines = [f"The first {MOST} of {self.marked} marked runs: a glyph each."] if self.marked > MOST else []
        for letter, glyph, run in zip(LETTERS, GLYPHS, self.runs):
            data = "synthetic" if run["synthetic"] else "real data"
            figure = (f"AUC {numbers.auc(run['auc'])}" if self.predictions[run["run_id"]] is not None
                      else f"{run['status']}: no ROC")
            epochs = "" if run["history"] else " · no epochs stored"
            lines.append(f"{letter} {glyph} #{run['experiment_id']} {run['name']} · seed {run['seed']} · {data} · "
                         f"{figure}{epochs} · run {run['run_id']}")
        return "\n".join(lines)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """c is there only where the set has a focus class and a wider critical group to switch between."""
        return action != "toggle_condition" or words.switches(self.dataset)

    def action_toggle_condition(self) -> None:
        self.condition = "cancer" if self.condition == "mel" else "mel"
        self.draw_roc()


def configs(runs: list[dict[str, Any]]) -> Table | str:
    """The config keys whose values differ between the runs, one column per run (the epochs a run was asked for
    among them); when none differ, a sentence says so."""
    keys = [key for key, _ in dotted(runs[0]["config"])]
    keys += [key for run in runs[1:] for key, _ in dotted(run["config"]) if key not in keys]
    differing = [key for key in keys if len({shown(lookup(run["config"], key)) for run in runs}) > 1]
    if not differing:
        return "Their configs are alike: only the seed and the data can tell them apart."
    table = Table("config: keys that differ", *LETTERS[:len(runs)], box=None, header_style="bold",
                  pad_edge=False)
    for key in differing:
        table.add_row(key, *(shown(lookup(run["config"], key)) for run in runs))
    return table
