"""The app as its screens and widgets see it: what they read of it, typed, in a module below them (tui.app.main
builds the app from the screens, so they cannot import it), and the screen that reads it."""

from __future__ import annotations

from textual import events, getters
from textual.app import App
from textual.screen import Screen
from textual.signal import Signal

from engine.experiments.sweeps import Sweep
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
    probing: bool  # while the accelerator is being found (the header leaves it out until then)
    gpu_samples: list[GpuSample]

    async def on_event(self, event: events.Event) -> None:
        """A key goes to the focused widget, even one hidden since it took the focus (the running jobs' list, once
        one job is left), where an option list's PageUp raised KeyError: a key finds the focus on a widget shown."""
        if isinstance(event, events.Key):
            self.focus_a_shown_widget()
        await super().on_event(event)

    def focus_a_shown_widget(self) -> None:
        screen = self.screen
        if screen.focused is not None and screen.focused not in screen.focus_chain:  # the chain holds shown ones
            screen.set_focus(None)
            screen.focus_next()

    def run_selection(self) -> None:
        """Queues the experiments selected on the experiments screen."""
        raise NotImplementedError  # DermalabApp's own: it needs the screens this module sits below

    def run_sweep(self, sweep: Sweep) -> None:
        """Queues a sweep's points × seeds that have not finished (the sweeps view's r)."""
        raise NotImplementedError  # DermalabApp's own, as run_selection

    def resume_run(self, run_id: str) -> None:
        """Queues an interrupted run to go on from its checkpoint (the run detail's r)."""
        raise NotImplementedError  # DermalabApp's own, as run_selection


class LabScreen(Screen[None]):
    """A screen over the lab: its `self.app` is typed as the LabApp it reads."""

    app = getters.app(LabApp)
