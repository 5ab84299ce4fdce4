"""Tables derived from stored runs: per-run rows, per-experiment mean ± std over seeds, and the comparison
with the page's published figures. Views (CLI, app, report) format these; they compute nothing themselves."""

from __future__ import annotations

import statistics
from typing import Any

from engine.errors import UserError
from engine.experiments import CLASSES, Experiment

METRICS = ("auc", "mel_recall", "cancer_sensitivity", "accuracy", "balanced_accuracy")
CONSISTENT_MIN_RUNS = 3  # fewer seeds give no usable spread


def run_rows(runs: list[dict[str, Any]], experiments: dict[int, Experiment]) -> list[dict[str, Any]]:
    """One flat row per stored run, with the deltas against the published figures where those exist."""
    rows = []
    for run in runs:
        row = {key: run.get(key) for key in ("run_id", "experiment_id", "name", "chapter", "seed", "status", "data",
                                             "synthetic", "pretrained", "device", "params", "train_seconds",
                                             "images_per_second", "reason", *METRICS, "recall", "auc_ci",
                                             "mel_recall_ci")}
        rows.append(_with_deltas(row, experiments))
    return rows


def experiment_rows(runs: list[dict[str, Any]], experiments: dict[int, Experiment]) -> list[dict[str, Any]]:
    """Finished runs grouped by experiment and data kind (real and synthetic never mix): mean, std and n."""
    groups: dict[tuple[int, bool], list[dict[str, Any]]] = {}
    for run in runs:
        if run["status"] == "finished":
            groups.setdefault((run["experiment_id"], bool(run["synthetic"])), []).append(run)
    rows = []
    for (experiment_id, synthetic), members in sorted(groups.items()):
        latest = members[-1]
        row: dict[str, Any] = {"experiment_id": experiment_id, "name": latest["name"], "chapter": latest["chapter"],
                               "synthetic": synthetic, "n": len(members), "params": latest.get("params"),
                               "train_seconds": _mean([m.get("train_seconds") for m in members]),
                               "train_seconds_std": _std([m.get("train_seconds") for m in members])}
        for metric in METRICS:
            values = [m.get(metric) for m in members]
            row[metric], row[f"{metric}_std"] = _mean(values), _std(values)
        recalls = [m["recall"] for m in members]
        row["recall"] = {c: _mean([r.get(c) for r in recalls]) for c in CLASSES}
        rows.append(_with_deltas(row, experiments))
    return rows


def compare_rows(runs: list[dict[str, Any]], experiments: dict[int, Experiment]) -> list[dict[str, Any]]:
    """Per experiment with a published figure: ours beside the page's, the difference, and a verdict."""
    rows = []
    for row in experiment_rows(runs, experiments):
        published = _published(experiments, row["experiment_id"])
        if not published:
            continue
        out = {k: row[k] for k in ("experiment_id", "name", "synthetic", "n")}
        for metric in ("auc", "mel_recall", "cancer_sensitivity"):
            ours, spread, theirs = row[metric], row[f"{metric}_std"], getattr(published, metric)
            out[metric], out[f"{metric}_std"], out[f"{metric}_published"] = ours, spread, theirs
            out[f"{metric}_delta"] = _delta(ours, theirs)
            out[f"{metric}_verdict"] = verdict(ours, spread, row["n"], theirs)
        rows.append(out)
    return rows


def confusion_rows(run: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per true class of a finished run's val set: how many were predicted as each class, and that
    count as a share of the row (so rows of rare classes read as clearly as the 671 nevi)."""
    counts = (run.get("metrics") or {}).get("confusion")
    if not counts:
        raise UserError(f"Run {run['run_id']} is {run['status']} and has no confusion matrix; only finished runs do.")
    rows = []
    for true, row_counts in zip(CLASSES, counts):
        total = sum(row_counts)
        rows.append({"true": true, "n": total, **dict(zip(CLASSES, row_counts)),
                     **{f"{c}_share": (n / total if total else None) for c, n in zip(CLASSES, row_counts)}})
    return rows


def _with_deltas(row: dict[str, Any], experiments: dict[int, Experiment]) -> dict[str, Any]:
    """Ours minus the page's AUC and melanoma recall, where the experiment has published figures."""
    published = _published(experiments, row["experiment_id"])
    row["delta_auc"] = _delta(row["auc"], published and published.auc)
    row["delta_mel_recall"] = _delta(row["mel_recall"], published and published.mel_recall)
    return row


def verdict(mean: float | None, std: float | None, n: int, published: float) -> str:
    """'consistent' when the published value lies within our mean ± 2 std over at least 3 seeds."""
    if mean is None or std is None or n < CONSISTENT_MIN_RUNS:
        return "too few runs"
    return "consistent" if abs(published - mean) <= 2 * std else "different"


def _published(experiments: dict[int, Experiment], experiment_id: int):
    experiment = experiments.get(experiment_id)
    return experiment.spec.published if experiment else None


def _delta(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or theirs is None else ours - theirs


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _std(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.stdev(present) if len(present) > 1 else None
