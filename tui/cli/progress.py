"""Headless consumers of the engine's events: rich progress bars, JSON results, and the worker's log."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column

from engine.events import (
    BatchProgress,
    DataProgress,
    EpochEnded,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
)
from engine.experiments.spec import Experiment
from engine.store import summary
from engine.store.runs import Store
from tui.text import numbers
from tui.text.measures import of_set
from tui.text.tables import dumps, machine


class HeadlessProgress:
    """Bars for the queue, the epochs and the batches of the current run, with ETA, on stderr."""

    def __init__(self, runs: int):
        self.console = Console(stderr=True)
        # The counts and times keep their width; the text after them takes what is left of the line and is cut
        # short at its edge rather than wrapped into a second, misaligned line. markup=False: the labels hold
        # experiment names from the experiments file, which are text.
        info = Column(no_wrap=True, overflow="ellipsis", ratio=1)
        self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(bar_width=20),
                                 MofNCompleteColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[info]}", markup=False, table_column=info),
                                 console=self.console, expand=True,
                                 # bars only on a terminal: in a pipe or a log they leave blank lines behind
                                 transient=True, disable=not self.console.is_terminal,
                                 # rich would send stdout to the bars' console, stderr, wrapped at its width:
                                 # `run --json > file` would leave the file empty (print_out writes it instead)
                                 redirect_stdout=False, redirect_stderr=False)
        self.queue = self.progress.add_task("runs", total=runs, info="")
        self.epochs = self.progress.add_task("epoch", total=None, info="", visible=False)
        self.batches = self.progress.add_task("batch", total=None, info="", visible=False)
        self.downloads: dict[str, Any] = {}  # what -> its bar
        self.started: dict[str, RunStarted] = {}

    def __enter__(self) -> HeadlessProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def print_out(self, line: str) -> None:
        """A line on stdout, whole. Where stdout is a terminal too, the bars step aside for it: written under them,
        it would be drawn over at their next refresh."""
        if not (self.progress.live.is_started and sys.stdout.isatty()):
            print_now(line)
            return
        self.progress.stop()  # transient: the bars are cleared, and drawn again below the line
        print_now(line)
        self.progress.start()

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
            # One line in a log; on a terminal, folded between two fields, never inside one.
            width = self.console.width if self.console.is_terminal else None
            self.console.print(fold(outcome_fields(self.started.get(event.run_id), event), width), markup=False,
                               highlight=False, soft_wrap=True)


def outcome_fields(started: RunStarted | None, event: RunFinished | RunFailed) -> list[str]:
    """'[8] BatchNorm seed 0:', then each figure of the run, or what stopped it."""
    label = f"[{started.experiment_id}] {started.name} seed {started.seed}:" if started else f"{event.run_id}:"
    if isinstance(event, RunFailed):
        return [label, f"{event.status} at epoch {event.epoch}: {event.reason}"]
    m, measures = event.metrics, of_set(started.dataset if started else None)  # a set's critical classes' titles
    return [label, *(f"{measures[key].header} {numbers.auc(m[key]) if key == 'auc' else numbers.percent(m[key])}"
                     for key in ("auc", "mel_recall", "cancer_sensitivity", "accuracy") if key in measures),
            f"{numbers.seconds(m['train_seconds'])} training"]


def fold(fields: list[str], width: int | None) -> str:
    """The label and the fields after it, joined by ' · ' and broken between two fields where a line would pass
    `width`; the lines after the first are indented."""
    line, lines = fields[0], []
    for index, field in enumerate(fields[1:]):
        piece = f" {field}" if index == 0 else f" · {field}"
        if width and len(line) + len(piece) > width and line.strip():
            lines.append(line)
            line = f"  {field}"
        else:
            line += piece
    return "\n".join([*lines, line])


class JsonResults:
    """Each run as one JSON object on stdout once it has ended, read back from the store so that it is the very
    row `results --format json` gives; the bars still go to stderr."""

    def __init__(self, bars: HeadlessProgress, store: Store, experiments: dict[int, Experiment]):
        self.bars, self.show = bars, StoredRowPrinter(store, experiments, bars.print_out)

    def __enter__(self) -> JsonResults:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bars.__exit__(*exc)

    def __call__(self, event: Event) -> None:
        self.bars(event)
        if isinstance(event, (RunFinished, RunFailed)):
            self.show(event.run_id)


def print_now(line: str) -> None:
    """A line on stdout, flushed: a script reading it sees each result as its run ends, not at exit."""
    print(line, flush=True)


class StoredRowPrinter:
    """Prints an ended run's stored row on stdout as one JSON line: the very row `results --format json` gives
    (the store has it before the event reaches a sink), and whether this command took it from an earlier run
    (`reused`, a seed that had finished) instead of training it."""

    def __init__(self, store: Store, experiments: dict[int, Experiment],
                 print_out: Callable[[str], None] = print_now):
        self.store, self.experiments, self.print_out = store, experiments, print_out

    def __call__(self, run_id: str, reused: bool = False) -> None:
        [row] = summary.run_rows(self.store.summaries([run_id]), self.experiments)
        self.print_out(dumps({**machine(row), "reused": reused}, indent=None))

    def __reduce__(self) -> tuple[Any, ...]:
        """A class, not a closure, so that a spawned job's child (engine.jobs.start) gets one, on its own connection
        to the same store."""
        return printer_on, (self.store.path, self.experiments, self.print_out)


def printer_on(path: Path, experiments: dict[int, Experiment], print_out: Callable[[str], None]) -> StoredRowPrinter:
    return StoredRowPrinter(Store(path), experiments, print_out)


class WorkerLog:
    """The worker's log (its output, a file): a line for what the worker does, and for each run's start and end.
    A foreground `run --jobs N` writes the same lines on stderr, and with --json each result on stdout too
    (`json_results`, e.g. StoredRowPrinter). The stream is named, not held, so that the log pickles for a spawned
    job's child (engine.jobs.start), which writes to the same stream it inherited."""

    def __init__(self, stream: Literal["stdout", "stderr"] = "stdout",
                 json_results: Callable[[str], None] | None = None):
        self.stream, self.json_results = stream, json_results

    def say(self, line: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", file=getattr(sys, self.stream), flush=True)

    def sink(self) -> Callable[[Event], None]:
        """A sink for one child's run."""
        started: dict[str, RunStarted] = {}

        def log(event: Event) -> None:
            if isinstance(event, RunStarted):
                started[event.run_id] = event
                self.say(f"[{event.experiment_id}] {event.name} seed {event.seed} started as run {event.run_id}: "
                         f"{event.device} · {event.data} · {event.epochs} epochs")
            elif isinstance(event, (RunFinished, RunFailed)):
                self.say(fold(outcome_fields(started.get(event.run_id), event), None))
                if self.json_results and event.run_id in started:
                    self.json_results(event.run_id)

        return log
