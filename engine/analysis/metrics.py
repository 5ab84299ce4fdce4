"""Turns val-split probabilities into the page's metrics and a few more (per-class, confusion matrix).

In numpy alone, as scikit-learn defines them (a test holds them to it): importing scikit-learn would cost every
`dermalab run` most of a second before training."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.analysis.bootstrap import resampled_macro_auc
from engine.classes import MedSet, medset


def macro_auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Macro one-vs-rest AUC (ties count half); NaN when it is undefined (a class absent, or non-finite
    probabilities). The val set itself is the one resample in which every lesion is drawn once."""
    if not np.isfinite(probabilities).all() or len(np.unique(labels)) < probabilities.shape[1]:
        return float("nan")
    return float(resampled_macro_auc(labels, probabilities, np.ones((1, len(labels))))[0])


def evaluate(labels: np.ndarray, probabilities: np.ndarray, chosen: MedSet | None = None) -> dict[str, Any]:
    """On a set without declared critical classes (engine.classes.CRITICAL), mel_recall, mel_precision and
    cancer_sensitivity are None: the lab invents no clinical focus. On a binary set the macro AUC equals the AUC of
    class 1's score, MedMNIST's own binary-class AUC (the two one-vs-rest AUCs are equal)."""
    chosen = chosen or medset()
    names = chosen.classes
    predicted = probabilities.argmax(axis=1)
    classes = len(names)
    confusion = np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    hits, support = np.diag(confusion), confusion.sum(axis=1)
    recall, precision = share(hits, support), share(hits, confusion.sum(axis=0))
    f1 = share(2 * precision * recall, precision + recall)
    recall_by = dict(zip(names, recall.tolist()))
    critical, focus = chosen.critical, chosen.focus
    return {
        "auc": macro_auc(labels, probabilities),
        "accuracy": float((predicted == labels).mean()),
        "mel_recall": None if focus is None else float(recall[focus]),
        "mel_precision": None if focus is None else float(precision[focus]),
        "cancer_sensitivity": None if critical is None else float(np.mean([recall_by[c] for c in critical.group])),
        "balanced_accuracy": float(recall.mean()),
        "recall": recall_by,
        "precision": dict(zip(names, precision.tolist())),
        "f1": dict(zip(names, f1.tolist())),
        "support": dict(zip(names, support.tolist())),
        "confusion": confusion.tolist(),
    }


def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, and 0 where whole is 0 (scikit-learn's zero_division=0)."""
    return np.divide(part, whole, out=np.zeros(len(part)), where=whole > 0)
