"""Waiting on jobs from outside the process that trains them: until cancelled jobs have stopped, and following a
cluster's tasks to their end. The command line only says what it sees."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from engine.errors import UserError
from engine.jobs import cluster
from engine.jobs.queue import CLUSTERS, JobQueue
from engine.status import ACTIVE, Status
from engine.store.runs import Store

CANCEL_WAIT_SECONDS = 15  # a running job stops at its next heartbeat, a child still starting on the worker's SIGINT
POLL_SECONDS = 0.1  # how soon a cancelled job's end is seen
TASK_POLL_SECONDS = 1.0  # a cluster task's heartbeat reaches us every few seconds, through a file: no need for more

Row = dict[str, Any]


def cancel(queue: JobQueue, jobs: list[Row], wait: float = CANCEL_WAIT_SECONDS) -> list[Row]:
    """Cancel these jobs (a cluster's tasks through its scheduler, the others through the queue's flag, which
    their worker or `dermalab run` obeys) and wait up to `wait` seconds for them to stop; returns each job's row
    as it stands then, in the same order. A job that has ended already is a UserError, before anything is asked."""
    for job in jobs:
        if job["status"] not in ACTIVE:
            raise UserError(f"Job {job['job_id']} (#{job['experiment_id']} seed {job['seed']}) has already ended "
                            f"({job['status']}); nothing to cancel.")
    submitted = [job for job in jobs if job["executor"] in CLUSTERS]
    if submitted:
        cluster.cancel(queue.store, submitted)
    queue.cancel([job["job_id"] for job in jobs if job["executor"] not in CLUSTERS])
    deadline = time.monotonic() + wait
    while any(current(queue, job["job_id"])["status"] in ACTIVE for job in jobs) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        queue.recover()
    return [current(queue, job["job_id"]) for job in jobs]


def follow_tasks(store: Store, job_ids: list[str], on_change: Callable[[Row, Row | None], None],
                 on_skipped: Callable[[str], None]) -> bool:
    """Follow submitted jobs until every one has ended, or left a result file that cannot be taken (said once, to
    `on_skipped`: it waits on the user now, not on its task). `on_change` gets a job's row whenever it changes
    state, starts an epoch or ends (with its stored run, once it ended: None before). Returns whether all finished.
    Ctrl-C cancels the tasks still waiting or running, then goes on up."""
    queue = JobQueue(store)
    seen: dict[str, tuple[Any, ...]] = {}
    skipped: dict[str, str] = {}
    try:
        while True:
            for job_id, sentence in cluster.sync(store).skipped.items():
                if job_id in job_ids and job_id not in skipped:
                    skipped[job_id] = sentence
                    on_skipped(sentence)
            jobs = [current(queue, job_id) for job_id in job_ids]
            for job in jobs:
                state = (job["status"], job["phase"], job["epoch"], job["epochs"], job["reason"])
                if seen.get(job["job_id"]) != state:  # an ended job's state never changes again: said once
                    seen[job["job_id"]] = state
                    on_change(job, store.get(job["job_id"]) if job["status"] not in ACTIVE else None)
            if all(job["status"] not in ACTIVE or job["job_id"] in skipped for job in jobs):
                return all(job["status"] == Status.FINISHED for job in jobs)
            time.sleep(TASK_POLL_SECONDS)
    except KeyboardInterrupt:
        cluster.cancel(store, [job for job_id in job_ids if (job := current(queue, job_id))["status"] in ACTIVE])
        raise


def current(queue: JobQueue, job_id: str) -> Row:
    """A job's row as it stands now: one found once is there still, as nothing deletes jobs."""
    row = queue.get(job_id)
    if row is None:
        raise LookupError(f"job {job_id} left the queue")
    return row
