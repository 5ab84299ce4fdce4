"""A gallery of images, loaded in a worker thread once the screen is up: the val lesions behind a cell of the
confusion matrix, a run's missed melanomas, what one of two runs catches and the other misses, or an
experiment's augmentation. Until they come, and if they cannot, the legend line says so."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from engine.classes import DEFAULT
from engine.errors import UserError, said
from engine.experiments.spec import Experiment
from engine.jobs.source import JobSource
from tui.app.widgets.frame.fitted_line import FittedLine
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import BACK, KeyLine, retitle
from tui.app.widgets.pictures.image_grid import TRUE_COLOUR, ImageGrid, palette
from tui.text import screening as words
from tui.text.fit import Part

if TYPE_CHECKING:
    from tui.views.tiles import Gallery


class GalleryScreen(Screen):
    BINDINGS = [BACK]

    def __init__(self, view: str, titles: Sequence[str | Sequence[Part]], load: Callable[[], Any]):
        """`load` runs in a thread and returns what `present` shows (a Gallery here, a dict of them below); a title
        given in parts keeps to the width by shorter words (tui.text.fit)."""
        super().__init__()
        self.view, self.titles, self.load = view, titles, load

    def compose(self) -> ComposeResult:
        yield LabHeader(self.view)
        for title in self.titles:
            yield Static(title, classes="title", markup=False) if isinstance(title, str) else FittedLine(
                title, classes="title")
        yield Static("Loading the images…", id="gallery-legend", classes="legend", markup=False)
        yield ImageGrid(id="gallery")
        yield KeyLine()

    def on_mount(self) -> None:
        self.fetch()

    @work(thread=True, exit_on_error=False, group="gallery")
    def fetch(self) -> Any:
        return self.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.SUCCESS:
            loaded = event.worker.result
            assert loaded is not None, "a gallery's load returns what present shows"
            self.present(loaded)
        elif event.state == WorkerState.ERROR and isinstance(error := event.worker.error, Exception):
            # Textual keeps an Exception as a failed worker's error (one cancelled ends CANCELLED)
            wrapped = not isinstance(error, UserError)
            self.say(f"The images could not be loaded ({said(error)})." if wrapped else said(error))

    def present(self, gallery: Gallery) -> None:
        colours = palette(self.app)
        if colours and not self.app.no_color:
            dithered = ", so the images are dithered" if colours == 256 else ""
            self.say(f"{gallery.legend} · this terminal shows {colours} colours{dithered}. {TRUE_COLOUR}")
        else:
            self.say(gallery.legend)
        self.query_one(ImageGrid).show(gallery.sections)

    def say(self, words: str) -> None:
        self.query_one("#gallery-legend", Static).update(words)


class DifferenceScreen(GalleryScreen):
    """Two runs' galleries of what one catches and the other misses, for melanoma or for any cancer."""

    BINDINGS = [Binding("c", "toggle_condition", "Mel/cancer", id="condition",
                        tooltip="Switch between melanomas and any cancer (akiec, bcc, mel)"), BACK]

    def __init__(self, titles: list[str], load: Callable[[], Any], dataset: str = DEFAULT):
        super().__init__("lesions", titles, load)
        self.galleries: dict[str, Gallery] = {}
        self.condition = "mel"
        self.dataset = dataset  # the runs' set, whose critical classes the galleries follow
        retitle(self, "toggle_condition", words.condition_key(dataset))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """c is there only where the set has a focus class and a wider critical group to switch between."""
        return action != "toggle_condition" or words.switches(self.dataset)

    def present(self, galleries: dict[str, Gallery]) -> None:  # type: ignore[override]
        self.galleries = galleries
        super().present(galleries[self.condition])

    def action_toggle_condition(self) -> None:
        if self.galleries:
            self.condition = "cancer" if self.condition == "mel" else "mel"
            super().present(self.galleries[self.condition])


class AugmentPreviewScreen(GalleryScreen):
    """An experiment's train transform, drawn in a child process (see tui.app.augment_preview for why)."""

    def __init__(self, experiment: Experiment, source: JobSource):
        from tui.app.augment_preview import PreviewChild
        from tui.views import galleries

        spec = experiment.spec
        self.child = PreviewChild(spec.id, source)
        operations = " → ".join(operation.op for operation in spec.augment) or "none"
        # the operations are what the preview shows (#14's Normalize last): the words around them give way first
        title = [(f"#{spec.id} {spec.name}", f"#{spec.id}"), (f"train transform: {operations}", f"train: {operations}")]
        super().__init__("augmentation", [title], lambda: galleries.augmentation(experiment, self.child.run()))

    def on_unmount(self) -> None:
        self.child.stop()
