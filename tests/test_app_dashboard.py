"""The live dashboard at 80×24 (issue 22, items 5-10): the queue pane's order and folding, the run view keeping the
last run that trained and moving between the queue's jobs, x and D asking first, the overlay of comparable runs,
progress counted one way with a smoothed ETA and steady axes, and the header's queue summary on every screen.

No worker trains here: the jobs are claimed, started and ended through the store's own queue by this process (which
lives, so none is taken for interrupted), as a worker would, so each test costs one app start."""

from __future__ import annotations

import itertools
import re

import pytest
from textual.widgets import OptionList, ProgressBar, Static

from engine.events import BatchProgress, EpochEnded, RunFinished, RunStarted
from engine.experiments.load import load
from engine.jobs.queue import JobQueue, plan
from engine.status import Status
from engine.store.runs import Store
from engine.training.options import RunOptions
from tests.conftest import SIZES, app_with, page_metrics, start_run, synchronous, wait_for
from tui.app import progress
from tui.app.screens.confirm_key import ConfirmKeyScreen
from tui.app.widgets.frame.header import fit
from tui.app.widgets.run.curves import Curves, auc_ticks, labels, loss_ticks
from tui.app.widgets.run.queue_list import FOLD

pytestmark = pytest.mark.slow  # each drives the app through Pilot for a second or two

SMALL = SIZES["small"]
BATCHES = 220


class Lab:
    """A store with a queue, worked through as a worker would, one job at a time."""

    def __init__(self) -> None:
        self.experiments, self.store = load(), Store()
        self.queue = JobQueue(self.store)

    def add(self, experiment_ids: list[int], seeds: list[int]) -> list[str]:
        jobs = plan([self.experiments[i] for i in experiment_ids], seeds, "synthetic", None, RunOptions())
        self.queue.add(jobs)
        return [job.job_id for job in jobs]

    def start(self, epochs_done: int = 0, batch: int = 110, real: bool = False) -> str:
        """The next waiting job starts, with `epochs_done` epochs stored and `batch` batches into the next."""
        job = self.queue.claim("cpu 1")
        assert job is not None
        experiment = self.experiments[job.experiment_id]
        start_run(self.store, experiment, job.job_id, job.seed, not real)
        epochs = experiment.spec.training.epochs
        self.queue.started(RunStarted(job.job_id, job.experiment_id, job.name, job.seed, "CPU", "synthetic", epochs,
                                      BATCHES))
        for epoch in range(1, epochs_done + 1):
            self.store.epoch(EpochEnded(job.job_id, epoch, epochs, 1.2 / epoch, 1.3 / epoch, 0.80 + epoch / 100, 0.7,
                                        0.001, 10.0))
        self.queue.beat(BatchProgress(job.job_id, epochs_done + 1, batch, BATCHES, 0.9, 1000.0))
        return job.job_id

    def finish(self, job_id: str) -> None:
        experiment_id = self.queue.get(job_id)["experiment_id"]
        self.store.finish(RunFinished(job_id, page_metrics(self.experiments[experiment_id], 0.0), []), [])
        self.queue.settle(job_id, Status.FINISHED)


