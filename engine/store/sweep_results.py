"""What a sweep's stored runs show: a row per point (mean ± std over its seeds, from the groups of comparable runs)
and the best point by mean val AUC against its base experiment, as a difference paired by seed with its interval.

A point's runs are found by their config hash, as any experiment's are: the point's config as run with each
group's epochs, weights and precision. So a point whose values are its base's own shares the base's runs, and a
run counts for every sweep that has its point."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from engine.analysis.paired import paired_difference
from engine.classes import DEFAULT, DEFAULT_SIZE, name_in
from engine.errors import UserError
from engine.experiments.spec import Experiment, Point, config_hash
from engine.experiments.sweeps import Sweep
from engine.status import Status
from engine.store.runs import Store

FIGURES = ("auc", "mel_recall", "cancer_sensitivity", "accuracy", "balanced_accuracy", "train_seconds")
# What makes two groups comparable beside their config: the data, and how the config ran.
CONTEXT = ("data_fingerprint", "synthetic", "epochs", "pretrained", "precision")
# The context a sweep's own axis sets: its points that differ there are compared with each other all the same.
SET_BY_AXIS = {"epochs": "training.epochs", "pretrained": "model.pretrained"}


@dataclass(frozen=True)
class SweepResults:
    rows: list[dict[str, Any]]  # a row per point and data it ran on; a point with no finished run has n 0
    stopped: int  # runs of the sweep's points that halving stopped (each row's `halved` says how many of its own)
    # Point label -> finished runs of the sweep that ran it with a config the file no longer gives it (edited since):
    # a row's `edited` counts those of its point; here are those of points the file no longer has at all.
    gone: dict[str, int]
    best: dict[str, Any] | None  # the best point's row by mean val AUC, or the point named (None: none finished)
    base: dict[str, Any] | None  # the base experiment's group on the best point's data, as run alike
    versus_base: dict[str, Any] | None  # the best point's AUC minus the base's, seed by seed (PairedDifference)


def sweep_results(store: Store, sweep: Sweep, points: list[Experiment], chosen: str | None = None) -> SweepResults:
    """The sweep's rows, and its best point by mean val AUC (or the point labelled `chosen`, 'lr=0.003') against its
    base experiment."""
    groups = [group for group in store.groups() if group["experiment_id"] == sweep.base.id]
    rows, found = [], set()
    place = _places(points)
    stopped = _stopped(store, sweep.base.id, place)
    for group in groups:
        index = place(group)
        if index is not None:
            rows.append(_row(points[index], group, stopped.pop(index, 0)))
            found.add(index)
    rows += [_row(point, None, stopped.get(index, 0)) for index, point in enumerate(points) if index not in found]
    halved = sum(row["halved"] for row in rows)
    edited = _edited(store, sweep.name, place)
    for row in rows:
        row["edited"] = edited.pop(row["point"], 0)
    run = [row for row in rows if row["n"]]
    if not run:
        return SweepResults(rows, halved, dict(edited), None, None, None)
    if chosen is None:  # among the data and settings most points ran with: a best point is one among like runs
        usual = Counter(context(sweep, row) for row in run).most_common(1)[0][0]
        best = max((row for row in run if context(sweep, row) == usual), key=lambda row: row["auc"] or 0.0)
    else:
        best = _named(sweep, rows, chosen)
        usual = context(sweep, best)
    base_hash = config_hash(name_in(sweep.base.spec.run_config(best["epochs"], best["pretrained"], best["precision"]),
                                    *(store.scope or _set_of(best))))
    base = next((group for group in groups if group["config_hash"] == base_hash
                 and context(sweep, group) == usual), None)
    versus = paired_difference(_aucs(store, best), _aucs(store, base)) if base else None
    return SweepResults(rows, halved, dict(edited), best, base, asdict(versus) if versus else None)


def _named(sweep: Sweep, rows: list[dict[str, Any]], label: str) -> dict[str, Any]:
    """The row of the point labelled `label` with the most runs; a label of no point, or of one not run, is a
    sentence."""
    named = [row for row in rows if row["point"] == label]
    if not named:
        labels = [row["point"] for row in rows]
        raise UserError(f"Sweep '{sweep.name}' has no point '{label}'; its points are {', '.join(labels[:4])}"
                        f"{', …' if len(labels) > 4 else ''}, as results --sweep lists them.")
    best = max(named, key=lambda row: row["n"])
    if not best["n"]:
        raise UserError(f"Point '{label}' of sweep '{sweep.name}' has no finished run yet; 'dermalab sweep "
                        f"{sweep.name}' runs it.")
    return best


def _places(points: list[Experiment]) -> Callable[[dict[str, Any]], int | None]:
    """Which point (its place in the sweep) a group or run of the base experiment is, by its config hash as run with
    its epochs, weights and precision; None for none of them."""
    hashes: dict[tuple[Any, ...], dict[str, int]] = {}

    def place(row: dict[str, Any]) -> int | None:
        ran = (row["epochs"], bool(row["pretrained"]), row["precision"], *_set_of(row))
        if ran not in hashes:
            hashes[ran] = _point_hashes(points, *ran)
        return hashes[ran].get(row["config_hash"])

    return place


def _stopped(store: Store, experiment_id: int, place: Callable[[dict[str, Any]], int | None]) -> dict[int, int]:
    """Point -> how many of its runs halving stopped."""
    rows = store.execute("SELECT config_hash, epochs, pretrained, precision, dataset, size FROM runs"
                         " WHERE experiment_id = ?"
                         f" AND status = '{Status.STOPPED}'", (experiment_id,))
    return dict(Counter(index for row in rows if (index := place(dict(row))) is not None))


def _edited(store: Store, sweep: str, place: Callable[[dict[str, Any]], int | None]) -> Counter[str]:
    """Point label -> the finished runs a job of this sweep queued for that point whose config matches no point the
    file gives now: the sweep, or the experiment it extends, was edited since they ran."""
    rows = store.execute(
        "SELECT runs.config_hash, runs.epochs, runs.pretrained, runs.precision, runs.dataset, runs.size, jobs.point"
        " FROM runs"
        f" JOIN jobs ON jobs.job_id = runs.run_id WHERE runs.status = '{Status.FINISHED}'"
        " AND json_extract(jobs.point, '$.sweep') = ?", (sweep,))
    return Counter(at.label() for row in rows if place(dict(row)) is None and (at := Point.from_json(row["point"])))


def _point_hashes(points: list[Experiment], epochs: int, pretrained: bool, precision: str, dataset: str,
                  size: int) -> dict[str, int]:
    """Each point's config hash as runs with these epochs, weights and precision ran it on this set and size -> its
    place in the sweep.

    A run's config holds the epochs and weights it ran with, so points that differ only in those (a sweep over
    'training.epochs' or 'model.pretrained') hash alike here. Such a run is the point's whose own epochs and weights
    it ran with: `sweep` refuses --epochs and --no-pretrained over those axes, so each of its points ran so. Failing
    that (a run of the base with --epochs), the first such point's, as the points are alike then."""
    own_first = sorted(range(len(points)), key=lambda index: not _ran_as_its_own(points[index], epochs, pretrained))
    hashes: dict[str, int] = {}
    for index in own_first:
        run_config = points[index].spec.run_config(epochs, pretrained, precision)
        hashes.setdefault(config_hash(name_in(run_config, dataset, size)), index)
    return hashes


