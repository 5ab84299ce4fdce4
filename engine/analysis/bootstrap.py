"""Bootstrap 95 % intervals for a run's macro AUC and melanoma recall, by resampling its val set.

One val set of 1,003 lesions holds only 111 melanomas, so a single run's melanoma recall is a noisy figure;
the interval says how noisy. It covers the val sample only, not the training seed (the seed spread in
`summary.experiment_rows` covers that).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.classes import MEL

RESAMPLES = 1000
SEED = 0  # fixed, so computing a run's interval again (on read, or in a test) gives the same interval
LOW, HIGH = 2.5, 97.5  # percentiles bounding the central 95 %
KEYS = ("auc_ci", "mel_recall_ci")


def intervals(labels: Any, probabilities: Any, focus: int | None = MEL) -> dict[str, list[float] | None]:
    """{'auc_ci': [low, high], 'mel_recall_ci': [low, high]}; None where the figure itself is undefined, or for the
    recall where the set has no focus class (the melanoma's place, on another set its critical class)."""
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=float)
    weights = resample_counts(len(labels))
    auc = resampled_macro_auc(labels, probabilities, weights) if np.isfinite(probabilities).all() else np.array([])
    recall = None if focus is None else _central(mel_recall(labels, probabilities, weights, focus))
    return {"auc_ci": _central(auc), "mel_recall_ci": recall}


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """How often each val lesion is drawn in each resample (resamples × n; every row sums to n).

    Counting draws instead of copying lesions lets every resample share one sort of the scores."""
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    flat = (draws + n * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n)


def resampled_macro_auc(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The mean one-vs-rest AUC over the classes (7 on DermaMNIST) for each weighted copy of the val set (NaN where
    a class is missing from a copy, as `metrics.macro_auc` does)."""
    classes = probabilities.shape[1]
    return np.mean([weighted_auc(labels == c, probabilities[:, c], weights) for c in range(classes)], axis=0)


def weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mann–Whitney AUC (ties count half) for each row of lesion weights: the chance that a drawn positive
    scores above a drawn negative."""
    order = np.argsort(scores, kind="stable")
    sorted_scores, weights = scores[order], weights[:, order]
    # Lesions with equal scores form one group; a positive beats the negatives of lower groups, ties half.
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_scores) != 0])
    positives = np.add.reduceat(weights * positive[order], starts, axis=1)
    negatives = np.add.reduceat(weights * ~positive[order], starts, axis=1)
    below = np.cumsum(negatives, axis=1) - negatives
    wins = (positives * (below + 0.5 * negatives)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (positives.sum(axis=1) * negatives.sum(axis=1))


def mel_recall(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray, focus: int = MEL) -> np.ndarray:
    """Share of drawn melanomas (or the set's focus class) predicted (argmax) as such, per row of weights."""
    melanoma = labels == focus
    caught = probabilities[melanoma].argmax(axis=1) == focus
    drawn = weights[:, melanoma]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (drawn * caught).sum(axis=1) / drawn.sum(axis=1)


def _central(values: np.ndarray) -> list[float] | None:
    """The central 95 % of the defined resamples (a resample without some class has no AUC)."""
    defined = values[np.isfinite(values)]
    return [float(np.percentile(defined, LOW)), float(np.percentile(defined, HIGH))] if defined.size else None
