"""What the app knows, without any widget: the experiments, the stored runs, the store's queue and the job the
run view follows. It holds the app's one store connection for the UI thread (the store feed has its own)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.classes import DEFAULT, DEFAULT_SIZE, medset
from engine.errors import UserError
from engine.experiments.spec import Experiment
from engine.experiments.sweeps import Sweep
from engine.jobs import resume, seeds
from engine.jobs.queue import Job, JobQueue, plan
from engine.jobs.source import JobSource
from engine.paths import dermamnist_path, missing_data_hint
from engine.status import ACTIVE, Status
from engine.store import summary
from engine.store.runs import Store
from tui.app import progress
from tui.text import numbers

if TYPE_CHECKING:
    from engine.analysis.screening import Predictions


# What the app calls a status (of a stored run or of a job); the others read as they are.
STATUS_WORDS = {Status.FINISHED: "done"}  # interrupted reads as itself, not failed: r resumes it


@dataclass(frozen=True)
class LiveRun:
    """The job the run view follows, as the store has it: its row (status, heartbeat) and its run's epochs so far."""

    job: dict[str, Any]
    history: list[dict[str, Any]]


@dataclass(frozen=True)
class Overview:
    """What the first screen and the header show of the stored runs, read without reading every run: how many
    stand at each status, and per experiment Store.overview()'s status, best AUC and parameter count."""

    statuses: dict[Status, int]
    experiments: dict[int, dict[str, Any]]

    @classmethod
    def read(cls, store: Store) -> Overview:
        return cls(store.statuses(), store.overview())

    @property
    def stored(self) -> int:
        return sum(self.statuses.values())


@dataclass(frozen=True)
class StoreSnapshot:
    """What the store feed read (tui.app.training): the queue, the followed job, and the runs' overview when it
    changed."""

    read_at: float  # time.monotonic() when the reading began
    jobs: list[dict[str, Any]]
    live: LiveRun | None
    overview: Overview | None  # None: unchanged


def curve_key(live: LiveRun | None) -> tuple[str, int] | None:
    """What the curves depend on: the job and how many epochs it has done."""
    return None if live is None else (live.job["job_id"], len(live.history))


@dataclass(frozen=True)
class RunDetail:
    """One stored run as the run detail shows it."""

    run: dict[str, Any]  # the store's record in full: config, per-epoch history, dates, device, data
    row: dict[str, Any]  # its summary row, with bootstrap intervals
    confusion: list[dict[str, Any]]  # empty for a run that did not finish
    checkpoint: bool = False  # whether it keeps a checkpoint to go on from (an interrupted run's, till it ends)

    @property
    def resumable(self) -> bool:
        return self.run["status"] == Status.INTERRUPTED and self.checkpoint


