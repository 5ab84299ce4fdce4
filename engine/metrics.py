"""Turns val-split probabilities into the page's metrics and a few more (per-class, confusion matrix)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

from engine.experiments import CANCER_CLASSES, CLASSES, MEL



def macro_auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Macro one-vs-rest AUC; NaN when it is undefined (a class absent, or non-finite probabilities)."""
    if not np.isfinite(probabilities).all() or len(np.unique(labels)) < len(CLASSES):
        return float("nan")
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", average="macro", labels=range(len(CLASSES))))


def evaluate(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(CLASSES)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    recall_by = dict(zip(CLASSES, recall.tolist()))
    return {
        "auc": macro_auc(labels, probabilities),
        "accuracy": float((predicted == labels).mean()),
        "mel_recall": float(recall[MEL]),
        "mel_precision": float(precision[MEL]),
        "cancer_sensitivity": float(np.mean([recall_by[c] for c in CANCER_CLASSES])),
        "balanced_accuracy": float(recall.mean()),
        "recall": recall_by,
        "precision": dict(zip(CLASSES, precision.tolist())),
        "f1": dict(zip(CLASSES, f1.tolist())),
        "support": dict(zip(CLASSES, support.tolist())),
        "confusion": confusion_matrix(labels, predicted, labels=classes).tolist(),
    }
