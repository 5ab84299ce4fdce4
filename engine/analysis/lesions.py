"""Which lesions a gallery shows, in the order it shows them: the val lesions of one cell of a run's confusion
matrix, the val lesions one run catches and another misses, and the train images of the augmentation preview.
Indices into a split; the views draw the images."""

from __future__ import annotations

import numpy as np

from engine.analysis.screening import (
    Predictions,
    condition_classes,
    has_condition,
    same_val_set,
    score,
)
from engine.classes import CLASSES

PREVIEW_CLASSES = ("mel", "nv", "bkl", "bcc")  # the preview's train images: the first of each of these classes


def confusion_cell(predictions: Predictions, true: int, predicted: int) -> np.ndarray:
    """Val lesions of class `true` whose likeliest class is `predicted`, nearest to the other side of the
    decision first: a miss with the highest probability of the true class first, a hit with the lowest."""
    return _of_class(predictions, true, predictions.probabilities.argmax(axis=1) == predicted,
                     highest_first=true != predicted)


def missed(predictions: Predictions, true: int) -> np.ndarray:
    """Val lesions of class `true` called anything else, the nearest misses (highest P(true)) first: the whole
    row of the confusion matrix but its diagonal."""
    return _of_class(predictions, true, predictions.probabilities.argmax(axis=1) != true, highest_first=True)


def _of_class(predictions: Predictions, true: int, called: np.ndarray, highest_first: bool) -> np.ndarray:
    chosen = np.flatnonzero((predictions.labels == true) & called)
    return _ordered(chosen, predictions.probabilities[chosen, true], highest_first=highest_first)


def caught(predictions: Predictions, condition: str) -> np.ndarray:
    """Whether each val lesion's likeliest class is one of the condition's: what the OR ensemble counts."""
    return np.isin(predictions.probabilities.argmax(axis=1), condition_classes(predictions, condition))


def caught_by_one(first: Predictions, second: Predictions, condition: str) -> tuple[np.ndarray, np.ndarray]:
    """Val lesions with the condition that `first` catches and `second` misses, and those the other way round:
    together, what the OR ensemble gains over each run alone. Each list comes in the order of the missing run's
    score for the condition, highest first (its nearest misses)."""
    same_val_set(first, second)
    positive = has_condition(first, condition)
    by_first, by_second = caught(first, condition), caught(second, condition)
    only_first = np.flatnonzero(positive & by_first & ~by_second)
    only_second = np.flatnonzero(positive & by_second & ~by_first)
    return (_ordered(only_first, score(second, condition)[only_first], highest_first=True),
            _ordered(only_second, score(first, condition)[only_second], highest_first=True))


def preview_images(labels: np.ndarray) -> np.ndarray:
    """Train indices of the augmentation preview: the first image of each PREVIEW_CLASSES class the split has."""
    firsts = [np.flatnonzero(labels == CLASSES.index(name))[:1] for name in PREVIEW_CLASSES]
    return np.concatenate(firsts)


def _ordered(indices: np.ndarray, keys: np.ndarray, highest_first: bool) -> np.ndarray:
    """`indices` sorted by `keys`; ties keep val order, so a gallery never reshuffles between two openings."""
    return indices[np.argsort(-keys if highest_first else keys, kind="stable")]
