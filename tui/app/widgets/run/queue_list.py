"""The store's queue: each job with its status and progress, its AUC once done, or why it ended early. Running and
waiting jobs come first, in the order they run; the jobs that ended are folded below them in one line with their
count (unfolded, newest first, once nothing is left to run, or with enter on that line). The job under the cursor
is the one the run view shows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from engine.experiments.spec import Experiment
from engine.status import ACTIVE, Status
from tui.app import progress
from tui.app.lab import STATUS_WORDS
from tui.text import numbers

# anything else failed: ✗
STATUS_SYMBOLS = {Status.QUEUED: "·", Status.RUNNING: "▶", Status.FINISHED: "✓", Status.CANCELLED: "■",
                  Status.STOPPED: "½"}  # stopped by halving: no failure
FOLD = "ended"  # the option id of the line that folds the ended jobs


class QueueList(Vertical):
    def __init__(self) -> None:
        super().__init__()
        self.unfolded: bool | None = None  # as the user left the ended jobs; None: folded while any job is active

    def compose(self) -> ComposeResult:
        yield Static("Queue: empty.", id="queue-summary", markup=False)
        yield OptionList(id="queue-jobs")

    def show(self, jobs: list[dict[str, Any]], experiments: dict[int, Experiment], runs: list[dict[str, Any]],
             followed: str | None) -> None:
        """`runs`: the stored rows of the jobs that finished; `followed`: the job the run view shows."""
        auc = {run["run_id"]: run["auc"] for run in runs}
        running, waiting, ended = split(jobs)
        words = [f"{len(running)} running", f"{len(waiting)} waiting"] + ([f"{len(ended)} ended"] if ended else [])
        summary, text = self.query_one("#queue-summary", Static), "Queue: " + ", ".join(words)
        if summary.content != text:  # the queue is read twice a second: one line of fixed height, changed seldom
            summary.update(text, layout=False)
        options = [Option(row(job, experiments, auc), id=job["job_id"]) for job in running + waiting]
        if ended:
            unfolded = self.is_unfolded(bool(running or waiting))
            options.append(Option(fold_line(ended, unfolded), id=FOLD))
            if unfolded:
                options += [Option(row(job, experiments, auc), id=job["job_id"]) for job in ended]
        self._set(options, followed)

    def is_unfolded(self, active: bool) -> bool:
        return not active if self.unfolded is None else self.unfolded

    def _set(self, options: list[Option], followed: str | None) -> None:
        """The rows are rewritten in place while the same jobs are listed, so the cursor stays put; the cursor
        moves to the job shown, which is no move of the user's (the run view follows those)."""
        jobs = self.query_one("#queue-jobs", OptionList)
        ids = [option.id for option in options]
        with jobs.prevent(OptionList.OptionHighlighted):
            if ids != [option.id for option in jobs.options]:
                jobs.set_options(options)
            else:  # each replacement renders the list again: only the rows that changed (a running job's)
                for option, before in zip(options, jobs.options):
                    if str(option.prompt) != str(before.prompt):
                        jobs.replace_option_prompt(option.id or "", option.prompt)
            if followed in ids and jobs.highlighted != ids.index(followed):
                jobs.highlighted = ids.index(followed)

    def toggle_fold(self, active: bool) -> None:
        self.unfolded = not self.is_unfolded(active)


def split(jobs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Running and waiting jobs in the queue's order, and the ended ones newest first."""
    ended = sorted((job for job in jobs if job["status"] not in ACTIVE), key=lambda job: -(job["ended_at"] or 0.0))
    return ([job for job in jobs if job["status"] == Status.RUNNING],
            [job for job in jobs if job["status"] == Status.QUEUED], ended)


def in_order(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The jobs as the queue lists them, top to bottom, folded or not: what tab steps through."""
    running, waiting, ended = split(jobs)
    return running + waiting + ended


def fold_line(ended: list[dict[str, Any]], unfolded: bool) -> Text:
    counts = Counter(STATUS_WORDS.get(job["status"], job["status"]) for job in ended)
    words = ", ".join(f"{count} {status}" for status, count in counts.most_common())
    return Text(f"▾ {numbers.plural(len(ended), 'job')} ended ({words}), newest first · enter folds them" if unfolded
                else f"▸ {numbers.plural(len(ended), 'job')} ended ({words}) · enter shows them")


def row(job: dict[str, Any], experiments: dict[int, Experiment], auc: dict[str, float | None]) -> Text:
    experiment = experiments.get(job["experiment_id"])
    name = experiment.spec.name if experiment else job["name"]
    status = STATUS_WORDS.get(job["status"], job["status"])
    symbol = STATUS_SYMBOLS.get(job["status"], "✗")
    return Text(f"{symbol} #{job['experiment_id']} {name} · seed {job['seed']} · {status}"  # names are text, not markup
                + "".join(f" · {part}" for part in details(job, auc) if part))


def details(job: dict[str, Any], auc: dict[str, float | None]) -> list[str]:
    if job["status"] == Status.FINISHED:
        return [f"AUC {numbers.auc(auc.get(job['job_id']))}"]
    if job["status"] == Status.RUNNING:
        cancelling = "cancelling" if job["cancel_requested"] else ""
        going = f"{progress.epoch_words(job)} {progress.percent(job)}" if job["epochs"] else "starting"
        return [going, job["slot"], cancelling]
    return [job["reason"] or ""]
