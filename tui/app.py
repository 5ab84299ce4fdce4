"""The Textual app: four views over the lab, a queue of training runs in child processes, and the keys."""

from __future__ import annotations

import subprocess
import sys
from argparse import Namespace

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from engine.events import EpochEnded, RunFailed, RunFinished, RunStarted
from engine.experiments import load
from tui import numbers
from tui.commands import LabCommands
from tui.lab import Lab, describe_data
from tui.messages import BatchEvent, ChildExited, RunEvent
from tui.ranking import Ranking
from tui.screens.charts import ChartsScreen
from tui.screens.experiments import ExperimentsScreen
from tui.screens.help import HelpScreen
from tui.screens.leaderboard import LeaderboardScreen
from tui.screens.quit import QuitScreen
from tui.screens.recall_grid import RecallGridScreen
from tui.screens.run import RunScreen
from tui.training import ChildOptions, ChildRun, child_environment

PROBE_SECONDS = 120  # importing torch and waking a GPU can be slow, but not this slow
QUIT_WAIT_SECONDS = 5  # the child needs a moment to store its run as cancelled


class DermalabApp(App):
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {LabCommands}
    # Screens get -wide from 110 columns (side panes) and -tall from 36 lines (a longer queue).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    MODES = {"experiments": ExperimentsScreen, "run": RunScreen, "leaderboard": LeaderboardScreen,
             "grid": RecallGridScreen, "charts": ChartsScreen}
    BINDINGS = [
        Binding("question_mark", "keys", "Keys", id="keys", tooltip="Every key of this screen"),
        Binding("e", "switch_mode('experiments')", "Experiments", id="experiments",
                tooltip="The experiments, grouped by chapter, to select and run"),
        Binding("v", "switch_mode('run')", "Run view", id="run-view",
                tooltip="The live run's progress and curves, and the queue"),
        Binding("l", "switch_mode('leaderboard')", "Leaderboard", id="leaderboard",
                tooltip="Every stored run, or every experiment's mean ± std, sorted"),
        Binding("g", "switch_mode('grid')", "Recall grid", id="recall-grid",
                tooltip="Per-class recall of the leaderboard's rows"),
        Binding("f", "switch_mode('charts')", "Charts", id="charts",
                tooltip="The course page's charts, drawn from your runs"),
        Binding("x", "cancel_run", "Cancel run", id="cancel",
                tooltip="Stop the current run (stored as cancelled); the queue goes on"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit (asks first while a run is going)"),
    ]

    def __init__(self, lab: Lab, options: ChildOptions, accelerator: str | None = None):
        super().__init__()
        self.lab, self.options = lab, options
        self.ranking = Ranking()
        self.data_label, self.data_warning = describe_data(options.data)
        self.accelerator = accelerator or "finding the accelerator…"
        self.probing = accelerator is None
        self.probe_process: subprocess.Popen[str] | None = None
        self.child: ChildRun | None = None
        self.lab_changed: Signal[str] = Signal(self, "lab-changed")  # what changed: store, queue, live, epoch, ...

    def on_mount(self) -> None:
        self.switch_mode("experiments")
        if self.lab.store_notice:  # create_app opened the store before there was a screen to say it on
            self.notify(f"Warning: {self.lab.store_notice}", title="Run store", severity="warning", timeout=60)

    def on_ready(self) -> None:
        """After the first frame: the accelerator probe imports torch, which must not delay that frame."""
        if self.probing:
            self.find_accelerator()

    @work(thread=True, group="probe")
    def find_accelerator(self) -> str:
        self.probe_process = subprocess.Popen([sys.executable, "-m", "tui.probe", self.options.device], text=True,
                                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              env=child_environment())
        out, errors = self.probe_process.communicate(timeout=PROBE_SECONDS)
        said = (out.strip() or errors.strip()).splitlines()
        return said[-1] if said else "no accelerator found"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place that hears how workers end: the probe's answer, and a training thread that crashed."""
        worker = event.worker
        if worker.group == "probe" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self.accelerator = worker.result if event.state == WorkerState.SUCCESS else f"no accelerator: {worker.error}"
            self.lab_changed.publish("accelerator")
        elif worker.group == "training" and event.state == WorkerState.ERROR and self.child:
            self.post_message(ChildExited(self.child.job, "failed", f"the app could not run it: {worker.error}", False))

    def run_selection(self) -> None:
        added = self.lab.enqueue_selection()
        if not added:
            self.notify("Nothing selected: space selects the highlighted experiment, c its chapter, a all.",
                        severity="warning")
            return
        self.lab_changed.publish("selection")
        self.notify(f"Queued {numbers.plural(len(added), 'run')}.")
        self.start_next()
        self.switch_mode("run")

    def start_next(self) -> None:
        job = self.lab.next_job() if self.child is None else None
        if job is not None:
            self.lab.start(job)
            self.child = ChildRun(job, self.options, self.post_message)
            self.train(self.child)
        self.lab_changed.publish("queue")

    @work(thread=True, group="training")
    def train(self, child: ChildRun) -> None:
        child.run()

    @on(RunEvent)
    @on(BatchEvent)  # a message subclass has a handler name of its own
    def follow_run(self, message: RunEvent) -> None:
        self.lab.record(message.job, message.event)
        self.lab_changed.publish("epoch" if isinstance(message.event, EpochEnded) else "live")
        # The child stores each run's start and end before it reports them: the leaderboard, header and queue
        # (a finished job's AUC) read them from the store at once, not when the child process has exited.
        if isinstance(message.event, (RunStarted, RunFinished, RunFailed)):
            self.lab.reload()
            self.lab_changed.publish("store")
        if isinstance(message.event, (RunFinished, RunFailed)):
            self.lab_changed.publish("queue")

    def on_child_exited(self, message: ChildExited) -> None:
        self.lab.end(message.job, message.status, message.reason)
        if message.before_start:
            self.lab.drop_queued(message.reason)
            self.notify(message.reason, title="The run could not start", severity="error", timeout=30)
        self.child = None
        self.lab.reload()
        self.data_label, self.data_warning = describe_data(self.options.data)  # the first run may have downloaded it
        for what in ("store", "live"):
            self.lab_changed.publish(what)
        self.start_next()

    def action_cancel_run(self) -> None:
        if self.child is None:
            self.notify("No run is going.")
            return
        self.child.interrupt()
        self.notify(f"Cancelling #{self.child.job.experiment_id}; the queue goes on.")

    def action_keys(self) -> None:
        self.push_screen(HelpScreen(self.screen.active_bindings))

    async def action_quit(self) -> None:
        if self.child is None:
            self.exit()
            return
        self.push_screen(QuitScreen(), self._quit_answered)

    async def _quit_answered(self, quit: bool | None) -> None:
        if quit:
            await self._stop_training()
            self.exit()

    async def _stop_training(self) -> None:
        """Drop the queue and let the running child store its run as cancelled before the app goes."""
        self.lab.drop_queued("the app was closed")
        if self.child:
            self.child.interrupt()
            await self.workers.wait_for_complete([w for w in self.workers if w.group == "training"])

    def on_unmount(self) -> None:
        """However the app ends, no child outlives it still writing to the store, and a probe still importing
        torch does not hold the exit up."""
        if self.probe_process and self.probe_process.poll() is None:
            self.probe_process.kill()
        if self.child:
            self.child.interrupt()
            self.child.wait(QUIT_WAIT_SECONDS)


def create_app(args: Namespace, accelerator: str | None = None) -> DermalabApp:
    """The one way to build the app, for the command line and the tests alike; a fixed `accelerator` skips
    the probe (snapshots)."""
    lab = Lab(load(getattr(args, "experiments", None)))
    lab.reload()  # here, so that an unreadable store is one sentence from the command line, not a traceback
    return DermalabApp(lab, ChildOptions.from_args(args), accelerator)


def run_app(args: Namespace) -> int:
    create_app(args).run()
    return 0
