"""The Textual app: five views over the lab (experiments, run, leaderboard, recall grid, charts), the store's queue
of runs (trained by the background worker), and the keys."""

from __future__ import annotations

import subprocess
import sys
import time
from argparse import Namespace
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState, get_current_worker

from engine.errors import UserError, said
from engine.experiments.load import load
from engine.experiments.sweeps import Sweep
from engine.jobs import gpus
from engine.jobs.estimate import ASK_ABOVE_SECONDS
from engine.jobs.queue import Job
from engine.jobs.slots import SlotRequest, machine_slots
from engine.paths import home, stamp
from engine.status import ACTIVE, Status
from engine.store.runs import Store
from tui import exit_codes
from tui.app import progress
from tui.app.background import child_environment, ensure_worker
from tui.app.commands import LabCommands
from tui.app.lab import Lab, describe_data
from tui.app.lab_app import LabApp
from tui.app.messages import GpusSampled, ResultsSkipped, StoreChanged
from tui.app.probe import NO_DEVICE
from tui.app.ranking import Ranking
from tui.app.screens.charts import ChartsScreen
from tui.app.screens.confirm_key import ConfirmKeyScreen
from tui.app.screens.confirm_queue import ConfirmQueueScreen
from tui.app.screens.experiments import ExperimentsScreen
from tui.app.screens.help import HelpScreen
from tui.app.screens.leaderboard import LeaderboardScreen
from tui.app.screens.lessons import LessonsScreen
from tui.app.screens.quit import QuitAnswer, QuitScreen
from tui.app.screens.recall_grid import RecallGridScreen
from tui.app.screens.run import CANCEL_RUN, RunScreen
from tui.app.training import StoreFeed
from tui.app.widgets.frame.key_line import our_bindings
from tui.arguments import job_source, scope_of, slot_request
from tui.text import numbers
from tui.text.paths import path_lines

PROBE_SECONDS = 120  # importing torch and waking a GPU can be slow, but not this slow
GPU_SECONDS = 2.0  # how often the header's GPU figures are sampled: NVML's utilisation is itself a 1-2 s average
NOTHING_SELECTED = "Nothing selected: space selects the highlighted experiment, c its chapter, a all."


