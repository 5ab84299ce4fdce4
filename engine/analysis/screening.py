"""The screening questions asked of stored val predictions, without retraining: which threshold reaches a
target sensitivity and what it costs (the operating point), and how two runs do together (the ensembles).

"Malignant" means akiec, bcc or mel (the page's cancer classes); every other lesion is benign. On another set the
set's critical classes (engine.classes.CRITICAL) take their places: its focus class melanoma's, its group the
cancers'; a set that declares none has no operating point and no OR rule, and its ensembles show AUC and
accuracies alone. Each val image stands for one patient, so the val set's class mix is the prevalence the figures
assume.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.analysis.metrics import macro_auc, share
from engine.classes import CRITICAL, DEFAULT, DEFAULT_SIZE, Critical, class_names, label
from engine.errors import UserError

# What an operating point screens for: the set's focus critical class ("mel": DermaMNIST's melanoma), or any class
# of its critical group ("cancer": akiec, bcc or mel), named as the columns whose places they take.
CONDITIONS = ("mel", "cancer")
RULES = ("or", "mean")
CALLED_ONCE = ("auc", "accuracy", "balanced_accuracy")  # figures of one probability per class, which the or rule lacks


@dataclass(frozen=True)
class Predictions:
    """A finished run's val labels (N) and class probabilities (N × its set's classes), as stored, and the set and
    size it ran on."""
    run_id: str
    name: str
    labels: np.ndarray
    probabilities: np.ndarray
    dataset: str = DEFAULT
    size: int = DEFAULT_SIZE

    @property
    def set_label(self) -> str:
        return label(self.dataset, self.size)


@dataclass(frozen=True)
class OperatingPoint:
    run_id: str
    condition: str  # one of CONDITIONS; "class" on the command line and in JSON
    target: float  # the sensitivity asked for
    threshold: float  # lesions whose score is at least this are flagged
    sensitivity: float  # reached on val; above target when tied scores cross the threshold together
    specificity: float | None  # None when every val lesion has the condition
    flagged_per_1000: float

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        return {"run_id": fields.pop("run_id"), "class": fields.pop("condition"), **fields}


def critical(predictions: Predictions) -> Critical:
    """The critical classes of the run's set (UserError where it declares none: no class is invented)."""
    declared = CRITICAL.get(predictions.dataset)
    if declared is None:
        raise UserError(f"Run {predictions.run_id} is on {predictions.set_label}, which declares no critical class "
                        "(engine/classes.py), so there is none to screen for; its AUC and accuracies are in results, "
                        "and an ensemble of two of its runs combines them by the mean rule.")
    return declared


def condition_classes(predictions: Predictions, condition: str) -> list[int]:
    """The labels that count as having the condition on the run's set."""
    if condition not in CONDITIONS:
        raise UserError(f"Unknown class '{condition}'; an operating point screens for one of {', '.join(CONDITIONS)}.")
    focus, group = critical_labels(predictions.dataset, critical(predictions))
    return [focus] if condition == "mel" else group


def critical_labels(dataset: str, declared: Critical) -> tuple[int, list[int]]:
    """The labels of the set's focus class and of its critical group."""
    names = class_names(dataset)
    return names.index(declared.focus), [names.index(c) for c in declared.group]


def score(predictions: Predictions, condition: str) -> np.ndarray:
    """Each image's probability of having the condition: P(mel), or P(akiec)+P(bcc)+P(mel) for cancer (on another
    set, of its focus class or any of its group). With `has_condition`, what a ROC curve of the condition plots."""
    return predictions.probabilities[:, condition_classes(predictions, condition)].sum(axis=1)


def has_condition(predictions: Predictions, condition: str) -> np.ndarray:
    return np.isin(predictions.labels, condition_classes(predictions, condition))


def operating_point(predictions: Predictions, target: float = 0.9, condition: str = "mel") -> OperatingPoint:
    """The highest threshold on `score` whose sensitivity on val reaches `target`, and what it costs.

    - sensitivity: share of val lesions with the condition that are flagged (score ≥ threshold);
    - specificity: share of val lesions without the condition that are not flagged (for mel, bcc and akiec
      count as without it, as on the condition's ROC curve);
    - flagged_per_1000: benign lesions (not akiec, bcc or mel; on another set, outside its critical group)
      flagged, per 1,000 val lesions — the
      unnecessary referrals among 1,000 patients with the val set's class mix. A flagged bcc or akiec is not
      counted: that referral is a cancer found.
    """
    if not 0 < target <= 1:
        raise UserError(f"Target sensitivity {target} is outside (0, 1]; give a share such as 0.9.")
    scores, positive = score(predictions, condition), has_condition(predictions, condition)
    if not positive.any():
        names = [class_names(predictions.dataset)[c] for c in condition_classes(predictions, condition)]
        cases = f"'{condition}' lesions" if predictions.dataset == DEFAULT else f"images of {' or '.join(names)}"
        raise UserError(f"The val set of run {predictions.run_id} holds no {cases} to be sensitive to.")
    # The k-th highest positive score flags k positives; k is the fewest that reach the target. The small
    # tolerance keeps 0.7 × 10 from rounding up to 8.
    needed = math.ceil(target * positive.sum() - 1e-9)
    threshold = float(np.sort(scores[positive])[::-1][needed - 1])
    flagged = scores >= threshold
    benign = ~has_condition(predictions, "cancer")
    return OperatingPoint(predictions.run_id, condition, target, threshold,
                          sensitivity=float(flagged[positive].mean()), specificity=_share(~flagged[~positive]),
                          flagged_per_1000=float((flagged & benign).sum() / len(flagged) * 1000))


