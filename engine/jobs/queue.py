"""The run queue, kept in the store's file (its `jobs` table, engine.store.schema): jobs waiting and running, claimed
in one transaction, each running job's heartbeat (epoch, batch, loss, img/s) and its cancel flag. Any process on the
machine may add, follow or cancel jobs; a worker (or the `dermalab run` that asked for them) trains them, or a
cluster does (engine.jobs.cluster)."""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from engine.errors import RunCancelled, UserError
from engine.events import BatchProgress, RunFailed, RunStarted
from engine.experiments.load import load
from engine.experiments.spec import Experiment, Point
from engine.experiments.sweeps import at_point
from engine.jobs.lock import holder_of
from engine.processes import alive, started
from engine.status import ACTIVE, Status, sql_in
from engine.store.runs import Planned, Store
from engine.training.options import RunOptions, run_config

CANCELLED = "cancelled by the user"
ENDED_EARLY = "the process answering for it ended first (killed, crashed or closed)"
# A job's process beats with every batch, and with its progress while it prepares: one of another host silent this
# long is taken for gone (JobQueue.recover).
SILENT_SECONDS = 300.0
# An experiments file's experiments by id, as engine.experiments.load.load reads them.
Experiments = Callable[[str | None], dict[int, Experiment]]


class Executor(StrEnum):
    """Who trains a job, chosen when it is queued."""

    WORKER = "worker"  # the `dermalab worker` serving the store from this machine, in a child process
    FOREGROUND = "foreground"  # the `dermalab run` that queued it, itself (or in its children, with --jobs)
    SLURM = "slurm"  # a task of a Slurm job array, through submitit
    LOCAL = "local"  # a task of submitit's local executor: the cluster's way, on this machine


CLUSTERS = (Executor.SLURM, Executor.LOCAL)


@dataclass(frozen=True)
class Job:
    """One run asked for: an experiment (or a sweep's point of it), a seed, where the data and experiments come
    from, and the run's options (RunOptions' fields but the seed). Its id becomes the run's id, so either names it."""

    job_id: str
    experiment_id: int
    name: str
    seed: int
    data: str
    experiments: str | None
    options: dict[str, Any]
    point: Point | None = None  # a sweep's point: the experiment with these values (engine.experiments.sweeps)

    @classmethod
    def new(cls, experiment_id: int, name: str, seed: int, data: str, experiments: str | None,
            options: dict[str, Any], point: Point | None = None) -> Job:
        return cls(uuid.uuid4().hex[:12], experiment_id, name, seed, data, experiments, options, point)