def _ran_as_its_own(point: Experiment, epochs: int, pretrained: bool) -> bool:
    """Whether a run with these epochs and weights ran the point as its config has them, overriding neither."""
    return point.spec.training.epochs == epochs and point.spec.model.pretrained == pretrained


def _set_of(row: dict[str, Any]) -> tuple[str, int]:
    """The MedMNIST set and size of a group or run (DermaMNIST at 28 for a row read without them)."""
    return row.get("dataset") or DEFAULT, row.get("size") or DEFAULT_SIZE


def _row(point: Experiment, group: dict[str, Any] | None, stopped: int) -> dict[str, Any]:
    assert point.point is not None
    row: dict[str, Any] = {"experiment_id": point.id, "point": point.point.label(), **point.point.values,
                           "provenance": point.point.provenance(point.id), "halved": stopped}
    keys = ("n", "config_hash", *CONTEXT, *(key for figure in FIGURES for key in (figure, f"{figure}_std")))
    not_run = dict.fromkeys(keys) | {"n": 0}  # its figures undefined, as a table's empty cells
    return row | ({key: group[key] for key in keys} if group else not_run)


def context(sweep: Sweep, row: dict[str, Any]) -> tuple[Any, ...]:
    """The data a row ran on and how, less what the sweep itself varies: rows alike in it are like with like (a
    sweep over 'training.epochs' compares its points at 5 epochs with those at 10)."""
    return tuple(row[key] for key in CONTEXT if SET_BY_AXIS.get(key) not in sweep.axes)


def _aucs(store: Store, group: dict[str, Any]) -> dict[int, float]:
    """Seed -> the val AUC of its latest finished run in the group."""
    seeds = store.finished_seeds(group["experiment_id"], group["config_hash"], group["data_fingerprint"])
    return {run["seed"]: run["auc"] for run in store.summaries(list(seeds.values()))}
