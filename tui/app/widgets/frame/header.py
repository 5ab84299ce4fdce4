"""The top line of every screen: the view, the data, the stored runs and the accelerator, and where an NVIDIA driver
is, each GPU's utilisation and memory; below it, a data warning."""

from __future__ import annotations

from textual import getters
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui.app.lab_app import LabApp
from tui.text import numbers


class LabHeader(Vertical):
    app = getters.app(LabApp)

    def __init__(self, view: str):
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield Static(id="header-line", markup=False)
        yield Static(id="data-warning", markup=False)

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        self.redraw()

    def changed(self, what: str) -> None:
        if what in ("store", "accelerator", "gpus"):
            self.redraw()

    def redraw(self) -> None:
        app = self.app
        # The accelerator comes after what a newcomer needs most: the longest part, one an 80-column line may cut.
        parts = [self.view, f"data: {app.data_label}",
                 # --no-pretrained, said as results say it
                 *([] if app.lab.source.options.pretrained else ["from scratch"]),
                 numbers.runs_stored(app.lab.overview.statuses), app.accelerator]
        if app.gpu_samples:
            parts.append(numbers.gpus(app.gpu_samples))
        self.query_one("#header-line", Static).update(" │ ".join(parts))
        warning = self.query_one("#data-warning", Static)
        warning.display = app.data_warning is not None
        warning.update(f"The first run downloads DermaMNIST; without network: {app.data_warning}"
                       if app.data_warning else "")
