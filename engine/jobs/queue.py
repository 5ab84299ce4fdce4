"""The run queue, kept in the store's file: jobs waiting and running, claimed in one transaction, each running
job's heartbeat (epoch, batch, loss, img/s) and its cancel flag. Any process on the machine may add, follow or
cancel jobs; a worker (or the `dermalab run` that asked for them) trains them."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.events import BatchProgress, RunFailed, RunStarted
from engine.experiments.spec import Experiment
from engine.processes import process_alive
from engine.store.runs import Store
from engine.training.options import RunOptions

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,  -- also the id of the run it becomes
    experiment_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    seed INTEGER NOT NULL,
    data TEXT NOT NULL,
    experiments TEXT,  -- the experiments file, absolute (NULL: the repository's own)
    options TEXT NOT NULL,  -- the run's options (device, epochs, ...) as JSON
    status TEXT NOT NULL,  -- queued, running, then how it ended: finished, failed, cancelled, diverged, interrupted
    reason TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    host TEXT,  -- with worker_pid: the process answering for the job, set when claimed (or at once, for the
    worker_pid INTEGER,  -- jobs a foreground `dermalab run` keeps for itself)
    slot TEXT,  -- the device slot the worker gave it
    phase TEXT,  -- what a claimed job does before its run starts (a download, say)
    device TEXT,
    epoch INTEGER,
    epochs INTEGER,
    batch INTEGER,
    batches INTEGER,
    loss REAL,
    images_per_second REAL,
    queued_at REAL NOT NULL,
    claimed_at REAL,
    started_at REAL,  -- when its run began training
    beat_at REAL,
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_by_end ON jobs (ended_at);
"""
ACTIVE = ("queued", "running")
LOCK_TRIES = 20  # someone asking whether a worker lives holds its lock for a moment: a worker tries for a second
CANCELLED = "cancelled by the user"
ENDED_EARLY = "the process answering for it ended first (killed, crashed or closed)"


@dataclass(frozen=True)
class Job:
    """One run asked for: an experiment, a seed, where the data and experiments come from, and the run's options
    (RunOptions' fields but the seed). Its id becomes the run's id, so either names it."""

    job_id: str
    experiment_id: int
    name: str
    seed: int
    data: str
    experiments: str | None
    options: dict[str, Any]

    @classmethod
    def new(cls, experiment_id: int, name: str, seed: int, data: str, experiments: str | None,
            options: dict[str, Any]) -> Job:
        return cls(uuid.uuid4().hex[:12], experiment_id, name, seed, data, experiments, options)


