"""The top line of every screen: the view; while jobs run or wait, how many, the running job's progress and when the
queue should be through; the data, the stored runs and the accelerator; and where an NVIDIA driver is, each GPU's
utilisation and memory. What does not fit the width is left out whole, least needed first, never cut: the
accelerator only once the probe has found it, so finding it never holds up or crowds the line. Below it, a data
warning."""

from __future__ import annotations

from textual import events, getters
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.status import Status
from tui.app import progress
from tui.app.lab import Lab
from tui.app.lab_app import LabApp
from tui.text import numbers

SEPARATOR = " │ "
# What gives way when the line is too long, in turn: (part, its shorter form, or None to leave it out).
# While jobs go, what they do outranks what new runs would use (the run view's title names each run's data).
GIVING_WAY = [("gpus", None), ("accelerator", None), ("stored", None), ("scratch", None), ("data", None),
              ("queue", "short")]
REDRAWN_ON = ("store", "accelerator", "gpus", "queue", "live")  # `live` comes with each heartbeat


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

    def on_resize(self, event: events.Resize) -> None:
        self.redraw()

    def changed(self, what: str) -> None:
        if what in REDRAWN_ON:
            self.redraw()

    def redraw(self) -> None:
        app = self.app
        parts = {"view": self.view, **queue_parts(app.lab), "data": f"data: {app.data_label}",
                 # --no-pretrained, said as results say it
                 "scratch": "" if app.lab.source.options.pretrained else "from scratch",
                 "stored": numbers.runs_stored(app.lab.overview.statuses),
                 "accelerator": "" if app.probing else app.accelerator,
                 "gpus": numbers.gpus(app.gpu_samples) if app.gpu_samples else ""}
        line = self.query_one("#header-line", Static)
        text = fit(parts, line.content_size.width or self.size.width - 2)
        if line.content != text:  # redrawn with every heartbeat: only a change is painted, and one line of fixed
            line.update(text, layout=False)  # height never makes the screen lay itself out again
        warning = self.query_one("#data-warning", Static)
        warning.display = app.data_warning is not None
        warning.update(f"The first run downloads DermaMNIST; without network: {app.data_warning}"
                       if app.data_warning else "")


def queue_parts(lab: Lab) -> dict[str, str]:
    """While jobs run or wait: 'queue', the running and waiting counts, the progress of the job the run view shows
    (else the first running) and the queue's ETA; 'short', the counts and the ETA alone."""
    running, waiting = lab.running(), lab.waiting()
    if not (running or waiting):
        return {}
    shown = lab.live.job if lab.live and lab.live.job["status"] == Status.RUNNING else running[0] if running else None
    going = (f": #{shown['experiment_id']} {progress.epoch_words(shown)} {progress.percent(shown)}"
             if shown and shown["epochs"] else "")
    left = lab.queue_left()
    eta = "" if left is None else f" · queue ETA {numbers.duration(left)}"
    return {"queue": f"{len(running)} running{going} · {len(waiting)} waiting{eta}",
            "short": f"{len(running)} running · {len(waiting)} waiting{eta}"}


def fit(parts: dict[str, str], room: int) -> str:
    """The parts that are not empty, joined, with those of GIVING_WAY shortened or left out in turn until the line
    fits `room` columns."""
    parts = dict(parts)
    short = parts.pop("short", "")

    def line() -> str:
        return SEPARATOR.join(part for part in parts.values() if part)

    for name, shorter in GIVING_WAY:
        if len(line()) <= room:
            break
        parts[name] = short if shorter and name in parts else ""
    return line()
