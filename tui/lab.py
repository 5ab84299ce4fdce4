"""What the app knows, without any widget: the experiments, the stored runs, this session's queue and the live run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import summary
from engine.paths import dermamnist_path, missing_data_hint
from engine.events import BatchProgress, DataProgress, EpochEnded, Event, RunFailed, RunFinished, RunStarted
from engine.experiments import Experiment
from engine.store import Store

if TYPE_CHECKING:
    from engine.screening import Predictions

ENSEMBLE_SIZE = 2  # an ensemble combines two runs

# What the app calls a status (of a stored run or of a job); the others read as they are.
STATUS_WORDS = {"finished": "done", "interrupted": "failed"}


@dataclass
class Job:
    """One (experiment, seed) run asked for in this session."""

    experiment_id: int
    seed: int
    status: str = "queued"  # queued, running, then a store status: finished, failed, cancelled, diverged
    run_id: str | None = None
    reason: str = ""


@dataclass
class LiveRun:
    """The latest job as its events describe it: what the run view draws. It stays after the job ends."""

    job: Job
    started: RunStarted | None = None
    batch: BatchProgress | None = None
    epochs: list[EpochEnded] = field(default_factory=list)
    download: DataProgress | None = None


class Lab:
    def __init__(self, experiments: dict[int, Experiment]):
        self.experiments = experiments
        self.runs: list[dict[str, Any]] = []
        self.jobs: list[Job] = []
        self.selected: set[int] = set()
        self.live: LiveRun | None = None
        self.marked: list[str] = []  # run ids marked for an ensemble, oldest first
        self.store_notice: str | None = None  # set when opening the store found it damaged

    @contextmanager
    def _store(self) -> Iterator[Store]:
        store = Store()
        try:
            self.store_notice = store.recovery_notice() or self.store_notice
            yield store
        finally:
            store.close()

    def reload(self) -> None:
        """Read the store again; opening it also marks runs whose process died as interrupted."""
        with self._store() as store:
            self.runs = store.runs()

    def run_detail(self, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A stored run's row, with its bootstrap intervals, and its confusion rows (UserError if unfinished)."""
        from engine import bootstrap  # it imports numpy, which the first screen does not need

        with self._store() as store:
            run = store.get(run_id)
            row = summary.run_rows(bootstrap.with_intervals([run], store), self.experiments)[0]
        return row, summary.confusion_rows(run)

    def predictions(self, run_ids: list[str]) -> list[Predictions]:
        """The stored val predictions of finished runs (UserError for any other)."""
        from engine import screening  # it imports scikit-learn, which the first screen does not need

        with self._store() as store:
            return [screening.load(store, run_id) for run_id in run_ids]

    def toggle_mark(self, run_id: str) -> None:
        """Mark a run for the ensemble, or unmark it; a third mark replaces the oldest."""
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked = [*self.marked, run_id][-ENSEMBLE_SIZE:]

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
        """The selection joins the queue in id order, each with the next unused seed; the selection clears."""
        added = [Job(experiment_id, self.next_seed(experiment_id)) for experiment_id in sorted(self.selected)]
        self.jobs += added
        self.selected.clear()
        return added

    def next_seed(self, experiment_id: int) -> int:
        seeds = [run["seed"] for run in self.runs if run["experiment_id"] == experiment_id]
        seeds += [job.seed for job in self.jobs if job.experiment_id == experiment_id]
        return max(seeds) + 1 if seeds else 0

    def next_job(self) -> Job | None:
        return next((job for job in self.jobs if job.status == "queued"), None)

    def start(self, job: Job) -> None:
        job.status = "running"
        self.live = LiveRun(job)

    def record(self, job: Job, event: Event) -> None:
        """Follow the live run's events. The child has stored each one already, so a run's last event settles
        its job at once, before the child process has finished exiting."""
        if self.live is None or self.live.job is not job:
            return
        if isinstance(event, RunStarted):
            job.run_id = event.run_id
            self.live.started, self.live.download = event, None
        elif isinstance(event, BatchProgress):
            self.live.batch = event
        elif isinstance(event, EpochEnded):
            self.live.epochs.append(event)
        elif isinstance(event, DataProgress):
            self.live.download = event
        elif isinstance(event, RunFinished):
            self.end(job, "finished", "")
        elif isinstance(event, RunFailed):
            self.end(job, event.status, event.reason)

    def end(self, job: Job, status: str, reason: str) -> None:
        job.status, job.reason = status, reason

    def drop_queued(self, reason: str) -> None:
        """A problem every queued job would hit (missing data): fail them all now, with its sentence."""
        for job in self.jobs:
            if job.status == "queued":
                self.end(job, "failed", reason)

    def status(self, experiment_id: int) -> str:
        """The newest word for an experiment: its latest job of this session, else its latest stored run."""
        statuses = [run["status"] for run in self.runs if run["experiment_id"] == experiment_id]
        statuses += [job.status for job in self.jobs if job.experiment_id == experiment_id]
        return STATUS_WORDS.get(statuses[-1], statuses[-1]) if statuses else "never run"

    def best_auc(self, experiment_id: int) -> tuple[float, bool] | None:
        """The best stored AUC and whether it came from synthetic data; real data wins when there is some."""
        scored = [(not run["synthetic"], run["auc"]) for run in self.runs
                  if run["experiment_id"] == experiment_id and run["auc"] is not None]
        if not scored:
            return None
        real, best = max(scored)
        return best, not real

    def params(self, experiment_id: int) -> int | None:
        """Our own count from a stored run, else the page's: counting needs torch, which the app never imports."""
        counted = [run["params"] for run in self.runs if run["experiment_id"] == experiment_id and run["params"]]
        published = self.experiments[experiment_id].spec.published
        return counted[-1] if counted else published.params if published else None

    def finished_this_session(self) -> list[dict[str, Any]]:
        """Stored runs this session finished, oldest first: the curves the run view can overlay."""
        ids = {job.run_id for job in self.jobs if job.status == "finished"}
        return [run for run in self.runs if run["run_id"] in ids]


def describe_data(data: str) -> tuple[str, str | None]:
    """The header's name for --data, and the sentence to show when a run would not find it."""
    if data == "synthetic":
        return "synthetic", None
    if data == "auto":
        return ("DermaMNIST", None) if dermamnist_path().exists() else ("DermaMNIST missing", missing_data_hint())
    if Path(data).is_file():
        return data, None
    return f"{data} missing", f"--data {data}: no such file; give a medmnist-format .npz, or start with --data synthetic."