class JobQueue:
    """The jobs table, on a store's connection (so it shares the store's file, transactions and error sentences)."""

    def __init__(self, store: Store):
        self.store = store
        for statement in SCHEMA.split(";")[:-1]:  # so no comment in SCHEMA may hold a semicolon
            store.execute(statement)

    def add(self, jobs: list[Job], keep: bool = False) -> None:
        """Queue `jobs` in order; `keep`: this process trains them itself (a foreground `dermalab run`)."""
        host, pid = (socket.gethostname(), os.getpid()) if keep else (None, None)
        self._insert(jobs, host, pid, [None] * len(jobs))

    def add_submitted(self, jobs: list[Job], host: str, task_ids: list[str]) -> None:
        """Jobs a cluster trains (engine.jobs.cluster): `host` names the executor, each slot its task; worker pid 0, so
        no worker here claims them."""
        self._insert(jobs, host, 0, task_ids)

    def _insert(self, jobs: list[Job], host: str | None, pid: int | None, slots: list[str | None]) -> None:
        now = time.time()
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO jobs (job_id, experiment_id, name, seed, data, experiments, options, status, host,"
                " worker_pid, slot, queued_at) VALUES (?,?,?,?,?,?,?,'queued',?,?,?,?)",
                [(job.job_id, job.experiment_id, job.name, job.seed, job.data, job.experiments,
                  json.dumps(job.options), host, pid, slot, now + order * 1e-6)
                 for order, (job, slot) in enumerate(zip(jobs, slots))])

    def submitted(self) -> list[dict[str, Any]]:
        """Cluster jobs still going, or ended without their run in the store yet."""
        rows = self.store.execute(
            "SELECT * FROM jobs WHERE host LIKE 'cluster:%' AND worker_pid=0 AND (status IN ('queued','running')"
            " OR job_id NOT IN (SELECT run_id FROM runs)) ORDER BY queued_at")
        return [row_of(row) for row in rows]

    def task_state(self, job_id: str, words: str, running: bool) -> None:
        """What the cluster says of a submitted job's task (pending, running...), as its phase."""
        with self.store.transaction() as db:
            db.execute("UPDATE jobs SET phase=?, beat_at=?, status=CASE WHEN ? AND status='queued' THEN 'running'"
                       " ELSE status END WHERE job_id=?", (words, time.time(), running, job_id))

    def claim(self, slot: str, kept: bool = False) -> Job | None:
        """The oldest waiting job, now running under this process: finding and taking it is one transaction,
        so two workers never take the same job. `kept`: one of this process's own jobs (see `add`)."""
        host, pid = socket.gethostname(), os.getpid()
        whose, parameters = ("host=? AND worker_pid=?", (host, pid)) if kept else ("worker_pid IS NULL", ())
        waiting = f"SELECT * FROM jobs WHERE status='queued' AND {whose} ORDER BY queued_at LIMIT 1"
        if not self.store.execute(waiting, parameters):
            return None  # most polls of an idle worker: a read, without taking the write lock
        with self.store.transaction() as db:
            row = db.execute(waiting, parameters).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET status='running', host=?, worker_pid=?, slot=?, claimed_at=? WHERE job_id=?",
                       (host, pid, slot, time.time(), row["job_id"]))
        return job_of(row)

    def started(self, event: RunStarted) -> bool:
        """The job's run began; returns whether a cancel was asked for."""
        return self._beat(event.run_id, device=event.device, epoch=1, epochs=event.epochs, batch=0,
                          batches=event.batches, started_at=time.time(), phase=None)

    def beat(self, event: BatchProgress) -> bool:
        """The heartbeat: one small transaction; returns whether a cancel was asked for."""
        return self._beat(event.run_id, epoch=event.epoch, batch=event.batch, batches=event.batches, loss=event.loss,
                          images_per_second=event.images_per_second)

    def phase(self, job_id: str, words: str) -> bool:
        """What a claimed job is busy with before its run starts; returns whether a cancel was asked for."""
        return self._beat(job_id, phase=words)

    def _beat(self, job_id: str, **columns: Any) -> bool:
        columns["beat_at"] = time.time()
        with self.store.transaction() as db:
            row = db.execute(f"UPDATE jobs SET {', '.join(f'{name}=?' for name in columns)} WHERE job_id=?"
                             " RETURNING cancel_requested", (*columns.values(), job_id)).fetchone()
        return bool(row and row["cancel_requested"])

    def settle(self, job_id: str, status: str, reason: str = "") -> None:
        """How the job ended; a job that has ended already keeps its first ending."""
        with self.store.transaction() as db:
            db.execute("UPDATE jobs SET status=?, reason=?, ended_at=? WHERE job_id=? AND status IN ('queued','running')",
                       (status, reason or None, time.time(), job_id))

    def waiting(self) -> bool:
        """Whether a job waits for a worker."""
        return bool(self.store.execute("SELECT 1 FROM jobs WHERE status='queued' AND worker_pid IS NULL LIMIT 1"))

    def cancels_asked(self) -> list[str]:
        """This process's running jobs that someone asked to cancel."""
        return [row["job_id"] for row in self.store.execute(
            "SELECT job_id FROM jobs WHERE status='running' AND cancel_requested AND host=? AND worker_pid=?",
            (socket.gethostname(), os.getpid()))]

    def cancel(self, job_ids: list[str], reason: str = CANCELLED) -> None:
        """Waiting jobs leave the queue at once; running ones are flagged, and stop at their next heartbeat."""
        marks = ",".join("?" * len(job_ids))
        with self.store.transaction() as db:
            db.execute(f"UPDATE jobs SET status='cancelled', reason=?, ended_at=? WHERE status='queued'"
                       f" AND job_id IN ({marks})", (reason, time.time(), *job_ids))
            db.execute(f"UPDATE jobs SET cancel_requested=1 WHERE status='running' AND job_id IN ({marks})", job_ids)

    def end_own(self, status: str, reason: str) -> None:
        """The jobs this process answers for that have not ended, as it stops early."""
        with self.store.transaction() as db:
            db.execute("UPDATE jobs SET status=?, reason=?, ended_at=? WHERE host=? AND worker_pid=?"
                       " AND status IN ('queued','running')",
                       (status, reason, time.time(), socket.gethostname(), os.getpid()))

    def find(self, prefix: str) -> dict[str, Any]:
        """The one job whose id (its run's id) starts with `prefix`."""
        rows = self.store.execute("SELECT * FROM jobs WHERE substr(job_id, 1, length(?1)) = ?1 ORDER BY queued_at",
                                  (prefix,))
        if not prefix or not rows:
            raise UserError(f"There is no job or run '{prefix}' in the queue; 'dermalab queue' lists the jobs "
                            "waiting and running.")
        if len(rows) > 1:
            raise UserError(f"'{prefix}' starts {len(rows)} job ids ({', '.join(r['job_id'] for r in rows[:3])}"
                            f"{', …' if len(rows) > 3 else ''}); give more of the id.")
        return row_of(rows[0])

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self.store.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        return row_of(rows[0]) if rows else None

    def active(self) -> list[dict[str, Any]]:
        """Waiting and running jobs, oldest first."""
        rows = self.store.execute("SELECT * FROM jobs WHERE status IN ('queued','running') ORDER BY queued_at")
        return [row_of(row) for row in rows]

    def current(self, ended_since: float) -> list[dict[str, Any]]:
        """The queue as a viewer shows it: waiting and running jobs, and those that ended since `ended_since` or
        since the oldest waiting or running job was queued, whichever is earlier; oldest first."""
        rows = self.store.execute(
            "SELECT * FROM jobs WHERE status IN ('queued','running') OR ended_at >= min(?1, coalesce((SELECT"
            " min(queued_at) FROM jobs WHERE status IN ('queued','running')), ?1)) ORDER BY queued_at", (ended_since,))
        return [row_of(row) for row in rows]

    def recover(self) -> None:
        """Jobs whose process on this machine is gone: a running one was interrupted (as its run), a waiting one
        kept by a foreground `dermalab run` will never start."""
        gone = [row for row in self.store.execute("SELECT job_id, status, worker_pid, epoch FROM jobs WHERE status IN"
                                                  " ('queued','running') AND host=?", (socket.gethostname(),))
                if not process_alive(row["worker_pid"])]
        for row in gone:
            self.settle(row["job_id"], "interrupted" if row["status"] == "running" else "cancelled", ENDED_EARLY)
            if row["status"] == "running":  # its run, if it began, cannot still be running either
                self.store.fail(RunFailed(row["job_id"], "interrupted", ENDED_EARLY, row["epoch"] or 1))