class DermalabApp(LabApp):
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
                tooltip="The running job's progress and curves, and the queue"),
        Binding("l", "switch_mode('leaderboard')", "Leaderboard", id="leaderboard",
                tooltip="Every stored run, or every experiment's mean ± std, sorted"),
        Binding("g", "switch_mode('grid')", "Recall grid", id="recall-grid",
                tooltip="Per-class recall of the leaderboard's rows"),
        Binding("f", "switch_mode('charts')", "Charts", id="charts",
                tooltip="The course page's charts, drawn from your runs"),
        CANCEL_RUN,
        # system: in the `?` list and the palette, not on the key line, whose room the views' own keys need
        Binding("L", "lessons", "Lessons × sets", id="lessons", system=True,
                tooltip="Each experiment against the one it changes, seed-paired, on every set with runs"),
        Binding("ctrl+r", "refresh", "Refresh", id="refresh",
                tooltip="Read the store again now (the views also follow it on their own)"),
        Binding("q", "quit", "Quit", id="quit",
                tooltip="Quit; while runs go, asks whether they keep training in the background"),
    ]

    def __init__(self, lab: Lab, accelerator: str | None = None, slots: SlotRequest | None = None):
        super().__init__()
        self.lab, self.slots = lab, slots or SlotRequest()
        self.ranking = Ranking()
        self.data_label, self.data_warning = describe_data(lab.source.data)
        self.accelerator = accelerator or "finding the accelerator…"
        self.probing = accelerator is None
        self.probe_process: subprocess.Popen[str] | None = None
        self.worker_process: subprocess.Popen | None = None  # a worker this app started, reaped when it ends
        self.gpu_samples: list[gpus.GpuSample] = []
        self.reasons_said: set[str] = set()  # why jobs could not start, each said once
        self.lab_changed: Signal[str] = Signal(self, "lab-changed")  # what changed: store, queue, live, epoch, ...
        self.serious_until = 0.0  # while a warning or error is shown, a new notice does not clear it away

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification here is a sentence that may quote a name, a path or a reason from a file or the
        store, so none is read as markup, whatever the caller asked. A new notice takes the place of the ones still
        shown, so toasts never pile up over a screen; only a warning or an error stays for its whole time."""
        now = time.monotonic()
        if now >= self.serious_until:
            self.clear_notifications()
        if severity != "information":
            self.serious_until = now + (timeout or self.NOTIFICATION_TIMEOUT)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        self.switch_mode("experiments")
        if self.lab.store_notice:  # create_app opened the store before there was a screen to say it on
            self.notify(f"Warning: {self.lab.store_notice}", title="Run store", severity="warning", timeout=60)

    def on_ready(self) -> None:
        """After the first frame: the accelerator probe imports torch, which must not delay that frame; the feed
        reads the store, which need not either."""
        self.follow_store()
        if gpus.driver_present():  # elsewhere NVML is never imported, and the header stays as it is
            self.sample_gpus()
        if self.probing:
            self.find_accelerator()

    @work(thread=True, group="feed")
    def follow_store(self) -> None:
        worker = get_current_worker()
        StoreFeed(self.lab.opened_at, self.post_message, lambda: self.lab.chosen).follow(lambda: worker.is_cancelled)

    @work(thread=True, group="gpus")
    def sample_gpus(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            self.post_message(GpusSampled(gpus.samples()))
            time.sleep(GPU_SECONDS)

    def on_gpus_sampled(self, message: GpusSampled) -> None:
        if message.samples != self.gpu_samples:
            self.gpu_samples = message.samples
            self.lab_changed.publish("gpus")

    @work(thread=True, group="probe")
    def find_accelerator(self) -> str:
        device = self.lab.source.options.device
        self.probe_process = subprocess.Popen([sys.executable, "-m", "tui.app.probe", device], text=True,
                                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              env=child_environment())
        out, errors = self.probe_process.communicate(timeout=PROBE_SECONDS)
        lines = (out.strip() or errors.strip()).splitlines()
        return lines[-1] if lines else "no accelerator found"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place that hears how thread workers end: the probe's answer, and a worker that failed to start."""
        worker, state = event.worker, event.state
        # Textual keeps an Exception as a failed worker's error (one cancelled ends CANCELLED)
        error = worker.error if state == WorkerState.ERROR and isinstance(worker.error, Exception) else None
        if worker.group == "probe" and state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self.accelerator = f"no accelerator: {error}" if error else str(worker.result)
            self.probing = False
            self.lab_changed.publish("accelerator")
        elif worker.group == "start-worker" and error:
            self.notify(said(error), title="The worker could not start", severity="error", timeout=30)
        elif worker.group == "report" and state == WorkerState.SUCCESS and isinstance(report := worker.result, Path):
            # a notice is 60 columns at most and half the screen, less its padding and edge
            folder = path_lines(report.parent, min(60, self.size.width // 2) - 3)
            self.notify(f"Written into\n{folder}\nas {report.name}, its tables (CSV) and figures beside it.",
                        title="Report", timeout=20)
        elif worker.group == "report" and error:
            self.notify(said(error), title="No report", severity="warning", timeout=20)

    def run_selection(self) -> None:
        """Queues the selection; one estimated over ASK_ABOVE_SECONDS is confirmed first."""
        words, seconds = self.lab.selection_estimate()
        if self.lab.selected and seconds > ASK_ABOVE_SECONDS:
            self.push_screen(ConfirmQueueScreen(f"Queue {words}?"),
                             lambda yes: self._enqueue(self.lab.enqueue_selection, NOTHING_SELECTED) if yes else None)
            return
        self._enqueue(self.lab.enqueue_selection, NOTHING_SELECTED)

    def run_sweep(self, sweep: Sweep) -> None:
        self._enqueue(lambda: self.lab.enqueue_sweep(sweep),
                      f"Every run of sweep '{sweep.name}' has finished already; its rows and charts are up to date.")

    def resume_run(self, run_id: str) -> None:
        """An interrupted run goes on from its checkpoint in the background worker, as `run --resume ID --detach`."""
        self._enqueue(lambda: self.lab.resume(run_id), f"Run {run_id} has nothing to resume.")

    def _enqueue(self, queue_up: Callable[[], list[Job]], nothing: str) -> None:
        """Queues what `queue_up` adds and starts a worker for it; `nothing` says why there was nothing to add."""
        try:
            if self.accelerator.startswith(NO_DEVICE):  # every run would fail on a --device this machine lacks
                raise UserError(self.accelerator.removeprefix(NO_DEVICE))
            added = queue_up()
        except UserError as error:  # or a store that can only be read: the selection stays, and why is said
            self.notify(str(error), title="Nothing can be queued", severity="error", timeout=30)
            return
        if not added:
            self.notify(nothing, severity="warning")
            return
        for what in ("selection", "queued", "queue", "live"):
            self.lab_changed.publish(what)
        self.notify(f"Queued {numbers.plural(len(added), 'run')}; in the run view d drops the newest waiting, D clears "
                    "the queue.")
        self.start_worker()
        self.switch_mode("run")

    @work(thread=True, group="start-worker", exit_on_error=False)  # its error is said by on_worker_state_changed
    def start_worker(self) -> None:
        """A worker trains the queue; start one when none serves the store (it goes on after the app quits)."""
        self.worker_process = ensure_worker(self.lab.store.path, self.slots).process or self.worker_process

    def on_store_changed(self, message: StoreChanged) -> None:
        lab = self.lab
        before = {job["job_id"]: job["status"] for job in lab.active_jobs()}
        changed = lab.apply(message.snapshot)
        if self.worker_process:
            self.worker_process.poll()  # reaps it once it has ended
        ended = [job for job in lab.jobs if job["job_id"] in before and job["status"] not in ACTIVE]
        if ended:
            self._say_ended(ended)
            self.data_label, self.data_warning = describe_data(lab.source.data)  # a first run may have downloaded it
        for what in changed:
            self.lab_changed.publish(what)

    def on_results_skipped(self, message: ResultsSkipped) -> None:
        for sentence in message.sentences:
            self.notify(sentence, title="A cluster's result was skipped", severity="warning", timeout=30)

    def _say_ended(self, ended: list[dict]) -> None:
        """A job that could not start says why (each reason once: every job of a queue without its data fails the
        same way); the end of the whole queue rings the bell."""
        for reason in [job["reason"] for job in ended if job["status"] == Status.FAILED and not job["started_at"]]:
            if reason not in self.reasons_said:
                self.reasons_said.add(reason)
                self.notify(reason, title="The run could not start", severity="error", timeout=30)
        if self.lab.active_jobs():
            return
        finished = sum(job["status"] == Status.FINISHED for job in self.lab.jobs)
        self.notify(f"The queue is done: {numbers.plural(finished, 'run')} finished of {len(self.lab.jobs)}.",
                    title="Queue done", timeout=30)
        self.bell()

    def action_cancel_run(self) -> None:
        """Asks first, naming the job and how far it got: the run view's job when it runs, else the first running."""
        live = self.lab.live
        running = self.lab.running()
        job = live.job if live and live.job["status"] == Status.RUNNING else running[0] if running else None
        if job is None:
            self.notify("No run is going.")
            return
        name = f"#{job['experiment_id']} {job['name']} seed {job['seed']}"
        far = f" at {progress.epoch_words(job)} ({progress.percent(job)} done)" if job["epochs"] else ""
        self.push_screen(ConfirmKeyScreen(f"Cancel {name}{far}?", "cancels it", "keeps it training"),
                         lambda yes: self._cancel(job) if yes else self.notify(f"{name} goes on."))

    def _cancel(self, job: dict) -> None:
        self.lab.cancel([job])
        self.lab_changed.publish("queue")
        self.notify(f"Cancelling #{job['experiment_id']}; the queue goes on.")

    def action_refresh(self) -> None:
        self.lab.reload()
        for what in ("store", "queue", "live"):
            self.lab_changed.publish(what)
        self.notify(f"Read the store again: {numbers.runs_stored(self.lab.overview.statuses)}.")

    @work(thread=True, group="report", exit_on_error=False)
    def write_report(self) -> Path:
        """report.md and its CSVs (and figures) into a new folder of DERMALAB_HOME's reports, off the UI thread."""
        from tui.report import document as report

        store = Store(self.lab.store.path)  # a connection of this thread's own
        store.scope = self.lab.store.scope
        try:
            return report.write(home() / "reports" / stamp(), store, self.lab.experiments,
                                progress=self.report_step, experiments_file=self.lab.source.experiments_file)[0]
        finally:
            store.close()

    def report_step(self, step: str) -> None:
        """From the report's thread: each step in a notice that takes the last one's place, so the seconds of
        figures show as work going on."""
        self.call_from_thread(self.notify, f"{step}…", title="Writing the report", timeout=600)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands, less those our keys already give (Keys, Quit), and the lab's without a key here:
        run the selection from any screen, and write the report."""
        keyed = {binding.description for binding in our_bindings(screen.active_bindings)}
        yield from (command for command in super().get_system_commands(screen) if command.title not in keyed)
        if "run" not in {binding.id for binding in our_bindings(screen.active_bindings)}:
            yield SystemCommand("Run the selection", "Queue the experiments selected on the experiments screen",
                                self.run_selection)
        yield SystemCommand("Report", "Write report.md, its CSVs and figures into a new folder of the lab's home",
                            self.write_report)
        yield SystemCommand("Sweeps", "The experiments file's sweeps: a row per point, the best against its base, "
                            "each measure charted against each axis; r queues one", self.show_sweeps)

    def show_sweeps(self) -> None:
        from tui.app.screens.sweeps import SweepsScreen  # opened from the palette alone

        self.push_screen(SweepsScreen())

    def action_lessons(self) -> None:
        self.push_screen(LessonsScreen())

    def action_keys(self) -> None:
        self.push_screen(HelpScreen(self.screen.active_bindings))

    async def action_quit(self) -> None:
        going = self.lab.active_jobs()
        if not going:
            self.exit()
            return
        self.push_screen(QuitScreen(going), self._quit_answered)

    def _quit_answered(self, answer: QuitAnswer | None) -> None:
        if answer == "cancel":
            self.lab.cancel(self.lab.active_jobs())
        if answer in ("keep", "cancel"):
            self.exit()

    def on_unmount(self) -> None:
        """However the app ends (SIGHUP included), the runs go on; only a probe still importing torch is stopped,
        so that it does not hold the exit up."""
        if self.probe_process and self.probe_process.poll() is None:
            self.probe_process.kill()
        self.lab.store.close()


def create_app(args: Namespace, accelerator: str | None = None) -> DermalabApp:
    """The one way to build the app, for the command line and the tests alike; a fixed `accelerator` skips
    the probe (snapshots)."""
    store = Store()
    store.scope = scope_of(args)  # the app's views show the runs of its --dataset and --size alone
    lab = Lab(load(args.experiments), store, job_source(args))
    lab.reload()  # here, so that an unreadable store is one sentence from the command line, not a traceback
    slots = slot_request(args)
    machine_slots(slots)  # a request this machine cannot meet is one sentence before the app opens
    return DermalabApp(lab, accelerator, slots)


def run_app(args: Namespace) -> int:
    app = create_app(args)
    app.run()
    if app.return_code:  # an error nobody foresaw stopped it; Textual has printed its traceback, for a bug report
        print("dermalab: the app stopped on an error it did not expect (its traceback is above); the runs it started "
              "go on, and 'dermalab' opens it again.", file=sys.stderr)
        return exit_codes.APP_CRASHED
    return exit_codes.OK
