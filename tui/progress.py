"""Headless consumers of the engine's events: rich progress bars, JSON results, and the worker's log."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.events import BatchProgress, DataProgress, EpochEnded, Event, RunFailed, RunFinished, RunStarted


class HeadlessProgress:
    """Bars for the queue, the epochs and the batches of the current run, with ETA, on stderr."""

    def __init__(self, runs: int):
        self.console = Console(stderr=True)
        # markup=False: the labels hold experiment names from the experiments file, which are text.
        self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[info]}", markup=False),
                                 console=self.console,
                                 # bars only on a terminal: in a pipe or a log they leave blank lines behind
                                 transient=True, disable=not self.console.is_terminal)
        self.queue = self.progress.add_task("runs", total=runs, info="")
        self.epochs = self.progress.add_task("epoch", total=None, info="", visible=False)
        self.batches = self.progress.add_task("batch", total=None, info="", visible=False)
        self.downloads: dict[str, Any] = {}  # what -> its bar
        self.started: dict[str, RunStarted] = {}

    def __enter__(self) -> "HeadlessProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        if isinstance(event, DataProgress):
            if event.what not in self.downloads:
                self.downloads[event.what] = self.progress.add_task(f"download {event.what}", total=event.total or None,
                                                                    info="")
            self.progress.update(self.downloads[event.what], completed=event.done, info=f"{event.done / 1e6:.1f} MB")
        elif isinstance(event, RunStarted):
            self.started[event.run_id] = event
            label = f"[{event.experiment_id}] {event.name} · seed {event.seed}"
            self.progress.update(self.queue, info=label)
            self.progress.reset(self.epochs, total=event.epochs, visible=True, info=f"{event.device} · {event.data}")
            self.progress.reset(self.batches, total=event.batches, visible=True)
        elif isinstance(event, BatchProgress):
            self.progress.update(self.batches, completed=event.batch,
                                 info=f"loss {event.loss:.3f} · {event.images_per_second:,.0f} img/s")
        elif isinstance(event, EpochEnded):
            self.progress.update(self.epochs, completed=event.epoch,
                                 info=f"val loss {event.val_loss:.3f} · val AUC {event.val_auc:.3f}")
        elif isinstance(event, (RunFinished, RunFailed)):
            self.progress.advance(self.queue)
            self.console.print(outcome_line(self.started.get(event.run_id), event), markup=False)


def outcome_line(started: RunStarted | None, event: RunFinished | RunFailed) -> str:
    label = f"[{started.experiment_id}] {started.name} seed {started.seed}" if started else event.run_id
    if isinstance(event, RunFailed):
        return f"{label}: {event.status} at epoch {event.epoch}: {event.reason}"
    m = event.metrics
    return (f"{label}: AUC {m['auc']:.3f} · mel recall {m['mel_recall']:.0%} · cancer sens "
            f"{m['cancer_sensitivity']:.0%} · acc {m['accuracy']:.1%} · {m['train_seconds']:.1f} s")


class JsonResults:
    """One JSON object per finished (or failed) run on stdout; the bars still go to stderr."""

    def __init__(self, bars: HeadlessProgress):
        self.bars = bars

    def __enter__(self) -> "JsonResults":
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bars.__exit__(*exc)

    def __call__(self, event: Event) -> None:
        self.bars(event)
        if isinstance(event, (RunFinished, RunFailed)):
            started = self.bars.started[event.run_id]
            print(json.dumps(result_json(started, event)), flush=True)


def result_json(started: RunStarted, event: RunFinished | RunFailed) -> dict[str, Any]:
    metrics = event.metrics if isinstance(event, RunFinished) else {}
    keys = ("auc", "accuracy", "mel_recall", "cancer_sensitivity", "balanced_accuracy", "recall", "params",
            "train_seconds", "images_per_second")
    return {"run_id": event.run_id, "id": started.experiment_id, "name": started.name, "seed": started.seed,
            "device": started.device, "data": started.data,
            "status": "finished" if isinstance(event, RunFinished) else event.status,
            **{key: metrics.get(key) for key in keys}}


class WorkerLog:
    """The worker's log (its output, a file): a line for what the worker does, and for each run's start and end.
    A foreground `run --jobs N` writes the same lines on stderr, and with --json each result on stdout too."""

    def __init__(self, stream: TextIO | None = None, json_results: bool = False):
        self.stream, self.json_results = stream, json_results

    def say(self, line: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", file=self.stream or sys.stdout, flush=True)

    def sink(self) -> Callable[[Event], None]:
        """A sink for one child's run."""
        started: dict[str, RunStarted] = {}

        def log(event: Event) -> None:
            if isinstance(event, RunStarted):
                started[event.run_id] = event
                self.say(f"[{event.experiment_id}] {event.name} seed {event.seed} started as run {event.run_id}: "
                         f"{event.device} · {event.data} · {event.epochs} epochs")
            elif isinstance(event, (RunFinished, RunFailed)):
                self.say(outcome_line(started.get(event.run_id), event))
                if self.json_results and event.run_id in started:
                    print(json.dumps(result_json(started[event.run_id], event)), flush=True)

        return log
