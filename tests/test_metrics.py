"""The page's metrics, checked on predictions small enough to work out by hand, and against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import (
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from engine.analysis.metrics import evaluate, macro_auc
from tests.conftest import noisy_predictions


def one_hot_probabilities(predicted: list[int]) -> np.ndarray:
    probabilities = np.full((len(predicted), 7), 0.01)
    probabilities[np.arange(len(predicted)), predicted] = 0.94
    return probabilities


LABELS = np.array([0, 0, 1, 2, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6])
#                  akiec   bcc bkl df  mel (4)     nv (4)      vasc
PREDICTED = [0, 5, 1, 2, 5, 4, 4, 5, 5, 5, 5, 5, 4, 6]


def test_recall_precision_and_the_page_summaries():
    metrics = evaluate(LABELS, one_hot_probabilities(PREDICTED))
    assert metrics["recall"] == pytest.approx({"akiec": 0.5, "bcc": 1, "bkl": 1, "df": 0, "mel": 0.5, "nv": 0.75,
                                               "vasc": 1})
    assert metrics["mel_recall"] == pytest.approx(0.5)
    assert metrics["mel_precision"] == pytest.approx(2 / 3)  # 3 predicted mel, 2 right
    assert metrics["cancer_sensitivity"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert metrics["balanced_accuracy"] == pytest.approx((0.5 + 1 + 1 + 0 + 0.5 + 0.75 + 1) / 7)
    assert metrics["accuracy"] == pytest.approx(9 / 14)
    assert metrics["confusion"][4] == [0, 0, 0, 0, 2, 2, 0]
    assert metrics["f1"]["mel"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_macro_auc_is_the_mean_of_one_vs_rest_aucs():
    labels = np.array([0, 1, 2, 3, 4, 5, 6] * 2)
    probabilities = np.full((14, 7), 1 / 7)
    probabilities[np.arange(7), np.arange(7)] += 0.3  # the first copy of each class ranked first: perfect
    probabilities /= probabilities.sum(1, keepdims=True)
    # Per class, 2 positives x 12 negatives. The boosted positive beats all 12. The other (1/7) beats the 6
    # boosted rows of other classes (1/7 / 1.3) and ties the 6 plain ones: 6 + 3. AUC = (12 + 9) / 24.
    assert macro_auc(labels, probabilities) == pytest.approx(21 / 24)


def test_auc_is_nan_when_undefined():
    assert np.isnan(macro_auc(np.zeros(7, dtype=int), np.full((7, 7), 1 / 7)))
    probabilities = one_hot_probabilities(PREDICTED)
    probabilities[0, 0] = np.nan
    assert np.isnan(macro_auc(LABELS, probabilities))


@pytest.mark.parametrize("seed", range(5))
def test_the_metrics_are_scikit_learns(seed):
    labels, probabilities = noisy_predictions(seed)  # many tied scores, which an AUC must count half
    probabilities[:, 6] = 0  # no vasc predicted: scikit-learn's zero_division=0 for its precision
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    predicted, classes = probabilities.argmax(1), list(range(7))
    metrics = evaluate(labels, probabilities)
    assert metrics["auc"] == pytest.approx(roc_auc_score(labels, probabilities, multi_class="ovr", labels=classes))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    for key, expected in {"precision": precision, "recall": recall, "f1": f1, "support": support}.items():
        assert list(metrics[key].values()) == pytest.approx(expected.tolist()), key
    assert metrics["confusion"] == confusion_matrix(labels, predicted, labels=classes).tolist()