def job_of(row: Any) -> Job:
    return Job(row["job_id"], row["experiment_id"], row["name"], row["seed"], row["data"], row["experiments"],
               json.loads(row["options"]))


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
    return [Job.new(experiment.id, experiment.spec.name, seed, data, experiments_file, kept)
            for experiment in experiments for seed in seeds]


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(f"{store_path.name}.worker")


class WorkerLock:
    """The one worker serving a store from this machine holds an exclusive flock on a file beside the store (the
    kernel frees it however the worker ends); the file holds the worker's pid and host, for those who look."""

    def __init__(self, store_path: Path):
        self.path = lock_path(store_path)
        self.fd: int | None = None

    def acquire(self, tries: int = LOCK_TRIES) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(tries):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.05 if attempt + 1 < tries else 0)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
            self.fd = fd
            return True
        os.close(fd)
        return False

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def serving(store_path: Path) -> int | None:
    """The pid of the worker serving this store from this machine, or None when there is none."""
    path = lock_path(store_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # held: a worker lives
        words = path.read_text().split()
        return int(words[0]) if words and words[0].isdigit() else -1
    finally:
        os.close(fd)  # also frees the shared lock, at once, if we got it
    return None


def eta_seconds(job: dict[str, Any], now: float) -> float | None:
    """Seconds until a running job's run ends, at the pace of its run so far (evaluations included)."""
    if not (job["started_at"] and job["beat_at"] and job["epochs"] and job["batches"]):
        return None
    done = ((job["epoch"] - 1) * job["batches"] + job["batch"]) / (job["epochs"] * job["batches"])
    if done <= 0:
        return None
    return max(0.0, (job["beat_at"] - job["started_at"]) * (1 - done) / done - (now - job["beat_at"]))
