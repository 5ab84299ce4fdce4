"""Which runs `dermalab prune` deletes: those that did not finish, and on request the quick looks (finished runs
of fewer epochs than their experiment's, from --epochs); and their deletion, measured. With them go the checkpoints
no run will resume from (a run's own goes when it ends; one whose process died keeps it until it is resumed or
pruned)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.experiments.spec import Experiment
from engine.status import ACTIVE, ENDED, Status, sql_in
from engine.store.runs import Store
from engine.training import checkpoint

# A run halving stopped is a sweep's answer (its point lost at a rung), not a run that went wrong: it is kept.
UNFINISHED = tuple(status for status in ENDED if status not in (Status.FINISHED, Status.STOPPED))

Row = dict[str, Any]


@dataclass(frozen=True)
class Prunable:
    unfinished: list[Row]
    quick_looks: list[Row]

    @property
    def runs(self) -> list[Row]:
        return [*self.unfinished, *self.quick_looks]


def prunable(store: Store, experiments: dict[int, Experiment], quick_looks: bool) -> Prunable:
    runs = store.runs()
    return Prunable([run for run in runs if run["status"] in UNFINISHED],
                    [run for run in runs if quick_looks and quick_look(run, experiments)])


def quick_look(run: Row, experiments: dict[int, Experiment]) -> bool:
    """A finished run of fewer epochs than its experiment's (a run of an experiment no longer in the file is kept:
    there is nothing to measure it against)."""
    experiment = experiments.get(run["experiment_id"])
    return (run["status"] == Status.FINISHED and experiment is not None
            and run["epochs"] < experiment.spec.training.epochs)


def prune(store: Store, runs: list[Row]) -> tuple[int, int]:
    """Delete these runs; returns the store file's size in bytes before and after."""
    before = store.path.stat().st_size
    store.delete([run["run_id"] for run in runs])
    return before, store.path.stat().st_size


def orphan_checkpoints(store: Store, places: list[Path]) -> list[Path]:
    """The checkpoints kept beside each of `places` (engine.training.checkpoint.folder) whose run can no longer
    go on: neither interrupted nor running (here, or as a cluster's job still waiting or running)."""
    live = {row[0] for row in store.execute(
        f"SELECT run_id FROM runs WHERE status IN {sql_in((Status.RUNNING, Status.INTERRUPTED))}"
        f" UNION SELECT job_id FROM jobs WHERE status IN {sql_in(ACTIVE)}")}
    return [path for place in places for run_id, path in checkpoint.saved(place).items() if run_id not in live]


def remove_checkpoints(paths: list[Path]) -> int:
    """Deletes them; returns the bytes freed."""
    freed = 0
    for path in paths:
        freed += path.stat().st_size
        checkpoint.remove(path)
    return freed