@dataclass(frozen=True)
class Screening:
    """How one model, or an ensemble, screens the val set (None where the val set has no such lesions, or where
    the set declares no critical class)."""
    malignant_sensitivity: float | None  # share of akiec+bcc+mel lesions flagged as any of those three
    specificity: float | None  # share of benign lesions not flagged
    mel_recall: float | None  # share of melanomas called melanoma
    auc: float | None  # macro AUC; None for the or rule, which has no probabilities
    accuracy: float | None = None  # of the likeliest class; None for the or rule, which calls no one class
    balanced_accuracy: float | None = None  # the mean of the classes' recalls, as on the leaderboard


def _screen(labels: np.ndarray, calls: list[np.ndarray], dataset: str) -> dict[str, float | None]:
    """The clinical figures of one or more models' calls (argmax labels): a lesion is flagged when any call is in
    the critical group, and called the focus class when any call is it; None each where the set declares none."""
    declared = CRITICAL.get(dataset)
    if declared is None:
        return {"malignant_sensitivity": None, "specificity": None, "mel_recall": None}
    focus, group = critical_labels(dataset, declared)
    flagged = np.logical_or.reduce([np.isin(call, group) for call in calls])
    called_focus = np.logical_or.reduce([call == focus for call in calls])
    malignant = np.isin(labels, group)
    return {"malignant_sensitivity": _share(flagged[malignant]), "specificity": _share(~flagged[~malignant]),
            "mel_recall": _share(called_focus[labels == focus])}


def by_argmax(labels: np.ndarray, probabilities: np.ndarray, dataset: str = DEFAULT) -> Screening:
    """The figures of calling each lesion its likeliest class: one run alone, or the mean rule."""
    called, classes = probabilities.argmax(axis=1), probabilities.shape[1]
    recalls = share(np.bincount(labels[called == labels], minlength=classes), np.bincount(labels, minlength=classes))
    auc = macro_auc(labels, probabilities)
    return Screening(**_screen(labels, [called], dataset), auc=auc if math.isfinite(auc) else None,
                     accuracy=float((called == labels).mean()), balanced_accuracy=float(recalls.mean()))


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
        figures = {k: v for k, v in asdict(self.figures).items() if k not in CALLED_ONCE or self.rule == "mean"}
        members = [{"run_id": m.run_id, "name": m.name, **asdict(m.figures)} for m in self.members]
        return {"members": members, "rule": self.rule, **figures}


def rules(dataset: str) -> tuple[str, ...]:
    """The rules that apply on a set: the or rule flags the critical classes, so a set without any has only the mean."""
    return RULES if dataset in CRITICAL else ("mean",)


def ensemble(first: Predictions, second: Predictions, rule: str = "or") -> Ensemble:
    """`or`: a lesion is flagged malignant when either run's argmax is akiec, bcc or mel, and called melanoma
    when either calls it mel (on another set, its critical group and focus class). `mean`: the argmax of the
    averaged probabilities decides both."""
    if rule not in RULES:
        raise UserError(f"Unknown ensemble rule '{rule}'; use one of {', '.join(RULES)}.")
    if first.run_id == second.run_id:
        raise UserError(f"Both ids name run {first.run_id}; an ensemble combines two different runs.")
    same_val_set(first, second)
    if rule not in rules(first.dataset):
        raise UserError(f"The or rule flags the critical classes, and {first.set_label} declares none "
                        "(engine/classes.py); combine its runs with --rule mean.")
    labels = first.labels
    if rule == "mean":
        figures = by_argmax(labels, (first.probabilities + second.probabilities) / 2, first.dataset)
    else:
        calls = [p.probabilities.argmax(axis=1) for p in (first, second)]
        figures = Screening(**_screen(labels, calls, first.dataset), auc=None)
    return Ensemble(rule, (_member(first), _member(second)), figures)


def _member(predictions: Predictions) -> Member:
    return Member(predictions.run_id, predictions.name,
                  by_argmax(predictions.labels, predictions.probabilities, predictions.dataset))


def same_val_set(first: Predictions, second: Predictions) -> None:
    """Two runs can be set side by side lesion by lesion only when they ran on the same set at the same size and
    were scored on the same val set."""
    if (first.dataset, first.size) != (second.dataset, second.size):
        raise UserError(f"Run {first.run_id} is on {first.set_label} and run {second.run_id} on "
                        f"{second.set_label}; two runs combine only on the same set at the same size.")
    if not np.array_equal(first.labels, second.labels):
        raise UserError(f"Runs {first.run_id} and {second.run_id} were scored on different val sets "
                        "(real and synthetic, or different data files), so they cannot be combined.")


def _share(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if hits.size else None