class Lab:
    def __init__(self, experiments: dict[int, Experiment], store: Store, source: JobSource):
        self.experiments, self.store, self.source = experiments, store, source
        self.queue = JobQueue(store)
        self.opened_at = time.time()  # the queue shows the jobs that ended since
        self.overview = Overview({}, {})
        self.jobs: list[dict[str, Any]] = []  # the store's queue: waiting, running, and lately ended jobs
        self.live: LiveRun | None = None
        self.chosen: str | None = None  # the job of the queue the user moved to, whatever its status
        self.beats: dict[str, list[tuple[float, float]]] = {}  # job id -> (epochs done, loss) at each heartbeat seen
        self.wrote_at = 0.0  # time.monotonic() of this app's last write to the queue
        self.etas = progress.Etas()
        self.waiting_key: list[str] = []  # the waiting jobs waiting_seconds was worked out for
        self.waiting_seconds: float | None = None
        self.selected: set[int] = set()
        self.marked: list[str] = []  # run ids marked for an ensemble, oldest first
        self.store_notice: str | None = store.notice()  # said once there is a screen to say it on

    def reload(self) -> None:
        """Read the runs' overview, the queue and the followed job, so the first screen shows them (the store
        feed keeps them fresh afterwards)."""
        self.overview = Overview.read(self.store)
        self._read_queue()

    def _read_queue(self) -> None:
        self.jobs = self.queue.current(self.opened_at)
        self._note_beats()
        self._note_etas()
        followed = followed_job(self.jobs, self.chosen)
        self.live = LiveRun(followed, self.store.history(followed["job_id"])) if followed else None

    def apply(self, snapshot: StoreSnapshot) -> set[str]:
        """Take what the feed read; returns what changed: queue, live, epoch, store. A snapshot read before this
        app's own last write to the queue would undo it on screen, so only its overview counts."""
        changed = set()
        if snapshot.overview is not None:
            self.overview = snapshot.overview
            changed.add("store")
        if snapshot.read_at < self.wrote_at:
            return changed
        if snapshot.jobs != self.jobs:
            self.jobs = snapshot.jobs
            changed |= {"queue", "live"}
            if self._note_beats():
                changed.add("beats")
            self._note_etas()
        if snapshot.live != self.live:
            if curve_key(snapshot.live) != curve_key(self.live):
                changed.add("epoch")
            self.live = snapshot.live
            changed.add("live")
        return changed

    def _note_beats(self) -> bool:
        """Each running job's training loss at each heartbeat, as the curves draw it within an epoch; returns
        whether any job gained a point."""
        grew = False
        for job in self.running():
            if not (job["epochs"] and job["batch"] and job["loss"] is not None):
                continue
            x = job["epoch"] - 1 + job["batch"] / job["batches"]
            points = self.beats.setdefault(job["job_id"], [])
            if not points or x > points[-1][0]:
                points.append((x, job["loss"]))
                grew = True
        return grew

    def _note_etas(self) -> None:
        """The running jobs' smoothed ETAs, and the waiting jobs' training time when they changed (it reads the
        stored runs' speeds)."""
        self.etas.note(self.jobs)
        waiting = self.waiting()
        if [job["job_id"] for job in waiting] != self.waiting_key:
            self.waiting_key = [job["job_id"] for job in waiting]
            self.waiting_seconds = progress.waiting_seconds(waiting, self.experiments, self.store.speeds())

    def queue_left(self) -> float | None:
        """Seconds until every running and waiting job is through (None while that cannot be told yet)."""
        running = [self.etas.left(job["job_id"]) for job in self.running()]
        return progress.queue_left(running, self.waiting_seconds, len(self.waiting_key))

    @property
    def dataset(self) -> str | None:
        """The set whose runs the views show (--dataset); None where they show every set's."""
        return self.store.scope[0] if self.store.scope else None

    def _stored(self, run_id: str) -> dict[str, Any]:
        run = self.store.get(run_id)
        if run is None:
            raise UserError(f"Run {run_id} is no longer stored (pruned or deleted since); ctrl+r reads the store "
                            "again.")
        return run

    def run_detail(self, run_id: str) -> RunDetail:
        run = self._stored(run_id)
        [row] = summary.with_intervals(summary.run_rows([run], self.experiments), self.store)
        return RunDetail(run, row, summary.confusion_rows(run) if run["status"] == Status.FINISHED else [],
                         resume.has_checkpoint(self.store, run_id))

    def predictions(self, run_ids: list[str]) -> list[Predictions]:
        """The stored val predictions of finished runs (UserError for any other)."""
        return [summary.predictions(self.store, run_id) for run_id in run_ids]

    def marked_runs(self) -> list[dict[str, Any]]:
        """The marked runs as Store.get gives them, in the order they were marked."""
        runs = [self.store.get(run_id) for run_id in self.marked]
        if None in runs:
            raise UserError("A marked run is no longer stored (pruned or deleted since); mark the runs again.")
        return [run for run in runs if run is not None]

    def toggle_mark(self, run_id: str) -> None:
        """Mark a run (to compare the marked runs, or combine the last two), or unmark it."""
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked = [*self.marked, run_id]

    def chapters(self) -> dict[str, list[int]]:
        """Chapter name -> experiment ids, chapters in the order of their first experiment."""
        grouped: dict[str, list[int]] = {}
        for experiment_id, experiment in self.experiments.items():
            grouped.setdefault(experiment.spec.chapter, []).append(experiment_id)
        return grouped

    def chapter_of(self, experiment_id: int) -> list[int]:
        return self.chapters()[self.experiments[experiment_id].spec.chapter]

    def toggle(self, ids: list[int]) -> None:
        """Select them all, or, when all of them are selected already, none of them."""
        if set(ids) <= self.selected:
            self.selected -= set(ids)
        else:
            self.selected |= set(ids)

    def enqueue_selection(self) -> list[Job]:
        """The selection joins the store's queue in id order, each with the next unused seed; the selection clears."""
        source = self.source
        added = [job for experiment_id in sorted(self.selected)
                 for job in plan([self.experiments[experiment_id]], [self.next_seed(experiment_id)], source.data,
                                 source.experiments_file, source.options)]
        self._queued(added)
        self.selected.clear()
        return added

    def enqueue_sweep(self, sweep: Sweep) -> list[Job]:
        """The sweep's points × seeds that have not finished join the queue seed by seed, as `dermalab sweep` queues
        them (a seed finished in either precision counts: the app never asks torch which the device picks)."""
        source = self.source
        added = sorted((job for point in sweep.points() for job in plan(
            [point], sorted(set(range(sweep.seeds)) - seeds.finished_in_either(self.store, point, source.data,
                                                                              source.options)),
            source.data, source.experiments_file, source.options)), key=lambda job: job.seed)
        self._queued(added)
        return added

    def resume(self, run_id: str) -> list[Job]:
        """The interrupted run's job waits again, for the worker to go on from its checkpoint as `dermalab run
        --resume ID --detach` does (UserError: why it cannot)."""
        run = self._stored(run_id)
        job = resume.resumable_job(self.store, run)
        self.queue.take_back([job.job_id], keep=False)
        self._wrote()
        return [job]

    def _queued(self, added: list[Job]) -> None:
        self.queue.add(added)
        self._wrote()

    def _wrote(self) -> None:
        """After this app's write to the queue: the run view follows the queue as it is now."""
        self.chosen = None  # the run view follows the new queue, not a job the user moved to before
        self.wrote_at = time.monotonic()
        self._read_queue()

    def selection_estimate(self) -> tuple[str, float]:
        """The selection's size and its training time on this machine in words, and the seconds alone:
        '3 runs selected · about 12m00s on this machine'."""
        from engine.jobs.estimate import estimate, speeds_for

        chosen = (self.source.options.dataset, self.source.options.size)
        on = None if chosen == (DEFAULT, DEFAULT_SIZE) else medset(*chosen)  # another set or size: its images, pixels
        selected = [self.experiments[i] for i in sorted(self.selected)]
        speeds, at_28 = speeds_for(self.store, *chosen)
        guess = estimate(selected, self.experiments, speeds, on, at_28)
        basis = (" (rough: the page's times, as nothing ran here yet)" if guess.rough else
                 " (rough: this machine's 28x28 pace, scaled)" if guess.scaled else " on this machine")
        words = f"{numbers.plural(len(self.selected), 'run')} selected · about {numbers.duration(guess.seconds)}{basis}"
        return words, guess.seconds

    def drop_waiting(self, every: bool) -> list[dict[str, Any]]:
        """The newest waiting job leaves the queue (`every`: all waiting jobs); returns those dropped."""
        waiting = self.waiting()
        dropped = waiting if every else waiting[-1:]
        if dropped:
            self.cancel(dropped)
        return dropped

    def next_seed(self, experiment_id: int) -> int:
        """The seed after the highest that finished with this source's config and data, and after those of this
        session's jobs of the experiment (a queued one has not finished yet)."""
        source = self.source
        finished = seeds.next_seed(self.store, self.experiments[experiment_id], source.data, source.options)
        return max([finished, *(job["seed"] + 1 for job in self.jobs if job["experiment_id"] == experiment_id)])

    def follow(self, job_id: str) -> None:
        """Show this job's bars and curves (read at once, so the screen need not wait for the feed)."""
        self.chosen = job_id
        self.wrote_at = time.monotonic()  # a snapshot read before now follows the job followed before
        self._read_queue()

    def running(self) -> list[dict[str, Any]]:
        return [job for job in self.jobs if job["status"] == Status.RUNNING]

    def waiting(self) -> list[dict[str, Any]]:
        return [job for job in self.jobs if job["status"] == Status.QUEUED]

    def active_jobs(self) -> list[dict[str, Any]]:
        return [job for job in self.jobs if job["status"] in ACTIVE]

    def cancel(self, jobs: list[dict[str, Any]]) -> None:
        self.queue.cancel([job["job_id"] for job in jobs])
        self.wrote_at = time.monotonic()
        self._read_queue()

    def status(self, experiment_id: int) -> str:
        """The newest word for an experiment: its latest job of this session, else its latest stored run."""
        jobs = [job["status"] for job in self.jobs if job["experiment_id"] == experiment_id]
        status = jobs[-1] if jobs else self.overview.experiments.get(experiment_id, {}).get("status")
        return STATUS_WORDS.get(status, status) if status else "never run"

    def best_auc(self, experiment_id: int) -> tuple[float, bool] | None:
        """The best stored AUC and whether it came from synthetic data; real data wins when there is some, and an
        app opened on real data never shows a synthetic score (it would read as a result on skin lesions)."""
        figures = self.overview.experiments.get(experiment_id, {})
        if figures.get("best_real_auc") is not None:
            return figures["best_real_auc"], False
        if figures.get("best_synthetic_auc") is not None and self.source.data == "synthetic":
            return figures["best_synthetic_auc"], True
        return None

    def params(self, experiment_id: int) -> int | None:
        """Our own count from a stored run, else the page's: counting needs torch, which the app never imports."""
        counted = self.overview.experiments.get(experiment_id, {}).get("params")
        published = self.experiments[experiment_id].spec.published
        return counted or (published.params if published else None)

    def finished_in_queue(self) -> list[dict[str, Any]]:
        """Stored runs of the queue's finished jobs, oldest first: the AUCs the queue shows."""
        return self.store.summaries([job["job_id"] for job in self.jobs if job["status"] == Status.FINISHED])

    def comparable_in_queue(self, run_id: str) -> list[dict[str, Any]]:
        """The queue's finished runs that can stand beside this run's curves, oldest first: those on the same data
        (a synthetic set's curves say nothing about DermaMNIST's), each experiment and seed once (its latest run),
        the run itself left out; none while the run is not stored yet."""
        shown = self.store.summaries([run_id])
        if not shown:
            return []
        data = data_of(shown[0])
        latest = {(run["experiment_id"], run["seed"]): run for run in self.finished_in_queue()
                  if run["run_id"] != run_id and data_of(run) == data}
        return sorted(latest.values(), key=lambda run: run["started_at"] or 0.0)


