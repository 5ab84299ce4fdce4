"""The test split, sealed. Every finished run scores the test split once, at its end (engine.training.train), and
the store keeps those figures in a table of their own that no view, ranking or selection reads: the page selects
on val, and the best of many points on val is an optimistic figure that only untouched test images can check.
This module alone reads them, for `dermalab test --unseal`, and logs every such reading (when, what was named, how
many groups and runs), so that whoever reads a result can tell how often the test set has been looked at.

What can be unsealed is named as a user names it: a run (its id or the start of it), an experiment (its id: each
group of its comparable finished runs, as its own config ran), or a sweep's chosen point (`sweep:NAME`, the point
with the best mean val AUC, chosen on val alone; `sweep:NAME@LABEL`, the point labelled so, 'lr=0.003').
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.analysis.paired import mean_interval
from engine.classes import DEFAULT, MEL
from engine.errors import UserError
from engine.experiments import sweeps
from engine.experiments.spec import Experiment, config_hash
from engine.store.runs import Store
from engine.store.sweep_results import sweep_results
from engine.words import plural

SWEEP_PREFIX = "sweep:"
POINT_MARK = "@"  # sweep:NAME@LABEL names a point of the sweep
NUMBER = re.compile(r"[0-9]+")
FIGURES = ("auc", "mel_recall", "cancer_sensitivity")


@dataclass(frozen=True)
class Group:
    """Runs unsealed together: their figures are averaged, with an interval over them."""

    label: str  # what the user named, in words: "experiment 20", "run 3f2a…", "sweep 'lr' at lr=0.003"
    run_ids: list[str]


def groups_named(store: Store, experiments: dict[int, Experiment], names: list[str],
                 experiments_file: Path | str | None = None) -> list[Group]:
    """The groups each name stands for, in the order named; a name that stands for no finished run is a UserError."""
    found: list[Group] = []
    for name in names:
        if name.startswith(SWEEP_PREFIX):
            found.append(_sweep_point(store, experiments, name.removeprefix(SWEEP_PREFIX), experiments_file))
        elif NUMBER.fullmatch(name) and int(name) in experiments:
            found += _experiment_groups(store, experiments[int(name)])
        else:
            run = store.find(name)
            found.append(Group(f"run {run['run_id']}", [run["run_id"]]))
    return found


def _experiment_groups(store: Store, experiment: Experiment) -> list[Group]:
    """Each group of the experiment's finished runs with its own config (any epochs, weights, precision, data)."""
    groups = []
    for group in store.groups():
        if group["experiment_id"] != experiment.id:
            continue
        own = experiment.spec.run_config(group["epochs"], group["pretrained"], group["precision"])
        if config_hash(own) == group["config_hash"]:
            data = "synthetic data" if group["synthetic"] else group["data"]
            label = f"experiment {experiment.id} ({plural(group['epochs'], 'epoch')}, {data})"
            groups.append(Group(label, _runs_of(store, group)))
    if not groups:
        raise UserError(f"Experiment {experiment.id} has no finished run to unseal; 'dermalab run {experiment.id}' "
                        "trains one.")
    return groups


def _sweep_point(store: Store, experiments: dict[int, Experiment], named: str,
                 experiments_file: Path | str | None) -> Group:
    name, _, label = named.partition(POINT_MARK)
    sweep = sweeps.named(name, experiments, experiments_file)
    best = sweep_results(store, sweep, sweep.points(), label or None).best
    if best is None:
        raise UserError(f"Sweep '{name}' has no finished point to unseal; 'dermalab sweep {name}' runs them.")
    return Group(f"sweep '{name}' at {best['point']}", _runs_of(store, best))


def _runs_of(store: Store, group: dict[str, Any]) -> list[str]:
    """The latest finished run of each seed of a group of comparable runs."""
    return list(store.finished_seeds(group["experiment_id"], group["config_hash"], group["data_fingerprint"]).values())


def unseal(store: Store, what: str, groups: list[Group]) -> list[dict[str, Any]]:
    """Each group's test figures beside its val ones, and the unsealing logged (before anything is shown, so that
    no look goes unrecorded). A group's runs that finished before the store kept test figures are left out."""
    rows = [_figures(store, group) for group in groups]
    with store.transaction() as db:
        db.execute("INSERT INTO unsealings (unsealed_at, what, groups, runs) VALUES (?, ?, ?, ?)",
                   (time.time(), what, len(groups), sum(row["n"] for row in rows)))
    return rows


def unsealings(store: Store) -> int:
    """How many times test figures have been unsealed in this store."""
    return int(store.execute("SELECT count(*) FROM unsealings")[0][0])


def _figures(store: Store, group: Group) -> dict[str, Any]:
    """Mean val and test figures of a group, each test figure with its 95 % interval: Student's t over the runs
    (seeds), or for a single run the bootstrap over the test images."""
    marks = ", ".join("?" * len(group.run_ids))
    sealed = {row["run_id"]: row for row in store.execute(
        f"SELECT run_id, metrics, labels, probabilities FROM sealed WHERE run_id IN ({marks})", group.run_ids)}
    runs = [run for run in store.summaries(group.run_ids) if run["run_id"] in sealed]
    row: dict[str, Any] = {"what": group.label, "n": len(runs), "runs_without_test": len(group.run_ids) - len(runs),
                           "val_auc": _mean([run["auc"] for run in runs])}
    tests = [json.loads(sealed[run["run_id"]]["metrics"]) for run in runs]
    for figure in FIGURES:
        values = [test[figure] for test in tests if test.get(figure) is not None]
        mean, low, high = mean_interval(values) if values else (None, None, None)
        # Each figure is a share: an interval over few seeds may pass 0 or 1, where no figure can lie.
        row[f"test_{figure}"] = mean
        row[f"test_{figure}_ci"] = None if low is None or high is None else [max(low, 0.0), min(high, 1.0)]
    if len(runs) == 1:
        row.update(_bootstrapped(sealed[runs[0]["run_id"]], runs[0]))
    return row


def _bootstrapped(sealed: Any, run: dict[str, Any]) -> dict[str, Any]:
    """A single run's intervals, by resampling its test images (on DermaMNIST, its melanoma recall's too)."""
    from engine.analysis import bootstrap  # numpy: only when figures are unsealed (the app counts unsealings)
    from engine.store import blobs

    focus = MEL if run.get("dataset", DEFAULT) == DEFAULT else None
    drawn = bootstrap.intervals(blobs.unpack(sealed["labels"]), blobs.unpack(sealed["probabilities"]), focus)
    return {"test_auc_ci": drawn["auc_ci"], "test_mel_recall_ci": drawn["mel_recall_ci"]}


def _mean(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return sum(known) / len(known) if known else None