def screen_lines(app) -> list[str]:
    """The screen as the terminal shows it, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def header(app) -> str:
    return screen_lines(app)[0]


@synchronous
async def test_the_queue_pane_puts_running_and_waiting_jobs_first_and_folds_the_ended(dermalab_home):
    # Item 5: twelve jobs ended before the running one; it was below them all, seen only after End.
    lab = Lab()
    jobs = lab.add([8], list(range(14)))
    for _ in range(12):
        lab.finish(lab.start(epochs_done=5))
    running = lab.start()
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("v")
        options = app.screen.query_one("#queue-jobs", OptionList)
        assert [option.id for option in options.options] == [running, jobs[13], FOLD]
        assert "12 jobs ended (12 done)" in str(options.get_option(FOLD).prompt)
        assert any(line.startswith(" ▶ #8 ") for line in screen_lines(app))  # in view, without scrolling
        await pilot.resize_terminal(60, 20)  # a job a row however narrow: the waiting job right below
        await pilot.pause()
        lines = screen_lines(app)
        at = next(row for row, line in enumerate(lines) if line.startswith(" ▶ #8 "))
        assert lines[at + 1].startswith(" · #8 BatchNorm · seed 13 · queued"), lines
        await pilot.resize_terminal(*SMALL)
        options.focus()
        options.highlighted = 2
        await pilot.press("enter")  # unfolds the ended jobs, newest first
        ids = [option.id for option in options.options]
        assert ids == [running, jobs[13], FOLD, *reversed(jobs[:12])]


@synchronous
async def test_when_the_queue_ends_the_run_view_keeps_the_last_run_that_trained(dermalab_home):
    # Item 6: the two jobs after it were cancelled before they started; the view jumped to the last of them.
    lab = Lab()
    trained, *dropped = lab.add([8, 20, 21], [3])
    lab.start(epochs_done=2)
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("v")
        lab.queue.cancel(dropped)
        lab.finish(trained)
        await wait_for(pilot, lambda: not app.lab.active_jobs(), timeout=10)
        await pilot.pause()
        assert app.lab.live.job["job_id"] == trained
        assert "#8 BatchNorm" in str(app.screen.query_one("#run-title", Static).content)
        auc = app.screen.query_one("#auc-curves", Curves)
        assert [len(xs) for xs, *_ in auc.shown] == [2]  # its two epochs' curve is drawn
        assert "ETA" not in str(app.screen.query_one("#epoch-info").render())  # done: no time left to tell
        # Tab and the arrow keys move between the queue's jobs (the ended ones newest first).
        await pilot.press("tab")
        assert app.lab.live.job["job_id"] == dropped[0]
        await pilot.press("down")
        assert app.lab.live.job["job_id"] == dropped[1]
        await pilot.press("shift+tab", "shift+tab")
        assert app.lab.live.job["job_id"] == trained


@synchronous
async def test_x_and_D_ask_first_and_any_other_key_keeps_the_jobs(dermalab_home):
    # Item 7: x cancelled the running job at once, on every screen; D cleared the queue at once.
    lab = Lab()
    running, *waiting = lab.add([8, 20, 21], [3])
    lab.start()
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("l", "x")  # on the leaderboard
        assert isinstance(app.screen, ConfirmKeyScreen)
        await pilot.press("e")  # any other key: kept, and e does nothing else (no switch to experiments)
        assert app.current_mode == "leaderboard" and not isinstance(app.screen, ConfirmKeyScreen)
        assert lab.queue.get(running)["cancel_requested"] == 0
        await pilot.press("x", "y")
        assert lab.queue.get(running)["cancel_requested"] == 1

        await pilot.press("v", "D", "escape")
        assert [lab.queue.get(job)["status"] for job in waiting] == ["queued", "queued"]
        await pilot.press("D", "y")
        assert [lab.queue.get(job)["status"] for job in waiting] == ["cancelled", "cancelled"]


@synchronous
async def test_the_overlay_draws_only_runs_on_the_same_data_and_names_this_run(dermalab_home):
    # Item 8: a real-data run was overlaid with synthetic runs, the same one three times, its own curve unnamed.
    lab = Lab()
    lab.add([2, 20, 21, 21, 10], [0])
    synthetic = lab.start(epochs_done=2)
    real, again, twice = (lab.start(epochs_done=2, real=True) for _ in range(3))
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SMALL) as pilot:
        for job_id in (synthetic, real, again, twice):
            lab.finish(job_id)
        shown = lab.start(epochs_done=1, real=True)  # #10, on real data
        await pilot.press("v")
        await wait_for(pilot, lambda: app.lab.live and app.lab.live.job["job_id"] == shown, timeout=10)
        await pilot.press("o")
        auc = app.screen.query_one("#auc-curves", Curves)
        assert [name for *_, name, _ in auc.shown] == ["#20 s0 val AUC", "#21 s0 val AUC", "this run val AUC"]
        # A new queue starts without the last one's overlay.
        app.start_worker = lambda: None  # type: ignore[method-assign]  # no worker: this only queues
        app.lab.selected = {1}
        app.run_selection()
        # the curves redraw at the screen's next refresh, which a busy machine may take a while to reach
        await wait_for(pilot, lambda: len(auc.shown) == 1, timeout=20)
        assert not app.screen.overlay and [len(xs) for xs, *_ in auc.shown] == [1]


def test_progress_counts_one_way_and_the_eta_is_smoothed():
    # Item 9: "71% 3/5" on the bar, "epoch 4/5" in the queue; the ETA swung with each heartbeat's pace.
    job = {"job_id": "j", "status": "running", "epoch": 4, "epochs": 5, "batch": 110, "batches": 220,
           "cancel_requested": 0, "started_at": 1000.0, "beat_at": 1350.0}
    assert (progress.epoch_words(job), progress.percent(job)) == ("epoch 4/5", "70%")
    etas = progress.Etas(clock=lambda: 1350.0)
    etas.note([job])
    assert etas.left("j") == pytest.approx(150.0)  # 70% in 350 s
    # A second later the pace since the start says 350 s more (a slow evaluation); the ETA moves a little.
    etas.note([{**job, "beat_at": 1351.0, "started_at": 851.0}])
    etas.clock = lambda: 1351.0
    assert 149.0 < etas.left("j") < 160.0


def test_axes_hold_still_with_labels_evenly_spaced_and_lines_tell_apart_without_colour():
    # Item 9: the val-AUC axis zoomed to four places; labels fell on uneven rows; three lines shared one glyph.
    for rows in range(3, 16):
        for ticks in (auc_ticks([0.901, 0.916], rows), loss_ticks([1.4, 0.6], rows)):
            span = rows - 1
            gaps = {span * (b - a) / (ticks[-1] - ticks[0]) for a, b in itertools.pairwise(ticks)}
            assert len({round(gap, 6) for gap in gaps}) == 1 and all(abs(g - round(g)) < 1e-6 for g in gaps)
    assert auc_ticks([0.901, 0.916], 5) == [0.5, 0.75, 1.0] and labels([0.5, 0.75, 1.0]) == ["0.50", "0.75", "1.00"]
    assert auc_ticks([0.42], 5)[0] == 0.4  # a value below chance stays in view
    loss = Curves("loss", [("train_loss", "train"), ("val_loss", "val")], id="loss", beats_label="train, by batch")
    history = [{"epoch": 1, "train_loss": 1.2, "val_loss": 1.4}]
    markers = [marker for *_, marker in loss.lines(history, [("#2 s0", history)], [(0.5, 1.6), (1.0, 1.2)])]
    assert len(markers) == 4 and len(set(markers)) == 4


@synchronous
async def test_progress_reads_the_same_in_the_bar_the_queue_the_running_rows_and_the_header(dermalab_home):
    lab = Lab()
    lab.add([8, 20], [3])
    lab.start(epochs_done=3, batch=110)  # 3.5 epochs of 5: epoch 4, 70%
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("v")
        bar = app.screen.query_one("#epoch-bar", ProgressBar)
        assert bar.percentage == pytest.approx(0.7)
        assert str(app.screen.query_one("#epoch-info", Static).content).startswith("epoch 4/5 · ETA ")
        assert "#8 BatchNorm · seed 3 · running · epoch 4/5 70%" in "\n".join(screen_lines(app))
        assert "1 running: #8 epoch 4/5 70% · 1 waiting" in header(app)
        # Each plot's y labels, top to bottom, on rows equally far apart; val AUC's from 0.5 to 1.0.
        labels_at: dict[int, list[tuple[int, str]]] = {}
        for row, line in enumerate(screen_lines(app)):
            for found in re.finditer(r"(\d+\.?\d*)┤", line):
                labels_at.setdefault(found.end(), []).append((row, found.group(1)))
        loss, auc = (labels_at[column] for column in sorted(labels_at))  # the two plots, left to right
        assert [label for _, label in auc] == ["1.00", "0.75", "0.50"]
        for plot in (loss, auc):
            assert len({b - a for (a, _), (b, _) in itertools.pairwise(plot)}) == 1, plot


@synchronous
async def test_every_screen_heads_with_the_queue_and_the_probe_never_cuts_the_header(dermalab_home):
    # Item 10: "1 run stored │ finding the accel…" on reopening, cut at 80 columns, with a job training unseen.
    lab = Lab()
    lab.add([8, 20, 21], [3])
    lab.start(epochs_done=1)
    app = app_with("--data", "synthetic", accelerator="CPU · 2 threads, a long name for the probe's answer")
    async with app.run_test(size=SMALL) as pilot:
        for keys in ([], ["l"], ["g"], ["f"], ["v"]):
            await pilot.press(*keys)
            line = header(app)
            assert "1 running: #8 epoch 2/5 30% · 2 waiting · queue ETA " in line, line
            assert "…" not in line and "CPU" not in line  # the accelerator is left out whole, not cut
        app.probing = True  # as while the probe imports torch: nothing of it shows
        app.lab_changed.publish("accelerator")
        await pilot.pause()
        assert "finding" not in header(app) and "1 running" in header(app)
    # At 120 columns the accelerator fits, whole; nothing gives way that need not.
    parts = {"view": "run", "data": "data: synthetic", "stored": "2 runs stored", "accelerator": "CPU · 2 threads"}
    assert fit(parts, 118) == "run │ data: synthetic │ 2 runs stored │ CPU · 2 threads"
    assert fit(parts, 40) == "run │ data: synthetic │ 2 runs stored"


@synchronous
async def test_the_run_views_numbers_shorten_their_words_and_are_never_cut(dermalab_home):
    lab = Lab()
    lab.add([8], [3])
    lab.start(epochs_done=3, batch=110)
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("v")
        await pilot.pause()
        lines = screen_lines(app)
        batch = next(line for line in lines if " 110/220 · " in line)
        last = next(line for line in lines if "3: " in line and "lr " in line)
        assert "…" not in batch + last, (batch, last)
        assert "loss 0.900" in batch  # the loss stays; img/s shortens or goes first
        # the last epoch's figures whole, in shorter words than on a wide screen: 'val AUC 0.830' reads 'AUC 0.830'
        assert "AUC 0.830" in last and last.rstrip().endswith("lr 0.001 · 10.0s"), last


@synchronous
async def test_a_notice_leaves_the_eta_and_the_queue_in_sight(dermalab_home):
    from textual.widgets._toast import Toast

    lab = Lab()
    lab.add([8, 20, 21], [3])
    lab.start(epochs_done=1)
    lab.start(epochs_done=1)  # two jobs running: their rows above the followed job's bars
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await pilot.press("v")
        app.notify("A notice of two lines, as long as the ones the run view gives when o or x is pressed.")
        await pilot.pause(0.5)
        [toast] = app.screen.query(Toast)
        for shown in ("#epoch-info", "#batch-info", "#last-epoch", "QueueList"):
            assert not toast.region.overlaps(app.screen.query_one(shown).region), shown
