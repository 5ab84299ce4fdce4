"""This session's queue: each job with its status, its AUC once done, or the reason it failed."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.experiments import Experiment
from tui import numbers
from tui.lab import STATUS_WORDS, Job

STATUS_SYMBOLS = {"queued": "·", "running": "▶", "finished": "✓", "cancelled": "■"}  # anything else failed: ✗


class QueueList(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("Queue: empty.", id="queue-text", markup=False)

    def show(self, jobs: list[Job], experiments: dict[int, Experiment], runs: list[dict[str, Any]]) -> None:
        auc = {run["run_id"]: run["auc"] for run in runs}
        lines = [f"Queue: {sum(job.status == 'queued' for job in jobs)} waiting, {len(jobs)} this session"]
        for job in jobs:
            name = experiments[job.experiment_id].spec.name
            detail = f"AUC {numbers.auc(auc.get(job.run_id))}" if job.status == "finished" else job.reason
            status = STATUS_WORDS.get(job.status, job.status)
            lines.append(f" {STATUS_SYMBOLS.get(job.status, '✗')} #{job.experiment_id} {name} · seed {job.seed} · {status}"
                         + (f" · {detail}" if detail else ""))
        self.query_one("#queue-text", Static).update("\n".join(lines))
