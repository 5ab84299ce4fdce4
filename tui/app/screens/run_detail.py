"""One stored run in detail: when, where and how long it ran, its figures with bootstrap 95 % intervals, per-class
recall, confusion matrix, per-epoch curves and the config it ran with."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from engine.classes import CRITICAL
from engine.errors import UserError
from engine.experiments.spec import Experiment
from engine.status import Status
from tui.app.lab import STATUS_WORDS, RunDetail
from tui.app.lab_app import LabScreen
from tui.app.widgets.experiments.experiment_detail import lookup, shown
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import BACK, KeyLine, retitle
from tui.app.widgets.results.confusion_matrix import ConfusionMatrix
from tui.app.widgets.results.figures import FigureTable
from tui.app.widgets.results.leaderboard_table import unlike_page
from tui.app.widgets.results.scale import scale_words
from tui.app.widgets.run.curves import Curves
from tui.text import numbers
from tui.text.measures import of_set
from tui.text.screening import missed_key

# (row key, how it reads): the figures that have a bootstrap interval carry it in `{key}_ci`.
FIGURES = [("auc", numbers.auc), ("mel_recall", numbers.percent), ("cancer_sensitivity", numbers.percent),
           ("accuracy", numbers.percent), ("balanced_accuracy", numbers.percent)]


def open_screen(opener: Widget, make: Callable[[], Screen]) -> None:
    """Push the screen `make` builds from the store; a run it cannot use is one sentence, not a crash."""
    try:
        screen = make()
    except UserError as error:
        opener.notify(str(error), severity="warning", timeout=10)
        return
    opener.app.push_screen(screen)


def run_title(row: dict[str, Any]) -> str:
    data = "synthetic data" if row["synthetic"] else "real data"
    return (f"#{row['experiment_id']} {row['name']}{unlike_page(row)} · seed {row['seed']} · {data} · "
            f"run {row['run_id']}")


MISSED_MELANOMAS = Binding("M", "missed_melanomas", "Missed mel", id="missed-melanomas",
                           tooltip="The run's missed melanomas as images, the nearest misses first")


def name_missed_cases(screen: Screen, dataset: str) -> None:
    """MISSED_MELANOMAS on `screen` in the words of the set's critical class ('Missed TUM' on PathMNIST)."""
    retitle(screen, "missed_melanomas", missed_key(dataset))


def missed_melanomas(screen: LabScreen, row: dict[str, Any]) -> None:
    """Open the gallery of a run's melanomas called something else."""
    from tui.app.screens.gallery import GalleryScreen
    from tui.views import galleries

    path = screen.app.lab.store.path
    screen.app.push_screen(GalleryScreen("lesions", [run_title(row)],
                                         lambda: galleries.missed_melanomas(path, row["run_id"])))


RESUME = Binding("r", "resume", "Resume", id="resume",
                 tooltip="The interrupted run goes on from its last finished epoch, in the background worker")
RESUMABLE = "Its checkpoint keeps its last finished epoch: r resumes it from there in the background worker."
AFRESH = ("It has no checkpoint to go on from (it stopped before its first epoch ended, or its checkpoint was "
          "pruned), so it must be trained afresh.")


def facts(run: dict[str, Any], checkpoint: bool) -> Text:
    """The run's circumstances, why it stopped when it did not finish, and whether it can go on (`checkpoint`)."""
    began = run["started_at"] is not None  # a run cancelled while its job waited never did
    started = (f"started {time.strftime('%Y-%m-%d %H:%M', time.localtime(run['started_at']))}" if began
               else "never started")
    epochs = f"{len(run['history'])} of {run['epochs']} epochs"
    text = Text(f"{STATUS_WORDS.get(run['status'], run['status'])} · {started} · {epochs}")
    if began and run["finished_at"] is not None:
        training = f", {numbers.seconds(run['train_seconds'])} training" if run.get("train_seconds") is not None else ""
        text.append(f" · took {numbers.seconds(run['finished_at'] - run['started_at'])}{training}")
    text.append(f"\ndevice {run['device']} · data {run['data']}")
    if run.get("reason"):
        text.append(f"\n{run['reason']}")
    if run["status"] == Status.INTERRUPTED:
        text.append(f"\n{RESUMABLE if checkpoint else AFRESH}", style="bold")
    return text


