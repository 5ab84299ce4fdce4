"""The store's queue: each job with its status and progress, its AUC once done, or why it ended early."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.experiments.spec import Experiment
from engine.status import Status
from tui.app.lab import STATUS_WORDS
from tui.text import numbers

# anything else failed: ✗
STATUS_SYMBOLS = {Status.QUEUED: "·", Status.RUNNING: "▶", Status.FINISHED: "✓", Status.CANCELLED: "■"}


class QueueList(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("Queue: empty.", id="queue-text", markup=False)

    def show(self, jobs: list[dict[str, Any]], experiments: dict[int, Experiment], runs: list[dict[str, Any]]) -> None:
        """`runs`: the stored rows of the jobs that finished."""
        auc = {run["run_id"]: run["auc"] for run in runs}
        waiting = sum(job["status"] == Status.QUEUED for job in jobs)
        running = sum(job["status"] == Status.RUNNING for job in jobs)
        lines = [f"Queue: {running} running, {waiting} waiting" + (f", {len(jobs) - running - waiting} ended" if
                                                                   len(jobs) > running + waiting else "")]
        for job in jobs:
            experiment = experiments.get(job["experiment_id"])
            name = experiment.spec.name if experiment else job["name"]
            status = STATUS_WORDS.get(job["status"], job["status"])
            symbol = STATUS_SYMBOLS.get(job["status"], "✗")
            lines.append(f" {symbol} #{job['experiment_id']} {name} · seed {job['seed']} · {status}"
                         + "".join(f" · {part}" for part in details(job, auc) if part))
        self.query_one("#queue-text", Static).update("\n".join(lines))


def details(job: dict[str, Any], auc: dict[str, float | None]) -> list[str]:
    if job["status"] == Status.FINISHED:
        return [f"AUC {numbers.auc(auc.get(job['job_id']))}"]
    if job["status"] == Status.RUNNING:
        cancelling = "cancelling" if job["cancel_requested"] else ""
        return [f"epoch {job['epoch']}/{job['epochs']}" if job["epochs"] else "starting", job["slot"], cancelling]
    return [job["reason"] or ""]
