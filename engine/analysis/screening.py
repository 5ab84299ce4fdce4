"""The screening questions asked of stored val predictions, without retraining: which threshold reaches a
target sensitivity and what it costs (the operating point), and how two runs do together (the ensembles).

"Malignant" means akiec, bcc or mel (the page's cancer classes); every other lesion is benign. Each val lesion
stands for one patient, so the val set's class mix is the prevalence the figures assume.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.analysis.metrics import macro_auc
from engine.classes import CANCER_CLASSES, CLASSES, MEL
from engine.errors import UserError

# What an operating point screens for: the classes whose lesions count as having the condition.
CONDITIONS = {"mel": ("mel",), "cancer": CANCER_CLASSES}
RULES = ("or", "mean")
MALIGNANT = [CLASSES.index(c) for c in CANCER_CLASSES]


@dataclass(frozen=True)
class Predictions:
    """A finished run's val labels (N) and class probabilities (N × 7), as stored."""
    run_id: str
    name: str
    labels: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class OperatingPoint:
    run_id: str
    condition: str  # a key of CONDITIONS; "class" on the command line and in JSON
    target: float  # the sensitivity asked for
    threshold: float  # lesions whose score is at least this are flagged
    sensitivity: float  # reached on val; above target when tied scores cross the threshold together
    specificity: float | None  # None when every val lesion has the condition
    flagged_per_1000: float

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        return {"run_id": fields.pop("run_id"), "class": fields.pop("condition"), **fields}


def condition_classes(condition: str) -> list[int]:
    if condition not in CONDITIONS:
        raise UserError(f"Unknown class '{condition}'; an operating point screens for one of {', '.join(CONDITIONS)}.")
    return [CLASSES.index(c) for c in CONDITIONS[condition]]


def score(probabilities: np.ndarray, condition: str) -> np.ndarray:
    """Each lesion's probability of having the condition: P(mel), or P(akiec)+P(bcc)+P(mel) for cancer.
    With `has_condition`, this is what a ROC curve of the condition plots."""
    return probabilities[:, condition_classes(condition)].sum(axis=1)


def has_condition(labels: np.ndarray, condition: str) -> np.ndarray:
    return np.isin(labels, condition_classes(condition))


def operating_point(predictions: Predictions, target: float = 0.9, condition: str = "mel") -> OperatingPoint:
    """The highest threshold on `score` whose sensitivity on val reaches `target`, and what it costs.

    - sensitivity: share of val lesions with the condition that are flagged (score ≥ threshold);
    - specificity: share of val lesions without the condition that are not flagged (for mel, bcc and akiec
      count as without it, as on the condition's ROC curve);
    - flagged_per_1000: benign lesions (not akiec, bcc or mel) flagged, per 1,000 val lesions — the
      unnecessary referrals among 1,000 patients with the val set's class mix. A flagged bcc or akiec is not
      counted: that referral is a cancer found.
    """
    if not 0 < target <= 1:
        raise UserError(f"Target sensitivity {target} is outside (0, 1]; give a share such as 0.9.")
    scores, positive = score(predictions.probabilities, condition), has_condition(predictions.labels, condition)
    if not positive.any():
        raise UserError(f"The val set of run {predictions.run_id} holds no '{condition}' lesions to be sensitive to.")
    # The k-th highest positive score flags k positives; k is the fewest that reach the target. The small
    # tolerance keeps 0.7 × 10 from rounding up to 8.
    needed = math.ceil(target * positive.sum() - 1e-9)
    threshold = float(np.sort(scores[positive])[::-1][needed - 1])
    flagged = scores >= threshold
    benign = ~np.isin(predictions.labels, MALIGNANT)
    return OperatingPoint(predictions.run_id, condition, target, threshold,
                          sensitivity=float(flagged[positive].mean()), specificity=_share(~flagged[~positive]),
                          flagged_per_1000=float((flagged & benign).sum() / len(flagged) * 1000))


@dataclass(frozen=True)
class Screening:
    """How one model, or an ensemble, screens the val set (None where the val set has no such lesions)."""
    malignant_sensitivity: float | None  # share of akiec+bcc+mel lesions flagged as any of those three
    specificity: float | None  # share of benign lesions not flagged
    mel_recall: float | None  # share of melanomas called melanoma
    auc: float | None  # macro AUC; None for the or rule, which has no probabilities


def _screen(labels: np.ndarray, flagged: np.ndarray, called_mel: np.ndarray, auc: float | None) -> Screening:
    malignant = np.isin(labels, MALIGNANT)
    return Screening(_share(flagged[malignant]), _share(~flagged[~malignant]), _share(called_mel[labels == MEL]),
                     None if auc is None or not math.isfinite(auc) else float(auc))


def by_argmax(labels: np.ndarray, probabilities: np.ndarray) -> Screening:
    """The figures of calling each lesion its likeliest class: one run alone, or the mean rule."""
    predicted = probabilities.argmax(axis=1)
    return _screen(labels, np.isin(predicted, MALIGNANT), predicted == MEL, macro_auc(labels, probabilities))


@dataclass(frozen=True)
class Member:
    run_id: str
    name: str
    figures: Screening


@dataclass(frozen=True)
class Ensemble:
    rule: str
    members: tuple[Member, Member]
    figures: Screening

    def to_dict(self) -> dict[str, Any]:
        figures = {k: v for k, v in asdict(self.figures).items() if k != "auc" or self.rule == "mean"}
        members = [{"run_id": m.run_id, "name": m.name, **asdict(m.figures)} for m in self.members]
        return {"members": members, "rule": self.rule, **figures}


def ensemble(first: Predictions, second: Predictions, rule: str = "or") -> Ensemble:
    """`or`: a lesion is flagged malignant when either run's argmax is akiec, bcc or mel, and called melanoma
    when either calls it mel. `mean`: the argmax of the averaged probabilities decides both."""
    if rule not in RULES:
        raise UserError(f"Unknown ensemble rule '{rule}'; use one of {', '.join(RULES)}.")
    if first.run_id == second.run_id:
        raise UserError(f"Both ids name run {first.run_id}; an ensemble combines two different runs.")
    same_val_set(first, second)
    labels = first.labels
    if rule == "mean":
        figures = by_argmax(labels, (first.probabilities + second.probabilities) / 2)
    else:
        calls = [p.probabilities.argmax(axis=1) for p in (first, second)]
        figures = _screen(labels, np.isin(calls[0], MALIGNANT) | np.isin(calls[1], MALIGNANT),
                            (calls[0] == MEL) | (calls[1] == MEL), None)
    return Ensemble(rule, (_member(first), _member(second)), figures)


def _member(predictions: Predictions) -> Member:
    return Member(predictions.run_id, predictions.name, by_argmax(predictions.labels, predictions.probabilities))


def same_val_set(first: Predictions, second: Predictions) -> None:
    """Two runs can be set side by side lesion by lesion only when they were scored on the same val set."""
    if not np.array_equal(first.labels, second.labels):
        raise UserError(f"Runs {first.run_id} and {second.run_id} were scored on different val sets "
                        "(real and synthetic, or different data files), so they cannot be combined.")


def _share(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if hits.size else None