def dotted(config: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        if isinstance(value, dict):
            yield from dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def config_text(run: dict[str, Any], experiment: Experiment | None) -> Text:
    """The config the run trained with; a value the experiments file has changed since says what it is now. The
    epochs, weights and precision a run chose on the command line are its own, not changes to the file."""
    spec = experiment.spec if experiment else None
    ran = run["config"]
    now = spec.run_config(run["epochs"], ran["model"].get("pretrained"), ran.get("precision")) if spec else None
    text = Text.assemble(("Config it ran with", "bold"), "\n")
    pairs = list(dotted(ran))
    width = max((len(key) for key, _ in pairs), default=0)
    for key, value in pairs:
        text.append(f"  {key:<{width}} {shown(value)}")
        if spec and key == "training.epochs" and value != spec.training.epochs:
            text.append(f" (from --epochs; the experiment trains {spec.training.epochs})", style="bold")
        if now is not None and lookup(now, key) != value:
            text.append(f" (experiments file now: {shown(lookup(now, key))})", style="bold")
        text.append("\n")
    return text


def matrix_legend(colour: bool) -> str:
    shading = "bold on colour" if colour else "bold, on a grey"
    return (f"confusion matrix: count and share of the true class's row; {shading}: right ({scale_words(colour)}), "
            "grey: wrong · arrows, enter: images")


class RunBody(VerticalScroll):
    """The run's page, paged so that no part starts above the screen: pgdn and pgup stop at the top of the part they
    would cut (the confusion matrix with its column names, the curves), and page on within a part taller than the
    screen. It opens scrolled down as far as the whole matrix needs, so its cursor starts in sight."""

    placed = False

    def place(self) -> None:
        """Once, after the first layout, or before the first key that pages, whichever comes first."""
        if not self.placed:
            self.placed = True
            for matrix in self.query(ConfusionMatrix):
                matrix.scroll_visible(animate=False, immediate=True)

    def tops(self) -> list[int]:
        return [child.virtual_region_with_margin.y for child in self.children]

    def action_page_down(self) -> None:
        self.place()
        target = self.scroll_y + self.scrollable_content_region.height
        cut = max((top for top in self.tops() if top <= target), default=0)
        self.scroll_to(y=cut if cut > self.scroll_y else target, animate=False, immediate=True)

    def action_page_up(self) -> None:
        self.place()
        target = self.scroll_y - self.scrollable_content_region.height
        whole = [top for top in self.tops() if target <= top < self.scroll_y]
        self.scroll_to(y=min(whole) if whole else max(target, 0), animate=False, immediate=True)


class RunDetailScreen(LabScreen):
    BINDINGS = [
        RESUME,
        Binding("o", "operating_point", "Op. point", id="detail-operating-point",
                tooltip="This run's threshold for a target sensitivity, on its ROC curve"),
        Binding("enter", "cell_lesions", "Lesions", id="cell-lesions",
                tooltip="The val images of the highlighted cell of the confusion matrix (arrow keys move)"),
        MISSED_MELANOMAS,
        BACK,
    ]

    def __init__(self, detail: RunDetail, experiments: dict[int, Experiment]):
        super().__init__()
        self.detail, self.experiments = detail, experiments
        name_missed_cases(self, detail.row["dataset"])

    def compose(self) -> ComposeResult:
        yield LabHeader("run detail")
        yield Static(run_title(self.detail.row), classes="title", markup=False)
        with RunBody(id="run-body"):
            yield Static(facts(self.detail.run, self.detail.checkpoint), id="run-facts")
            if self.detail.confusion:
                yield FigureTable(id="run-figures")
                yield Static(id="run-recall", markup=False)
                cancer = of_set(self.detail.row["dataset"]).get("cancer_sensitivity")  # its set's critical group
                if cancer is not None:
                    yield Static(f"{cancer.name}: {cancer.meaning}", classes="legend", markup=False)
                with Vertical(id="run-matrix"):
                    yield Static(matrix_legend(not self.app.no_color), classes="legend", markup=False)
                    yield ConfusionMatrix(id="confusion-matrix")
            with Horizontal(id="run-curves"):
                yield Curves("train and val loss", [("train_loss", "train"), ("val_loss", "val")], id="run-loss")
                yield Curves("val AUC", [("val_auc", "val AUC")], id="run-auc")
            yield Static(config_text(self.detail.run, self.experiments.get(self.detail.run["experiment_id"])),
                         id="run-config")
        yield KeyLine()

    def on_mount(self) -> None:
        detail = self.detail
        for curves in self.query(Curves):
            curves.draw(detail.run["history"], detail.run["epochs"], [])
        self.query_one("#run-body").focus()  # arrows scroll the page of a run that has no matrix
        if not detail.confusion:
            return
        row, measures = detail.row, of_set(detail.row["dataset"])
        self.query_one(FigureTable).show(["val", "95 % interval"], [
            (measures[key].name, [show(row[key]), numbers.interval(row.get(f"{key}_ci"), show)])
            for key, show in FIGURES if key in measures])  # a set without critical classes has no clinical two
        recalls = " · ".join(f"{name} {numbers.percent(recall)}" for name, recall in row["recall"].items())
        self.query_one("#run-recall", Static).update(f"recall: {recalls}")
        matrix = self.query_one(ConfusionMatrix)
        matrix.show(detail.confusion)
        matrix.focus(scroll_visible=False)  # arrows move over its cells; pgup/pgdn scroll the page
        self.call_after_refresh(self.query_one(RunBody).place)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """r is there only for a run that can go on, M only for a run on a set with a critical class (its key line
        and `?` list name them only then)."""
        if action == "missed_melanomas":
            return self.detail.row["dataset"] in CRITICAL
        return action != "resume" or self.detail.resumable

    def action_resume(self) -> None:
        self.app.pop_screen()  # this page would show the run as it was before it waited again
        self.app.resume_run(self.detail.run["run_id"])

    def action_operating_point(self) -> None:
        from tui.app.screens.operating_point import (
            OperatingPointScreen,  # see its docstring
        )

        run_id = self.detail.run["run_id"]
        open_screen(self, lambda: OperatingPointScreen(*self.app.lab.predictions([run_id])))

    def action_cell_lesions(self) -> None:
        from tui.app.screens.gallery import GalleryScreen
        from tui.views import galleries

        if not self.detail.confusion:
            self.notify("This run did not finish, so it has no confusion matrix to pick images from.",
                        severity="warning")
            return
        matrix = self.query_one(ConfusionMatrix)
        true, predicted = matrix.cursor
        if not matrix.highlighted_count:
            names = matrix.names
            self.notify(f"No val lesion of class {names[true]} was called {names[predicted]} by this run: the cell is "
                        "empty.", severity="information")
            return
        row, path = self.detail.row, self.app.lab.store.path
        self.app.push_screen(GalleryScreen("lesions", [run_title(row)],
                                           lambda: galleries.confusion_cell(path, row["run_id"], true, predicted)))

    def action_missed_melanomas(self) -> None:
        missed_melanomas(self, self.detail.row)
