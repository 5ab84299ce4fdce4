"""Trains jobs in this process: each run's events go to the store first (the run's row, and its job's heartbeat),
then to the caller. A cancel asked for through the queue stops the run between two batches, and the queue goes on."""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from engine.errors import RunCancelled, UserError, said
from engine.events import (
    BatchProgress,
    DataProgress,
    EpochEnded,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
)
from engine.experiments.spec import Experiment, config_hash
from engine.experiments.sweeps import at_point
from engine.jobs import halving
from engine.jobs.queue import CANCELLED, Job, JobQueue, cancel_reason
from engine.status import Status
from engine.store.runs import Planned, Store, StoreUnwritable
from engine.training import checkpoint
from engine.training.data import Dataset
from engine.training.device import run_precision
from engine.training.fetch import Progress
from engine.training.options import RunOptions, run_config
from engine.training.train import train

Sink = Callable[[Event], None]
BEAT_SECONDS = 0.5  # at most two heartbeats a second: live enough for bars, and a cancel lands within a second


class CancelSwitch:
    """Raises RunCancelled once, for whichever asks first (the heartbeat or a signal); later asks do nothing, so
    storing the run as cancelled is never cut short by a second ask."""

    def __init__(self) -> None:
        self.tripped = False

    def trip(self, reason: str = CANCELLED) -> None:
        if not self.tripped:
            self.tripped = True
            raise RunCancelled(reason)


class Heartbeat:
    """A sink that writes a job's progress into its row, at most every BEAT_SECONDS, and trips the switch once
    the row says a cancel was asked for."""

    def __init__(self, queue: JobQueue, switch: CancelSwitch):
        self.queue, self.switch = queue, switch
        self.last = 0.0

    def __call__(self, event: Event) -> None:
        now = time.monotonic()
        if isinstance(event, RunStarted):
            cancel = self.queue.started(event)
        elif isinstance(event, BatchProgress) and (now - self.last >= BEAT_SECONDS or event.batch == event.batches):
            cancel = self.queue.beat(event)
        else:
            return
        self.last = now
        if cancel:
            self.switch.trip()


def preflight(experiments: Iterable[Experiment], options: RunOptions, sink: Sink) -> None:
    """Fetch, or fail before anything runs, what the runs need beside the data (today: the ResNet18 weights)."""
    if options.pretrained and any(experiment.spec.model.pretrained for experiment in experiments):
        from torchvision.models import ResNet18_Weights

        from engine.training.models import imagenet_state_dict

        imagenet_state_dict(ResNet18_Weights.IMAGENET1K_V1, progress_to(sink, "ResNet18 weights"))


def progress_to(sink: Sink, what: str) -> Progress:
    """A download's (done, total) callbacks as DataProgress events for `sink`."""
    return lambda done, total: sink(DataProgress(what, done, total))


def run_kept(queue: JobQueue, experiments: dict[int, Experiment], dataset: Dataset, store: Store,
             sink: Sink) -> list[Event]:
    """Trains the jobs this process queued for itself (`JobQueue.add(keep=True)`) one after another and returns
    each run's last event. Ctrl-C stores the current run as cancelled and propagates, and so does StoreUnwritable
    (no later run could be saved); either way the jobs left end with it."""
    outcomes = []
    try:
        while (job := queue.claim("this process", kept=True)) is not None:
            experiment = at_point(experiments[job.experiment_id], job.point, job.experiments)
            outcomes.append(run_job(job, experiment, dataset, store, queue, sink, CancelSwitch()))
    except KeyboardInterrupt:
        queue.end_own(Status.CANCELLED, CANCELLED)
        raise
    except StoreUnwritable as error:
        with contextlib.suppress(StoreUnwritable):  # it may take this small update still
            queue.end_own(Status.FAILED, str(error))
        raise
    return outcomes