class JobQueue:
    """The jobs table, on a store's connection (so it shares the store's file, transactions and error sentences)."""

    def __init__(self, store: Store):
        self.store = store

    def add(self, jobs: list[Job], keep: bool = False) -> None:
        """Queue `jobs` in order, for the worker; `keep`: this process trains them itself (a foreground
        `dermalab run`), so it answers for them from now on."""
        if keep:
            self._insert(jobs, Executor.FOREGROUND, [None] * len(jobs), socket.gethostname(), os.getpid(), started())
        else:
            self._insert(jobs, Executor.WORKER, [None] * len(jobs))

    def add_submitted(self, jobs: list[Job], executor: Executor, cluster_job_ids: list[str]) -> None:
        """Jobs a cluster trains (engine.jobs.cluster), each as the task with that id."""
        self._insert(jobs, executor, cluster_job_ids)

    def _insert(self, jobs: list[Job], executor: Executor, cluster_job_ids: Sequence[str | None],
                host: str | None = None, pid: int | None = None, process_started: float | None = None) -> None:
        now = time.time()
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO jobs (job_id, experiment_id, name, seed, data, experiments, options, point, executor,"
                " status, host, worker_pid, process_started, cluster_job_id, queued_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(job.job_id, job.experiment_id, job.name, job.seed, job.data, job.experiments,
                  json.dumps(job.options), job.point and job.point.to_json(), executor, Status.QUEUED, host, pid,
                  process_started, cluster_job_id, now + order * 1e-6)
                 for order, (job, cluster_job_id) in enumerate(zip(jobs, cluster_job_ids))])

    def submitted(self) -> list[dict[str, Any]]:
        """Cluster jobs still going, or ended without their run in the store yet."""
        rows = self.store.execute(
            f"SELECT * FROM jobs WHERE executor IN {sql_in(CLUSTERS)} AND (status IN {sql_in(ACTIVE)}"
            " OR job_id NOT IN (SELECT run_id FROM runs)) ORDER BY queued_at")
        return [row_of(row) for row in rows]

    def task_state(self, job_id: str, words: str, running: bool) -> None:
        """What the cluster says of a submitted job's task (pending, running...), as its phase; the job counts as
        heard from now only until its task's own heartbeat, whose time the task tells (JobQueue.beat's `at`)."""
        with self.store.transaction() as db:
            db.execute("UPDATE jobs SET phase=?, beat_at=coalesce(beat_at, ?),"
                       " status=CASE WHEN ? AND status=? THEN ? ELSE status END"
                       " WHERE job_id=?", (words, time.time(), running, Status.QUEUED, Status.RUNNING, job_id))

    def claim(self, slot: str, kept: bool = False) -> Job | None:
        """The oldest waiting job, now running under this process: finding and taking it is one transaction,
        so two workers never take the same job. `kept`: one of this process's own jobs (see `add`)."""
        host, pid = socket.gethostname(), os.getpid()
        whose, parameters = ((f"executor='{Executor.FOREGROUND}' AND host=? AND worker_pid=?", (host, pid)) if kept
                             else (f"executor='{Executor.WORKER}' AND worker_pid IS NULL", ()))
        waiting = f"SELECT * FROM jobs WHERE status='{Status.QUEUED}' AND {whose} ORDER BY queued_at LIMIT 1"
        if not self.store.execute(waiting, parameters):
            return None  # most polls of an idle worker: a read, without taking the write lock
        with self.store.transaction() as db:
            row = db.execute(waiting, parameters).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET status=?, host=?, worker_pid=?, process_started=?, slot=?, claimed_at=?"
                       " WHERE job_id=?", (Status.RUNNING, host, pid, started(), slot, time.time(), row["job_id"]))
        return job_of(row)

    def started(self, event: RunStarted, at: float | None = None) -> bool:
        """The job's run began (`at`, where it was told later, as from a cluster task's progress file: its own
        clock); returns whether a cancel was asked for."""
        return self._beat(event.run_id, at, device=event.device, epoch=event.resumed_after + 1, epochs=event.epochs,
                          batch=0, batches=event.batches, started_at=at or time.time(), phase=None)

    def beat(self, event: BatchProgress, at: float | None = None) -> bool:
        """The heartbeat (sent `at`, where it was told later): one small transaction; returns whether a cancel was
        asked for."""
        return self._beat(event.run_id, at, epoch=event.epoch, batch=event.batch, batches=event.batches,
                          loss=event.loss, images_per_second=event.images_per_second)

    def phase(self, job_id: str, words: str) -> bool:
        """What a claimed job is busy with before its run starts; returns whether a cancel was asked for."""
        return self._beat(job_id, phase=words)

    def _beat(self, job_id: str, at: float | None = None, **columns: Any) -> bool:
        columns["beat_at"] = at or time.time()
        with self.store.transaction() as db:
            row = db.execute(f"UPDATE jobs SET {', '.join(f'{name}=?' for name in columns)} WHERE job_id=?"
                             " RETURNING cancel_requested", (*columns.values(), job_id)).fetchone()
        return bool(row and row["cancel_requested"])

    def settle(self, job_id: str, status: Status, reason: str = "") -> None:
        """How the job ended, once its run has stored its own ending; a job that has ended already keeps its first
        ending."""
        with self.store.transaction() as db:
            db.execute(f"UPDATE jobs SET status=?, reason=?, ended_at=? WHERE job_id=? AND status IN {sql_in(ACTIVE)}",
                       (status, reason or None, time.time(), job_id))

    def end(self, job_id: str, status: Status, reason: str, experiments: Experiments = load) -> None:
        """A job ends early, and its run with it, for those who answer for it when its run cannot say so itself (a
        worker whose child died, a cluster task that left no result, a process gone before its jobs started). The
        run is written first: a store that cannot take it raises StoreUnwritable, and the job is not settled as if
        its run were stored. A job that ended already keeps its ending, but its run is still stored if missing
        (a cluster task cancelled before its run began). Who ends many jobs at once passes `experiments` that
        reads each file once."""
        job = self.get(job_id)
        if job is not None:
            self._end_run(job, status, reason, experiments)
            self.settle(job_id, status, reason)

    def _end_run(self, job: dict[str, Any], status: Status, reason: str, experiments: Experiments = load) -> None:
        """A run that began and is still running ends so; one that never began is stored as never started, with
        the reason, where its experiment is still known."""
        planned = None if self.store.exists(job["job_id"]) else planned_run(job, experiments)
        self.store.fail(RunFailed(job["job_id"], status, reason, job["epoch"] or 1), planned)

    def waiting(self) -> bool:
        """Whether a job waits for a worker."""
        return bool(self.store.execute(f"SELECT 1 FROM jobs WHERE status='{Status.QUEUED}'"
                                       f" AND executor='{Executor.WORKER}' AND worker_pid IS NULL LIMIT 1"))

    def cancels_asked(self) -> list[str]:
        """This process's running jobs that someone asked to cancel."""
        return [row["job_id"] for row in self.store.execute(
            f"SELECT job_id FROM jobs WHERE status='{Status.RUNNING}' AND cancel_requested AND host=? AND worker_pid=?",
            (socket.gethostname(), os.getpid()))]

    def cancel(self, job_ids: list[str], reason: str = CANCELLED) -> None:
        """Waiting jobs leave the queue at once, in one transaction with the cancel flag of running ones (which stop
        at their next heartbeat); then the runs of those that waited are stored as never started. Leaving first
        means no worker claims one meanwhile."""
        marks = ",".join("?" * len(job_ids))
        with self.store.transaction() as db:
            waiting = db.execute(f"UPDATE jobs SET status=?, reason=?, ended_at=? WHERE status='{Status.QUEUED}'"
                                 f" AND job_id IN ({marks}) RETURNING *",
                                 (Status.CANCELLED, reason, time.time(), *job_ids)).fetchall()
            db.execute(f"UPDATE jobs SET cancel_requested=1 WHERE status='{Status.RUNNING}' AND job_id IN ({marks})",
                       job_ids)
        files = read_once()
        for row in waiting:
            self._end_run(row_of(row), Status.CANCELLED, reason, files)

    def take_back(self, job_ids: list[str], keep: bool) -> None:
        """Jobs whose process died (their runs interrupted) waiting again, to be resumed from their checkpoints: the
        same jobs and runs, not new ones; `keep` as for `add` (this process's own, else the worker's)."""
        marks = ",".join("?" * len(job_ids))
        whose = (Executor.FOREGROUND, socket.gethostname(), os.getpid(), started()) if keep else (
            Executor.WORKER, None, None, None)
        with self.store.transaction() as db:
            db.execute(f"UPDATE jobs SET status=?, reason=NULL, ended_at=NULL, claimed_at=NULL, cancel_requested=0,"
                       f" executor=?, host=?, worker_pid=?, process_started=? WHERE job_id IN ({marks})",
                       (Status.QUEUED, *whose, *job_ids))

    def end_own(self, status: Status, reason: str) -> None:
        """The jobs this process answers for that have not ended, as it stops early."""
        own = self.store.execute(f"SELECT job_id FROM jobs WHERE host=? AND worker_pid=?"
                                 f" AND status IN {sql_in(ACTIVE)}", (socket.gethostname(), os.getpid()))
        files = read_once()
        for row in own:
            self.end(row["job_id"], status, reason, files)

    def find(self, prefix: str) -> dict[str, Any]:
        """The one job whose id (its run's id) starts with `prefix`."""
        job = self.get(self.store.find_id("jobs", prefix, f"There is no job or run '{prefix}' in the queue; "
                                          "'dermalab queue' lists the jobs waiting and running."))
        assert job is not None, "find_id has just read it"
        return job

    def job(self, job_id: str) -> Job | None:
        """The job as it was asked for (to train it again: a resumed run's)."""
        rows = self.store.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        return job_of(rows[0]) if rows else None

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self.store.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        return row_of(rows[0]) if rows else None

    def active(self) -> list[dict[str, Any]]:
        """Waiting and running jobs, oldest first."""
        rows = self.store.execute(f"SELECT * FROM jobs WHERE status IN {sql_in(ACTIVE)} ORDER BY queued_at")
        return [row_of(row) for row in rows]

    def current(self, ended_since: float) -> list[dict[str, Any]]:
        """The queue as a viewer shows it: waiting and running jobs, and those that ended since `ended_since` or
        since the oldest waiting or running job was queued, whichever is earlier; oldest first."""
        rows = self.store.execute(
            f"SELECT * FROM jobs WHERE status IN {sql_in(ACTIVE)} OR ended_at >= min(?1, coalesce((SELECT"
            f" min(queued_at) FROM jobs WHERE status IN {sql_in(ACTIVE)}), ?1)) ORDER BY queued_at", (ended_since,))
        return [row_of(row) for row in rows]

    def recover(self) -> None:
        """Jobs whose process is gone: a running one was interrupted (as its run), a waiting one kept by a
        foreground `dermalab run` will never start. A process of this machine is asked after; one of another host
        name (a machine renamed or gone, a container recreated: its pid means nothing here) is taken for gone once
        it has been silent SILENT_SECONDS and no worker it could be holds the store's lock. A cluster's tasks keep
        their own rules (engine.jobs.cluster)."""
        rows = self.store.execute(f"SELECT job_id, status, executor, host, worker_pid, process_started FROM jobs"
                                  f" WHERE status IN {sql_in(ACTIVE)} AND host IS NOT NULL")
        here, files = socket.gethostname(), read_once()
        for row in rows:
            if row["host"] == here:
                reason = None if alive(row["worker_pid"], row["process_started"]) else ENDED_EARLY
            else:
                reason = self._unheard(row)
            if reason is not None:
                running = row["status"] == Status.RUNNING
                self.end(row["job_id"], Status.INTERRUPTED if running else Status.CANCELLED, reason, files)

    def _unheard(self, row: Any) -> str | None:
        """Why a job of another host's process is taken for gone, or None while it may still be at work: heard from
        (any of its jobs queued, claimed, beating or ending) within SILENT_SECONDS, or a worker's job while a worker
        of another host name holds the store's lock."""
        [(heard,)] = self.store.execute(
            "SELECT max(max(coalesce(queued_at, 0), coalesce(claimed_at, 0), coalesce(beat_at, 0),"
            " coalesce(ended_at, 0))) FROM jobs WHERE host = ? AND worker_pid IS ?", (row["host"], row["worker_pid"]))
        silent = time.time() - heard
        if silent < SILENT_SECONDS or (row["executor"] != Executor.FOREGROUND and self._served_from_elsewhere()):
            return None
        return (f"the process answering for it on {row['host']} has not been heard from for {duration_words(silent)}"
                " (that machine went away, or this one was renamed)")

    def _served_from_elsewhere(self) -> bool:
        """Whether a worker of another host name (or one whose lock file does not say yet) holds the store's lock: a
        worker of this host name answers only for the jobs it claimed here. The lock is asked last, as a worker
        starting while it is probed waits a moment."""
        held = holder_of(self.store.path)
        return held is not None and held[1] != socket.gethostname()


