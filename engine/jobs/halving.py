"""Asynchronous successive halving across a sweep's points (`dermalab sweep NAME --halving`): when a run of a point
ends a rung epoch (1, 3, 9, ... below its last), its point goes on only if its mean val AUC at that epoch is among
the top third of the points of the sweep that have reached that epoch so far; otherwise the run stops there, stored
as `stopped` with its epochs. Nothing waits for a rung to fill (ASHA, Li et al. 2020): an early point is judged on
fewer rivals, which costs some needless epochs, never a pause. The rivals' figures are the store's, where every
run of the sweep writes each epoch, so the process training a run judges it as soon as its epoch is stored, and
the worker's slots, a foreground run and its own slots all judge alike. A cluster's tasks keep stores of their own
until they end, but their finished epochs come home at each look (`sync`), which judges them there by the same rule
(`submitted_figures`) and sends a task that did not make its rung the order to stop (engine.jobs.cluster)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.events import EpochEnded
from engine.experiments.spec import Experiment
from engine.store.runs import Store

RATE = 3  # a rung keeps the top 1/RATE of the points that reached it, and rungs lie RATE times apart (ASHA's usual)

Judge = Callable[[EpochEnded], str | None]  # an epoch's end -> why the run stops there, or None: it goes on


def rungs(epochs: int) -> Iterator[int]:
    """The epochs at which a run of `epochs` is judged: 1, RATE, RATE², ... below its last (which ends it anyway)."""
    rung = 1
    while rung < epochs:
        yield rung
        rung *= RATE


@dataclass(frozen=True)
class Standing:
    """A point's place at a rung among the points of its sweep that reached it."""

    auc: float  # the point's mean val AUC at the rung, over its runs that reached it
    place: int  # 1 for the best
    points: int  # how many points reached the rung
    kept: int  # how many of them go on

    def goes_on(self) -> bool:
        return self.place <= self.kept

    def why_stopped(self, epoch: int) -> str:
        return (f"by halving: its point's val AUC {self.auc:.3f} placed {self.place} of {self.points} points at "
                f"epoch {epoch}, where the top {self.kept} go on")


def standing(figures: dict[str, float], own: str) -> Standing | None:
    """Where point `own` stands among `figures` (config hash -> mean val AUC at a rung); None without its figure.
    Ties go on together: a place counts only the points strictly better."""
    if own not in figures:
        return None
    better = sum(auc > figures[own] for auc in figures.values())
    return Standing(figures[own], better + 1, len(figures), math.ceil(len(figures) / RATE))


def rung_figures(store: Store, sweep: str, epoch: int, epochs: int, data_fingerprint: str) -> dict[str, float]:
    """Per point of `sweep` (its runs' config hash) on this data, among runs of `epochs` epochs (a schedule's pace
    depends on them): the mean val AUC at `epoch` of its runs that reached it, whatever became of them after. A run
    is a sweep's by its job (jobs.point)."""
    rows = store.execute(
        "SELECT runs.config_hash, avg(history.val_auc) FROM history JOIN runs ON runs.run_id = history.run_id"
        " JOIN jobs ON jobs.job_id = runs.run_id WHERE history.epoch = ? AND history.val_auc IS NOT NULL"
        " AND json_extract(jobs.point, '$.sweep') = ? AND runs.epochs = ? AND runs.data_fingerprint = ?"
        " GROUP BY runs.config_hash", (epoch, sweep, epochs, data_fingerprint))
    return {row[0]: row[1] for row in rows}


def submitted_figures(store: Store, sweep: str, epoch: int, data: str, options: dict[str, Any]) -> dict[str, float]:
    """`rung_figures` for a cluster's runs, whose epochs come home while they train but whose run rows only at their
    end: per point (its job's point, as JSON), the mean val AUC at `epoch` among the sweep's jobs queued with the
    same data and options (so the same epochs, set and precision)."""
    rows = store.execute(
        "SELECT jobs.point, avg(history.val_auc) FROM history JOIN jobs ON jobs.job_id = history.run_id"
        " WHERE history.epoch = ? AND history.val_auc IS NOT NULL AND json_extract(jobs.point, '$.sweep') = ?"
        " AND jobs.data = ? AND jobs.options = ? GROUP BY jobs.point", (epoch, sweep, data, json.dumps(options)))
    return {row[0]: row[1] for row in rows}


def judge(store: Store, experiment: Experiment, config_hash: str, data_fingerprint: str) -> Judge | None:
    """What decides, after each epoch of a run of `experiment` (a sweep's point), whether it stops there; None for an
    experiment that is no sweep's point."""
    if experiment.point is None:
        return None
    sweep = experiment.point.sweep

    def stops(event: EpochEnded) -> str | None:
        if event.epoch not in set(rungs(event.epochs)):
            return None
        found = standing(rung_figures(store, sweep, event.epoch, event.epochs, data_fingerprint), config_hash)
        return None if found is None or found.goes_on() else found.why_stopped(event.epoch)

    return stops
