"""What the views show of stored runs: a row per run, a row per group of comparable runs (mean ± std over seeds),
the comparison with the page's published figures, a run's confusion matrix, and a run's val predictions and
bootstrap intervals read back for analysis. Views (CLI, app, report) format these; they compute nothing themselves.

Runs are comparable when they share the experiment, the config as run (its epochs, ImageNet weights and
precision) and the data: only those are averaged. A run or group stands beside the page's figures only when it
ran as the page did: the experiment as the experiments file has it, the page's epochs and weights, real data.
Anything else says what differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.classes import DEFAULT, DEFAULT_SIZE, class_names, label, name_in
from engine.errors import UserError
from engine.experiments.spec import Experiment, Published, config_hash
from engine.status import Status
from engine.training.options import PRECISIONS

if TYPE_CHECKING:
    from engine.analysis.screening import Predictions
    from engine.store.runs import Store

METRICS = ("auc", "mel_recall", "cancer_sensitivity", "accuracy", "balanced_accuracy")
VERSUS_PAGE = ("auc", "mel_recall")  # the figures each row carries ours-minus-the-page's for, as delta_...
CONSISTENT_MIN_RUNS = 3  # fewer seeds give no usable spread
SYNTHETIC_DATA = "synthetic data"  # one of the differences; tables that show the data kind apart leave it out
RUN_KEYS = ("run_id", "experiment_id", "name", "chapter", "seed", "status", "reason", "data", "dataset", "size",
            "data_fingerprint", "synthetic", "pretrained", "precision", "epochs", "config_hash", "device", "params",
            "train_seconds", "images_per_second", *METRICS, "recall", "auc_ci", "mel_recall_ci", "notes")


def run_rows(runs: list[dict[str, Any]], experiments: dict[int, Experiment]) -> list[dict[str, Any]]:
    """One flat row per stored run (summary rows of Store.runs, .ranked or .get), with what differs from the
    page's run and, where nothing does, the differences from its published figures."""
    page = Page(experiments)
    return [page.beside({key: run.get(key) for key in RUN_KEYS}) for run in runs]


def experiment_rows(groups: list[dict[str, Any]], experiments: dict[int, Experiment]) -> list[dict[str, Any]]:
    """Store.groups() as rows: per group of comparable runs, each figure's mean, its std over seeds, and n."""
    page = Page(experiments)
    return [page.beside(dict(group)) for group in groups]


def compare_rows(groups: list[dict[str, Any]], experiments: dict[int, Experiment]) -> list[dict[str, Any]]:
    """Per group of an experiment with published figures: ours beside the page's, the difference and a verdict.
    A group run unlike the page gets no page figures: it says what differs instead."""
    rows = []
    for row in experiment_rows(groups, experiments):
        published = _published(experiments, row["experiment_id"])
        if not published:
            continue
        out = {k: row[k] for k in ("experiment_id", "name", "synthetic", "n", "differs")}
        for metric in ("auc", "mel_recall", "cancer_sensitivity"):
            ours, spread = row[metric], row[f"{metric}_std"]
            theirs = None if row["differs"] else getattr(published, metric)
            out[metric], out[f"{metric}_std"], out[f"{metric}_published"] = ours, spread, theirs
            out[f"{metric}_delta"] = _delta(ours, theirs)
            out[f"{metric}_verdict"] = None if theirs is None else verdict(ours, spread, row["n"], theirs)
        rows.append(out)
    return rows