def duration_words(seconds: float) -> str:
    """A silence as a reason says it: in minutes, or hours and minutes."""
    minutes = round(seconds / 60)
    return f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours and {minutes % 60} minutes"


def stopped_by(signum: int) -> str:
    """The reason a run is stored with when the process training it is stopped by `signum`: Ctrl-C is a user's
    cancel, anything else (a shutdown's SIGTERM, a kill) is not."""
    if signum == signal.SIGINT:
        return CANCELLED
    return f"the process training it was stopped by {signal.Signals(signum).name} (a shutdown, or a kill)"


def cancel_reason(cancel: RunCancelled) -> str:
    """The reason a RunCancelled carries, or a user's cancel when it carries none."""
    return str(cancel) or CANCELLED


def planned_run(job: dict[str, Any], experiments: Experiments = load) -> Planned | None:
    """The run a job was to be, as asked, for storing it never started; None when its experiment is no longer in its
    file (or the file is gone), so that nothing is guessed."""
    try:
        base = experiments(job["experiments"])[job["experiment_id"]]
        experiment = at_point(base, Point.from_json(job["point"]), job["experiments"])
    except (UserError, KeyError):
        return None
    config = run_config(experiment, RunOptions(seed=job["seed"], **job["options"]), as_asked=True)
    return Planned(job["job_id"], experiment.id, experiment.spec.name, experiment.spec.chapter, job["seed"],
                   job["data"], config, job["data"] == "synthetic")


