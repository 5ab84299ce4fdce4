"""How long runs will take on this machine, before they start: from the speed of stored runs of the same experiment,
else from how this machine compares with the course page on the experiments it has run, else the page's own times
(a rough figure, said so). Free of torch: the app asks before it queues.

On another MedMNIST set or size, stored speeds count only where they were measured on that set and size (the
store's scope); the page's times are scaled by the set's training images and by the pixels an image has, which is
about how a CNN's time grows (a 224 image has 64 times the pixels of a 28 one). Before anything ran at a larger size,
this machine's pace at 28x28 against the page's is scaled so, where it has one: the page's own times are an M1 Max's
GPU, not this machine's."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any

from engine.classes import DEFAULT_SIZE, MedSet
from engine.experiments.spec import Experiment
from engine.store.runs import Store

TRAIN_IMAGES = 7007  # DermaMNIST's training split: what an epoch's img/s counts
ASK_ABOVE_SECONDS = 600  # a queue estimated longer than this is confirmed before it starts


@dataclass(frozen=True)
class Estimate:
    seconds: float
    rough: bool  # from the page's times alone: no run on this machine to go by
    scaled: bool = False  # from this machine's runs at 28x28, scaled by the pixels: none ran at this size yet


def estimate(chosen: list[Experiment], experiments: dict[int, Experiment], runs: list[dict[str, Any]],
             on: MedSet | None = None, at_28: list[dict[str, Any]] | None = None) -> Estimate:
    """Training time of one run of each chosen experiment, one after another, on DermaMNIST at 28 unless `on` names
    another set or size (whose runs `runs` must be); `at_28`, this machine's runs at 28x28, set the pace at a larger
    size before any run there has."""
    speeds = stored_speeds(runs)
    ratio = machine_ratio(speeds, experiments)
    images = on.splits["train"] if on else TRAIN_IMAGES
    pixels = (on.size / DEFAULT_SIZE) ** 2 if on else 1.0  # a ratio measured on `on` already holds them
    scaled = False
    if ratio is None and pixels > 1 and (base := machine_ratio(stored_speeds(at_28 or []), experiments)) is not None:
        ratio, scaled = base * pixels, True
    total, rough = 0.0, False
    for experiment in chosen:
        spec = experiment.spec
        if spec.id in speeds:
            total += spec.training.epochs * images / speeds[spec.id]
        elif spec.published and spec.published.time_s:
            total += spec.published.time_s * (ratio or pixels) * images / TRAIN_IMAGES
            rough = rough or ratio is None
        else:  # neither run here nor timed by the page: the estimate leaves it out, and says it is rough
            rough = True
    return Estimate(total, rough, scaled and not rough)


def speeds_for(store: Store, dataset: str, size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The speeds of the store's runs on `dataset` at `size`, and at 28x28 on it (estimate's `runs` and `at_28`)."""
    return store.speeds((dataset, size)), store.speeds((dataset, DEFAULT_SIZE))


def stored_speeds(runs: list[dict[str, Any]]) -> dict[int, float]:
    """Each experiment's median img/s over its stored runs."""
    seen: dict[int, list[float]] = {}
    for run in runs:
        if run.get("images_per_second"):
            seen.setdefault(run["experiment_id"], []).append(run["images_per_second"])
    return {experiment_id: median(values) for experiment_id, values in seen.items()}


def machine_ratio(speeds: dict[int, float], experiments: dict[int, Experiment]) -> float | None:
    """How many times the page's time an epoch takes here: the median over the experiments run here that the page
    timed; None before any."""
    ratios = []
    for experiment_id, speed in speeds.items():
        spec = experiments[experiment_id].spec if experiment_id in experiments else None
        if spec and spec.published and spec.published.time_s:
            ratios.append((TRAIN_IMAGES / speed) / (spec.published.time_s / spec.training.epochs))
    return median(ratios) if ratios else None
