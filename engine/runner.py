"""Runs a queue of (experiment, seed) jobs: each run's events go to the store first, then to the caller."""

from __future__ import annotations

import contextlib
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from engine.data import Dataset
from engine.errors import UserError
from engine.events import DataProgress, EpochEnded, Event, RunFailed, RunFinished, RunStarted
from engine.experiments import Experiment
from engine.fetch import Progress
from engine.store import Store, StoreUnwritable
from engine.train import RunOptions, train

Sink = Callable[[Event], None]


@dataclass(frozen=True)
class Job:
    experiment: Experiment
    seed: int


def jobs(experiments: Iterable[Experiment], seeds: Iterable[int]) -> list[Job]:
    """Experiments in the order given, every seed of one experiment before the next."""
    seeds = list(seeds)
    return [Job(experiment, seed) for experiment in experiments for seed in seeds]


def preflight(queue: list[Job], options: RunOptions, sink: Sink) -> None:
    """Fetch, or fail before anything runs, what the queue needs beside the data (today: the ResNet18 weights)."""
    if options.pretrained and any(job.experiment.spec.model.pretrained for job in queue):
        from torchvision.models import ResNet18_Weights

        from engine.models import imagenet_state_dict

        imagenet_state_dict(ResNet18_Weights.IMAGENET1K_V1, progress_to(sink, "ResNet18 weights"))


def progress_to(sink: Sink, what: str) -> Progress:
    """A download's (done, total) callbacks as DataProgress events for `sink`."""
    return lambda done, total: sink(DataProgress(what, done, total))


def run_queue(queue: list[Job], dataset: Dataset, options: RunOptions, store: Store, sink: Sink) -> list[Event]:
    """Returns each run's last event (RunFinished or RunFailed). Ctrl-C stores the current run as cancelled
    and propagates, so the caller can stop the queue; so does StoreUnwritable, since no later run could be saved."""
    return [run_one(job, dataset, options, store, sink) for job in queue]


def run_one(job: Job, dataset: Dataset, options: RunOptions, store: Store, sink: Sink) -> Event:
    spec = job.experiment.spec
    run_id = uuid.uuid4().hex[:12]
    used_pretrained = spec.model.pretrained and options.pretrained
    state = {"started": False, "epoch": 0}

    def record(event: Event) -> None:
        if isinstance(event, RunStarted):
            store.start(event, spec.chapter, spec.config(), spec.config_hash(), dataset.synthetic, used_pretrained)
            state["started"] = True
        elif isinstance(event, EpochEnded):
            store.epoch(event)
            state["epoch"] = event.epoch
        elif isinstance(event, RunFinished):
            store.finish(event, dataset.labels["val"].tolist())
        elif isinstance(event, RunFailed):
            store.fail(event)
        sink(event)

    def stop(status: str, reason: str) -> RunFailed:
        if not state["started"]:
            record(RunStarted(run_id, spec.id, spec.name, job.seed, options.device, dataset.source,
                              options.epochs or spec.training.epochs, 0))
        failed = RunFailed(run_id, status, reason, state["epoch"] + 1)
        record(failed)
        return failed

    last: Event | None = None
    try:
        for event in train(spec, dataset, replace(options, seed=job.seed), run_id):
            record(event)
            last = event
    except KeyboardInterrupt:
        stop("cancelled", "cancelled by the user")
        raise
    except StoreUnwritable as error:
        # No later run could be saved either, so the queue stops and the caller says why; the run's own row is
        # marked failed if the store still takes that small update (else the next open marks it interrupted).
        with contextlib.suppress(StoreUnwritable):
            store.fail(RunFailed(run_id, "failed", str(error), state["epoch"] + 1))
        raise
    except UserError as error:
        return stop("failed", str(error))
    except Exception as error:  # a crash in one run (CUDA out of memory included) must not end the queue
        if options.debug:
            traceback.print_exc()
        return stop("failed", f"{type(error).__name__}: {error}".strip())
    assert last is not None
    return last