def run_job(job: Job, experiment: Experiment, dataset: Dataset, store: Store, queue: JobQueue, sink: Sink,
            switch: CancelSwitch) -> Event:
    """One claimed job: its run, its heartbeat, and its row settled with how the run ended."""
    heartbeat = Heartbeat(queue, switch)

    def both(event: Event) -> None:
        heartbeat(event)
        sink(event)

    outcome = run_one(job.job_id, experiment, dataset, RunOptions(seed=job.seed, **job.options), store, both,
                      checkpoint.path_for(store.path, job.job_id))
    queue.settle(job.job_id, *status_of(outcome))
    return outcome


def status_of(outcome: Event) -> tuple[Status, str]:
    return (Status(outcome.status), outcome.reason) if isinstance(outcome, RunFailed) else (Status.FINISHED, "")


def run_one(run_id: str, experiment: Experiment, dataset: Dataset, options: RunOptions, store: Store,
            sink: Sink, saved_at: Path | None = None, judge: halving.Judge | None = None) -> Event:
    """The run trained and stored; with `saved_at`, it keeps a checkpoint there while it trains (going on from one
    found there), which goes once the run has ended: only a run whose process died keeps it, to be resumed. `judge`
    decides where halving stops it, in place of the store's rivals (a cluster task's: its rivals are at home)."""
    try:
        return stored_run(run_id, experiment, dataset, options, store, sink, saved_at, judge)
    finally:  # Ctrl-C included (stored as cancelled); a store that took no write leaves the run to resume
        if saved_at is not None and store.ended(run_id):
            checkpoint.remove(saved_at)


def stored_run(run_id: str, experiment: Experiment, dataset: Dataset, options: RunOptions, store: Store,
               sink: Sink, saved_at: Path | None, judge: halving.Judge | None) -> Event:
    options = replace(options, precision=run_precision(options))  # auto becomes what the run uses, as stored
    spec = experiment.spec
    config = run_config(experiment, options)
    state = {"started": False, "epoch": 0}

    def record(event: Event) -> None:
        if isinstance(event, RunStarted):
            if event.resumed_after and store.exists(run_id):  # not in a cluster task's fresh store
                store.resume(event)
            else:
                store.start(event, spec.chapter, config, dataset.synthetic, dataset.fingerprint)
            state["started"] = True
        elif isinstance(event, EpochEnded):
            store.epoch(event)
            state["epoch"] = event.epoch
        elif isinstance(event, RunFinished):
            store.finish(event, dataset.labels["val"].tolist())
        elif isinstance(event, RunFailed):
            store.fail(event)
        sink(event)

    def stop(status: Status, reason: str, epoch: int | None = None) -> RunFailed:
        """The run's end when training stopped early, in the epoch under way unless `epoch` says which; a run
        stopped before it started is stored as never started."""
        failed = RunFailed(run_id, status, reason, state["epoch"] + 1 if epoch is None else epoch)
        store.fail(failed, None if state["started"] else Planned(run_id, spec.id, spec.name, spec.chapter, options.seed,
                                                                 dataset.source, config, dataset.synthetic))
        sink(failed)
        return failed

    if judge is None and options.halving:
        judge = halving.judge(store, experiment, config_hash(config), dataset.fingerprint)
    last: Event | None = None
    try:
        with contextlib.closing(train(spec, dataset, options, run_id, saved_at)) as events:
            for event in events:
                record(event)
                last = event
                if judge is not None and isinstance(event, EpochEnded) and (reason := judge(event)):
                    return stop(Status.STOPPED, reason, event.epoch)
    except RunCancelled as cancel:
        return stop(Status.CANCELLED, cancel_reason(cancel))
    except KeyboardInterrupt:
        stop(Status.CANCELLED, CANCELLED)
        raise
    except StoreUnwritable as error:
        # No later run could be saved either, so the queue stops and the caller says why; the run's own row is
        # marked failed if the store still takes that small update (else the next open marks it interrupted).
        with contextlib.suppress(StoreUnwritable):
            store.fail(RunFailed(run_id, Status.FAILED, str(error), state["epoch"] + 1))
        raise
    except UserError as error:
        return stop(Status.FAILED, str(error))
    except Exception as error:  # a crash in one run (CUDA out of memory included) must not end the queue
        if options.debug:
            traceback.print_exc()
        return stop(Status.FAILED, said(error))
    assert last is not None
    return last
