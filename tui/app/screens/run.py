"""The run view: the jobs running at once, the followed job's progress and curves, and the store's queue."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import OptionList

from tui.app.lab_app import LabScreen
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import KeyLine
from tui.app.widgets.run.curves import OVERLAY_LIMIT, Curves
from tui.app.widgets.run.queue_list import QueueList
from tui.app.widgets.run.run_progress import RunProgress
from tui.app.widgets.run.running_jobs import RunningJobs

CANCEL_RUN = Binding("x", "app.cancel_run", "Cancel run", id="cancel",
                     tooltip="Stop the running job the run view shows (stored as cancelled); the queue goes on")


class RunScreen(LabScreen):
    BINDINGS = [
        Binding("o", "toggle_overlay", "Overlay", id="overlay",
                tooltip="Overlay the curves of the queue's finished runs"),
        CANCEL_RUN,  # the app's key everywhere, and one of this screen's own: the key line keeps it before the views
        # show=False: the key line shows this pair after the screen's other keys, both or neither.
        Binding("d", "drop(False)", "Drop", id="drop", show=False, tooltip="Take the newest waiting job off the queue"),
        Binding("D", "drop(True)", "Clear", id="clear", show=False,
                tooltip="Take every waiting job off the queue (running ones go on)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.overlay = False

    def compose(self) -> ComposeResult:
        yield LabHeader("run")
        yield RunningJobs(id="running-jobs")
        yield RunProgress()
        with Horizontal(id="curves"):
            yield Curves("train and val loss", [("train_loss", "train"), ("val_loss", "val")], id="loss-curves",
                         beats_label="train, by batch")
            yield Curves("val AUC", [("val_auc", "val AUC")], id="auc-curves")
        yield QueueList()
        yield KeyLine()

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        for what in ("live", "queue", "epoch"):
            self.changed(what)

    def changed(self, what: str) -> None:
        lab = self.app.lab
        if what in ("live", "epoch", "queue"):
            self.query_one(RunProgress).show(lab.live, lab.experiments)
            self.query_one(RunningJobs).show(lab.running(), lab.live.job["job_id"] if lab.live else None)
        if what in ("queue", "store"):
            self.query_one(QueueList).show(lab.jobs, lab.experiments, lab.finished_in_queue())
        if what in ("epoch", "store", "beats"):
            self._draw_curves()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        lab = self.app.lab
        if event.option_id and event.option_id != (lab.live.job["job_id"] if lab.live else None):
            lab.follow(event.option_id)
            for what in ("live", "epoch"):
                self.app.lab_changed.publish(what)

    def _draw_curves(self) -> None:
        lab = self.app.lab
        live = lab.live
        history = live.history if live else []
        epochs = (live.job["epochs"] or 1) if live else 1
        shown = live.job["job_id"] if live else None
        # Only the runs Curves will draw: the store is read on every heartbeat, and not at all with the overlay off.
        runs = [run for run in lab.finished_in_queue() if run["run_id"] != shown] if self.overlay else []
        runs = runs[-OVERLAY_LIMIT:]
        overlays = [(f"#{run['experiment_id']} s{run['seed']}", lab.store.history(run["run_id"])) for run in runs]
        beats = lab.beats.get(shown, []) if shown else []
        for curves in self.query(Curves):
            curves.draw(history, epochs, overlays, beats)

    def action_drop(self, every: bool) -> None:
        dropped = self.app.lab.drop_waiting(every)
        self.app.lab_changed.publish("queue")
        if not dropped:
            self.notify("No job is waiting.")
        else:
            names = ", ".join(f"#{job['experiment_id']} seed {job['seed']}" for job in dropped[:3])
            self.notify(f"Dropped {names}{', …' if len(dropped) > 3 else ''} from the queue.")

    def action_toggle_overlay(self) -> None:
        self.overlay = not self.overlay
        self._draw_curves()
        self.notify("Overlaying the queue's finished runs." if self.overlay else "Overlay off.")