def data_of(run: dict[str, Any]) -> str:
    """What tells runs on the same data apart from others, as the store groups them (GROUP_KEY)."""
    return run["data_fingerprint"] or run["data"]


def followed_job(jobs: list[dict[str, Any]], chosen: str | None = None) -> dict[str, Any] | None:
    """The job the run view shows: the one the user moved to, else the first running, else the next waiting, else
    the last that trained (a job cancelled before it started has nothing to show), else the last."""
    for job in jobs:
        if job["job_id"] == chosen:
            return job
    for status in (Status.RUNNING, Status.QUEUED):
        found = [job for job in jobs if job["status"] == status]
        if found:
            return found[0]
    trained = [job for job in jobs if job["started_at"]]
    if trained:
        return max(trained, key=lambda job: job["ended_at"] or job["started_at"])
    return jobs[-1] if jobs else None


def matches(query: str, experiment: Experiment) -> bool:
    """The `/` filter: an experiment's id, or a part of its name or its chapter, in any case."""
    query = query.strip().lower()
    spec = experiment.spec
    return not query or query == str(spec.id) or query in spec.name.lower() or query in spec.chapter.lower()


def describe_data(data: str) -> tuple[str, str | None]:
    """The header's name for --data, and the sentence to show when a run would not find it."""
    if data == "synthetic":
        return "synthetic", None
    if data == "auto":
        return ("DermaMNIST", None) if dermamnist_path().exists() else ("DermaMNIST missing", missing_data_hint())
    if Path(data).is_file():
        return Path(data).name, None  # the folder would push the rest of the header off an 80-column line
    return (f"{Path(data).name} missing",
            f"--data {data}: no such file; give a medmnist-format .npz, or start with --data synthetic.")
