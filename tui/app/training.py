"""The app's side of training: a thread that follows the store's queue and runs through one long-lived connection
of its own and posts what changed, whoever started the runs (this app, another app, `dermalab run` in another
terminal, the worker). The app never trains, nor imports torch: the worker does (engine.jobs.worker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.message import Message

from engine.jobs import cluster
from engine.jobs.queue import JobQueue
from engine.store.runs import Store
from tui.app.lab import LiveRun, Overview, StoreSnapshot, followed_job
from tui.app.messages import ResultsSkipped, StoreChanged

POLL_SECONDS = 0.25  # heartbeats come at most twice a second; a cancel from another viewer shows well within 2 s
# how often a cluster's results are looked for: Slurm's accounting is not to be asked 4 times a second
SYNC_SECONDS = 10.0


class StoreFeed:
    """Runs in a thread worker: reads the queue every POLL_SECONDS, the followed job's epochs when they may have
    grown, and the runs' overview only when a job started or ended; posts a StoreChanged when anything differs."""

    def __init__(self, opened_at: float, post: Callable[[Message], object], chosen: Callable[[], str | None]):
        self.opened_at, self.post, self.chosen = opened_at, post, chosen
        self.last: StoreSnapshot | None = None
        self.runs_key: Any = None
        self.history_key: Any = None
        self.history: list[dict[str, Any]] = []
        self.synced_at = -SYNC_SECONDS
        self.skipped_said: set[str] = set()  # the sync repeats them at each look: the app says each once

    def follow(self, cancelled: Callable[[], bool]) -> None:
        store = Store()  # opened here: a connection belongs to the thread that made it
        try:
            queue = JobQueue(store)
            while not cancelled():
                self._read(store, queue)
                time.sleep(POLL_SECONDS)
        finally:
            store.close()

    def _read(self, store: Store, queue: JobQueue) -> None:
        read_at = time.monotonic()
        if read_at - self.synced_at >= SYNC_SECONDS:
            self.synced_at = read_at
            skipped = cluster.sync(queue.store, queue).skipped.values()
            if fresh := [sentence for sentence in skipped if sentence not in self.skipped_said]:
                self.skipped_said.update(fresh)
                self.post(ResultsSkipped(fresh))
        queue.recover()
        jobs = queue.current(self.opened_at)
        followed = followed_job(jobs, self.chosen())
        runs_key = [(job["job_id"], job["status"], job["started_at"]) for job in jobs]
        overview = Overview.read(store) if runs_key != self.runs_key else None
        self.runs_key = runs_key
        live = LiveRun(followed, self._history(store, followed)) if followed else None
        snapshot = StoreSnapshot(read_at, jobs, live, overview)
        if self.last is None or overview is not None or (jobs, live) != (self.last.jobs, self.last.live):
            self.post(StoreChanged(snapshot))
        self.last = snapshot

    def _history(self, store: Store, job: dict[str, Any]) -> list[dict[str, Any]]:
        """A run's epochs are stored as they end, so they can have grown only when its heartbeat's epoch moved
        on or it ended."""
        key = (job["job_id"], job["epoch"], job["status"], job["started_at"] is not None)
        if key != self.history_key:
            self.history, self.history_key = store.history(job["job_id"]), key
        return self.history

