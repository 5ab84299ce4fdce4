"""Whether an interrupted run can go on from its checkpoint: asked the same way by `dermalab run --resume` and the
app's run detail, which both then hand its job back to the queue."""

from __future__ import annotations

from typing import Any

from engine.errors import UserError
from engine.jobs.queue import Job, JobQueue
from engine.status import Status
from engine.store.runs import Store
from engine.training import checkpoint  # its module imports torch only to read or write one


def has_checkpoint(store: Store, run_id: str) -> bool:
    return checkpoint.path_for(store.path, run_id).exists()


def resumable_job(store: Store, run: dict[str, Any]) -> Job:
    """The job the run goes on as. Only a run whose process died goes on, and only from a checkpoint (one per
    finished epoch but the last); any other is one sentence saying how to train it afresh."""
    label = f"Run {run['run_id']} ([{run['experiment_id']}] {run['name']} seed {run['seed']})"
    again = f"'dermalab run {run['experiment_id']} --seed {run['seed']}' trains it afresh"
    if run["status"] != Status.INTERRUPTED:
        raise UserError(f"{label} is {run['status']}; only an interrupted run can be resumed ({again}).")
    job = JobQueue(store).job(run["run_id"])
    if job is None or not has_checkpoint(store, run["run_id"]):
        raise UserError(f"{label} has no checkpoint to go on from (it stopped before its first epoch ended, or its "
                        f"checkpoint was pruned); {again}.")
    return job