def read_once() -> Experiments:
    """`load` that reads each experiments file once, for one pass over many jobs (a read takes tens of ms), and
    afresh at the next pass, as the file may have changed since."""
    return functools.cache(load)


def job_of(row: Any) -> Job:
    return Job(row["job_id"], row["experiment_id"], row["name"], row["seed"], row["data"], row["experiments"],
               json.loads(row["options"]), Point.from_json(row["point"]))


def row_of(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["options"] = json.loads(data["options"])
    return data


def plan(experiments: Iterable[Experiment], seeds: Iterable[int], data: str, experiments_file: str | None,
         options: RunOptions) -> list[Job]:
    """Jobs for experiments in the order given, every seed of one experiment before the next; the job keeps
    the options' fields but the seed, which is its own."""
    seeds = list(seeds)
    kept = {key: value for key, value in asdict(options).items() if key != "seed"}
    return [Job.new(experiment.id, experiment.spec.name, seed, data, experiments_file, kept, experiment.point)
            for experiment in experiments for seed in seeds]


def eta_seconds(job: dict[str, Any], now: float) -> float | None:
    """Seconds until a running job's run ends, at the pace of its run so far (evaluations included)."""
    if not (job["started_at"] and job["beat_at"] and job["epochs"] and job["batches"]):
        return None
    done = ((job["epoch"] - 1) * job["batches"] + job["batch"]) / (job["epochs"] * job["batches"])
    if done <= 0:
        return None
    return max(0.0, (job["beat_at"] - job["started_at"]) * (1 - done) / done - (now - job["beat_at"]))
