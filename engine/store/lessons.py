"""The page's lessons tested on each MedMNIST set: every experiment against the one it changes (its `extends` in
experiments.toml, which is how the page's chapters pair them: BatchNorm 8 against 7, horizontal flips 11 against 8),
as the seed-paired change in AUC and in the set's critical-class recall, with its 95 % interval, per set and size.

A cell pairs the finished runs of the two experiments on one set, size and data file, trained alike (the same
precision, and each at the page's epochs or both at the same override): of each side, the configuration run on the
most seeds. Cells without two such sides are empty; a lesson is 'outside the noise' on a set where the interval of
its change leaves out zero."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from engine.analysis.paired import PairedDifference, paired_difference
from engine.experiments.spec import Experiment
from engine.status import Status
from engine.store.runs import Store

FIGURES = ("auc", "mel_recall")  # the change in AUC, and in the recall of the set's focus class (DermaMNIST: mel)
Scope = tuple[str, int]  # a set and size


@dataclass(frozen=True)
class Lesson:
    experiment: Experiment
    baseline: Experiment

    @property
    def label(self) -> str:
        return f"{self.experiment.id} vs {self.baseline.id}: {self.experiment.spec.name}"


@dataclass(frozen=True)
class Cell:
    """One lesson on one set: the paired change of each figure (None where no two sides were trained alike)."""

    changes: dict[str, PairedDifference | None]
    synthetic: bool

    def beyond_noise(self, figure: str) -> bool | None:
        """Whether the interval leaves out zero; None without an interval (fewer than two seeds)."""
        change = self.changes.get(figure)
        if change is None or change.low is None or change.high is None:
            return None
        return change.low > 0 or change.high < 0


def lessons(experiments: dict[int, Experiment]) -> list[Lesson]:
    """Every experiment that changes another, in id order."""
    return [Lesson(experiment, experiments[experiment.spec.extends]) for experiment in experiments.values()
            if experiment.spec.extends in experiments]


def table(store: Store, experiments: dict[int, Experiment], scopes: list[Scope]) -> dict[str, dict[Scope, Cell]]:
    """Lesson label -> set and size -> its cell (absent where neither side ran there)."""
    found: dict[str, dict[Scope, Cell]] = {lesson.label: {} for lesson in lessons(experiments)}
    kept = store.scope
    try:
        for scope in scopes:
            store.scope = scope
            sides = _sides(store.runs(), experiments)
            for lesson in lessons(experiments):
                if cell := _cell(sides.get(lesson.experiment.id, []), sides.get(lesson.baseline.id, [])):
                    found[lesson.label][scope] = cell
    finally:
        store.scope = kept
    return found


@dataclass(frozen=True)
class Side:
    """The finished runs of one experiment in one configuration on one data file: seed -> its latest run's row."""

    key: tuple[Any, ...]  # (data fingerprint, precision, epochs or None at the page's)
    seeds: dict[int, dict[str, Any]]


def _sides(runs: list[dict[str, Any]], experiments: dict[int, Experiment]) -> dict[int, list[Side]]:
    """Per experiment, its configurations as run, most seeds first."""
    grouped: dict[tuple[int, str, tuple[Any, ...]], dict[int, dict[str, Any]]] = defaultdict(dict)
    for run in runs:  # oldest first, so a seed's latest run stays
        experiment = experiments.get(run["experiment_id"])
        if run["status"] != Status.FINISHED or experiment is None:
            continue
        page_epochs = run["epochs"] == experiment.spec.training.epochs
        key = (run["data_fingerprint"] or run["data"], run["precision"], None if page_epochs else run["epochs"])
        grouped[(run["experiment_id"], run["config_hash"], key)][run["seed"]] = run
    sides: dict[int, list[Side]] = defaultdict(list)
    for (experiment_id, _, key), seeds in grouped.items():
        sides[experiment_id].append(Side(key, seeds))
    for found in sides.values():
        found.sort(key=lambda side: -len(side.seeds))
    return sides


def _cell(ours: list[Side], theirs: list[Side]) -> Cell | None:
    """The pair trained alike with the most seeds in common."""
    pairs = [(len(a.seeds.keys() & b.seeds.keys()), a, b) for a in ours for b in theirs if a.key == b.key]
    pairs = [pair for pair in pairs if pair[0]]
    if not pairs:
        return None
    _, a, b = max(pairs, key=lambda pair: pair[0])
    changes = {figure: paired_difference({seed: run[figure] for seed, run in a.seeds.items()},
                                         {seed: run[figure] for seed, run in b.seeds.items()}) for figure in FIGURES}
    synthetic = any(run["synthetic"] for run in (*a.seeds.values(), *b.seeds.values()))
    return Cell({figure: change if change.mean is not None else None for figure, change in changes.items()},
                synthetic)
