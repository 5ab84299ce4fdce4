"""The run view: the jobs running at once, the followed job's progress and curves, and the store's queue, whose
jobs the arrow keys (in the queue) and tab (anywhere here) move between."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import OptionList

from tui.app.lab_app import LabScreen
from tui.app.screens.confirm_key import ConfirmKeyScreen
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import KeyLine
from tui.app.widgets.run.curves import OVERLAY_LIMIT, Curves
from tui.app.widgets.run.queue_list import FOLD, QueueList, in_order
from tui.app.widgets.run.run_progress import RunProgress
from tui.app.widgets.run.running_jobs import RunningJobs
from tui.text import numbers

CANCEL_RUN = Binding("x", "app.cancel_run", "Cancel run", id="cancel",
                     tooltip="Stop the running job the run view shows (stored as cancelled), once y confirms; the "
                             "queue goes on")


class RunScreen(LabScreen):
    BINDINGS = [
        Binding("o", "toggle_overlay", "Overlay", id="overlay",
                tooltip="Overlay the curves of the queue's finished runs"),
        CANCEL_RUN,  # the app's key everywhere, and one of this screen's own: the key line keeps it before the views
        # show=False: the key line shows this pair after the screen's other keys, both or neither.
        Binding("d", "drop(False)", "Drop", id="drop", show=False, tooltip="Take the newest waiting job off the queue"),
        Binding("D", "drop(True)", "Clear", id="clear", show=False,
                tooltip="Take every waiting job off the queue, once y confirms (running ones go on)"),
        Binding("tab", "step(1)", "Next job", id="next-job", system=True,
                tooltip="Show the next job of the queue (the arrow keys move in the queue too)"),
        Binding("shift+tab", "step(-1)", "Previous job", id="previous-job", system=True,
                tooltip="Show the job above in the queue"),
    ]
    AUTO_FOCUS = "#queue-jobs"  # the arrow keys move between the queue's jobs from the start

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
        if what == "queued":
            self.overlay = False  # a new queue starts without the last one's comparison
        if what in ("live", "epoch", "queue"):
            self.query_one(RunProgress).show(lab.live, lab.experiments, lab.etas)
            self.query_one(RunningJobs).show(lab.running(), self.shown())
        if what in ("queue", "store"):
            self.query_one(QueueList).show(lab.jobs, lab.experiments, lab.finished_in_queue(), self.shown())
        if what in ("epoch", "store", "beats"):
            self._draw_curves()

    def shown(self) -> str | None:
        live = self.app.lab.live
        return live.job["job_id"] if live else None

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """The user moved a cursor (the lists move theirs to the job shown without a message)."""
        if event.option_id and event.option_id not in (FOLD, self.shown()):
            self.show_job(event.option_id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_id == FOLD:
            self.query_one(QueueList).toggle_fold(bool(self.app.lab.active_jobs()))
            self.changed("queue")

    def show_job(self, job_id: str) -> None:
        self.app.lab.follow(job_id)
        for what in ("live", "epoch"):
            self.app.lab_changed.publish(what)
        self.changed("queue")  # its cursor moves to the job shown

    def action_step(self, by: int) -> None:
        """Show the next (or previous) job of the queue, in the queue's order; the ended ones unfold to show it."""
        jobs = [job["job_id"] for job in in_order(self.app.lab.jobs)]
        if not jobs:
            return
        at = jobs.index(self.shown()) if self.shown() in jobs else -1
        target = jobs[(at + by) % len(jobs)]
        queue = self.query_one(QueueList)
        active = [job["job_id"] for job in self.app.lab.active_jobs()]
        if target not in active and not queue.is_unfolded(bool(active)):
            queue.toggle_fold(bool(active))
        self.show_job(target)

    def _draw_curves(self) -> None:
        lab = self.app.lab
        live = lab.live
        history = live.history if live else []
        epochs = (live.job["epochs"] or 1) if live else 1
        shown = self.shown()
        # Only the runs Curves will draw: the store is read on every heartbeat, and not at all with the overlay off.
        runs = lab.comparable_in_queue(shown)[-OVERLAY_LIMIT:] if self.overlay and shown else []
        overlays = [(tag(run), lab.store.history(run["run_id"])) for run in runs]
        beats = lab.beats.get(shown, []) if shown else []
        own = "this run " if overlays else ""  # beside other runs' lines, its own say whose they are
        for curves in self.query(Curves):
            curves.draw(history, epochs, overlays, beats, own)

    def action_drop(self, every: bool) -> None:
        waiting = self.app.lab.waiting()
        if not waiting:
            self.notify("No job is waiting.")
        elif every:
            self.app.push_screen(ConfirmKeyScreen(f"Take {numbers.plural(len(waiting), 'waiting job')} off the queue?",
                                                  "drops them", "keeps them"),
                                 lambda yes: self._drop(every) if yes else self.notify("The queue stays as it was."))
        else:
            self._drop(every)

    def _drop(self, every: bool) -> None:
        dropped = self.app.lab.drop_waiting(every)
        self.app.lab_changed.publish("queue")
        names = ", ".join(f"#{job['experiment_id']} seed {job['seed']}" for job in dropped[:3])
        self.notify(f"Dropped {names}{', …' if len(dropped) > 3 else ''} from the queue.")

    def action_toggle_overlay(self) -> None:
        self.overlay = not self.overlay
        self._draw_curves()
        self.notify("Overlaying the queue's finished runs on the same data." if self.overlay else "Overlay off.")


def tag(run: dict) -> str:
    """A run's name in a legend: '#8 s3'."""
    return f"#{run['experiment_id']} s{run['seed']}"
