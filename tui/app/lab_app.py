"""The app as its screens and widgets see it: what they read of it, typed, in a module below them (tui.app.main
builds the app from the screens, so they cannot import it), and the screen that reads it."""

from __future__ import annotations

from textual import getters
from textual.app import App
from textual.screen import Screen
from textual.signal import Signal

from engine.jobs.gpus import GpuSample
from tui.app.lab import Lab
from tui.app.ranking import Ranking


class LabApp(App[None]):
    """DermalabApp (tui.app.main) sets these; a widget that reads them declares `app = getters.app(LabApp)`,
    Textual's typed `self.app`, which also checks at run time that the app is one (a screen is a LabScreen)."""

    lab: Lab
    ranking: Ranking  # the leaderboard's and the recall grid's shared sort, rows and filter
    lab_changed: Signal[str]  # what changed: store, queue, live, epoch, ...
    data_label: str
    data_warning: str | None  # why a run would not find --data, if it would not
    accelerator: str
    gpu_samples: list[GpuSample]

    def run_selection(self) -> None:
        """Queues the experiments selected on the experiments screen."""
        raise NotImplementedError  # DermalabApp's own: it needs the screens this module sits below


class LabScreen(Screen[None]):
    """A screen over the lab: its `self.app` is typed as the LabApp it reads."""

    app = getters.app(LabApp)
