"""A job's progress, counted one way on every screen (the header, the run view's bars, its running jobs and its
queue): the epoch under way out of the run's epochs, and the share of all its batches done. And the ETAs: a running
job's, smoothed so that it does not swing with each heartbeat's pace, and the whole queue's."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.experiments.spec import Experiment
from engine.jobs.estimate import estimate
from engine.jobs.queue import eta_seconds
from engine.status import Status

# How fast the smoothed ETA follows the run's pace: a change of pace shows half in about 20 s, so an evaluation's
# pause or a busy moment of the machine no longer throws the ETA by a minute either way.
SMOOTHING_SECONDS = 30.0


def fraction(job: dict[str, Any]) -> float | None:
    """The share of the run's batches done (None before its run started): what every bar and percent shows."""
    if not (job["epochs"] and job["batches"]):
        return None
    if job["status"] == Status.FINISHED:
        return 1.0
    return min(1.0, ((job["epoch"] - 1) * job["batches"] + (job["batch"] or 0)) / (job["epochs"] * job["batches"]))


def epoch_words(job: dict[str, Any]) -> str:
    """'epoch 4/5': the epoch under way (the last one reached, once the run ended); empty before its run started."""
    return f"epoch {job['epoch']}/{job['epochs']}" if job["epochs"] else ""


def percent(job: dict[str, Any]) -> str:
    done = fraction(job)
    return "" if done is None else f"{math.floor(done * 100)}%"  # floored: 100% only when it is done


@dataclass
class Smoothed:
    beat_at: float  # the heartbeat this estimate was last moved by
    end: float  # when the run should end, as time.time()


class Etas:
    """Each running job's end, as an average of the estimates at its heartbeats that forgets old ones over
    SMOOTHING_SECONDS: the pace since the run's start alone swings as evaluations pause it and the machine's load
    changes. A job asked to cancel, or ended, keeps its last estimate (the run view shows it standing still)."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock  # the time the ETAs count down from (a fixed one in snapshots)
        self.jobs: dict[str, Smoothed] = {}

    def note(self, jobs: list[dict[str, Any]]) -> None:
        for job in jobs:
            if job["status"] != Status.RUNNING or job["cancel_requested"] or not job["beat_at"]:
                continue
            left = eta_seconds(job, job["beat_at"])
            if left is None:
                continue
            end = job["beat_at"] + left
            seen = self.jobs.get(job["job_id"])
            if seen is None:
                self.jobs[job["job_id"]] = Smoothed(job["beat_at"], end)
            elif job["beat_at"] > seen.beat_at:
                weight = 1 - math.exp(-(job["beat_at"] - seen.beat_at) / SMOOTHING_SECONDS)
                seen.beat_at, seen.end = job["beat_at"], seen.end + weight * (end - seen.end)

    def left(self, job_id: str) -> float | None:
        """Seconds until the job's run ends, or None before its first estimate."""
        seen = self.jobs.get(job_id)
        return None if seen is None else max(0.0, seen.end - self.clock())


def waiting_seconds(jobs: list[dict[str, Any]], experiments: dict[int, Experiment],
                    speeds: list[dict[str, Any]]) -> float | None:
    """How long the waiting jobs train, one after another, at this machine's stored speeds (the page's times where
    it has none); None when nothing tells."""
    total = 0.0
    for job in jobs:
        experiment = experiments.get(job["experiment_id"])
        if experiment is None:
            return None
        guess = estimate([experiment], experiments, speeds).seconds
        epochs = job["options"].get("epochs") if isinstance(job.get("options"), dict) else None
        total += guess * epochs / experiment.spec.training.epochs if epochs else guess
    return total or None


def queue_left(running: list[float | None], waiting: float | None, waiting_jobs: int) -> float | None:
    """Seconds until the queue is through: the running jobs' ETAs, and the waiting jobs' training shared out between
    as many slots as run now; None while any part is unknown."""
    if None in running or (waiting_jobs and waiting is None):
        return None
    known = [left for left in running if left is not None]
    if not waiting_jobs:
        return max(known, default=None)
    return (sum(known) + (waiting or 0.0)) / max(1, len(known))