class Page:
    """How runs differ from the page's run of their experiment. The hash of the config each run would have
    had, had the experiment not changed since, is computed once per experiment, epochs, weights and precision."""

    def __init__(self, experiments: dict[int, Experiment]):
        self.experiments = experiments
        self.hashes: dict[tuple[int, int, bool, str, str, int], str] = {}

    def differences(self, row: dict[str, Any]) -> list[str]:
        """What keeps a run (or group) from standing beside the page's figures; empty when nothing does."""
        found = [SYNTHETIC_DATA] if row["synthetic"] else []
        experiment = self.experiments.get(row["experiment_id"])
        if experiment is None:
            return [*found, "not in the experiments file"]
        spec = experiment.spec
        if row["epochs"] != spec.training.epochs:
            found.append(f"{row['epochs']}/{spec.training.epochs} epochs")
        if row["pretrained"] != spec.model.pretrained:
            found.append("from scratch" if spec.model.pretrained else "ImageNet weights")
        chosen = (row.get("dataset", DEFAULT), row.get("size", DEFAULT_SIZE))
        if chosen != (DEFAULT, DEFAULT_SIZE):  # the page trained on DermaMNIST at 28 alone
            found.append(f"on {label(*chosen)}")
        key = (spec.id, row["epochs"], row["pretrained"], row["precision"], *chosen)
        if key not in self.hashes:
            self.hashes[key] = config_hash(name_in(spec.run_config(*key[1:4]), *chosen))
        if row["config_hash"] != self.hashes[key]:
            found.append("config edited since")
        return found

    def beside(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with `differs` and, where nothing differs, ours minus the page's figures."""
        row["differs"] = self.differences(row)
        published = None if row["differs"] else _published(self.experiments, row["experiment_id"])
        for metric in VERSUS_PAGE:
            row[f"delta_{metric}"] = _delta(row[metric], None if published is None else getattr(published, metric))
        return row

    def baseline(self, metric: str) -> dict[str, float]:
        """The config hash of each experiment's page run, in every precision -> the page's figure: what
        Store.ranked sorts the delta of `metric` by."""
        return {config_hash(e.spec.page_config(precision)): getattr(e.spec.published, metric)
                for e in self.experiments.values() if e.spec.published for precision in PRECISIONS}


def confusion_rows(run: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per true class of a finished run's val set: how many were predicted as each class, and that
    count as a share of the row (so rows of rare classes read as clearly as the 671 nevi)."""
    counts = (run.get("metrics") or {}).get("confusion")
    if not counts:
        raise UserError(f"Run {run['run_id']} is {run['status']} and has no confusion matrix; only finished runs do.")
    rows, names = [], class_names(run["dataset"])
    for true, row_counts in zip(names, counts):
        total = sum(row_counts)
        rows.append({"true": true, "n": total, **dict(zip(names, row_counts)),
                     **{f"{c}_share": (n / total if total else None) for c, n in zip(names, row_counts)}})
    return rows


def predictions(store: Store, run_id: str) -> Predictions:
    """The val labels and probabilities of the finished run whose id is or starts with `run_id`, for screening
    (operating points, ensembles)."""
    return predictions_of(store.find(run_id))


def predictions_of(run: dict[str, Any]) -> Predictions:
    """The val labels and probabilities of a run as Store.get returns it (UserError unless it finished with
    finite ones)."""
    import numpy as np

    from engine.analysis.screening import Predictions

    if run["status"] != Status.FINISHED or run["probabilities"] is None:
        raise UserError(f"Run {run['run_id']} is {run['status']}; only finished runs have val predictions.")
    if not np.isfinite(run["probabilities"]).all():
        raise UserError(f"Run {run['run_id']} stored non-finite probabilities, so no threshold or ensemble can use it.")
    return Predictions(run["run_id"], run["name"], run["labels"], run["probabilities"],
                       run.get("dataset", DEFAULT), run.get("size", DEFAULT_SIZE))


def with_intervals(runs: list[dict[str, Any]], store: Store) -> list[dict[str, Any]]:
    """The runs, each finished one with both bootstrap intervals: runs stored before intervals were computed at
    finish get them now, from their stored predictions (the store itself is left unchanged)."""
    return [_filled(run, store) for run in runs]


def _filled(run: dict[str, Any], store: Store) -> dict[str, Any]:
    from engine.analysis import (
        bootstrap,  # numpy, only for runs stored without intervals
    )

    if run["status"] != Status.FINISHED or all(run[key] is not None for key in bootstrap.KEYS):
        return run
    stored = store.get(run["run_id"])
    if stored is None:  # deleted since its row was read (prune in another terminal)
        return run
    if all(key in (stored["metrics"] or {}) for key in bootstrap.KEYS):  # computed at finish: undefined
        return run
    return {**run, **bootstrap.intervals(stored["labels"], stored["probabilities"])}


def verdict(mean: float | None, std: float | None, n: int, published: float) -> str:
    """'consistent' when the published value lies within our mean ± 2 std over at least 3 seeds."""
    if mean is None or std is None or n < CONSISTENT_MIN_RUNS:
        return "too few runs"
    return "consistent" if abs(published - mean) <= 2 * std else "different"


def _published(experiments: dict[int, Experiment], experiment_id: int) -> Published | None:
    experiment = experiments.get(experiment_id)
    return experiment.spec.published if experiment else None


def _delta(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or theirs is None else ours - theirs
