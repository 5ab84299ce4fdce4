"""What each measure is called and what it means, said once for every screen, table and legend.

Two measures of cancer sit side by side and differ for the same run: the page's cancer sensitivity averages the
three cancer classes' own recalls (a bcc called mel is a miss), while screening's malignant sensitivity counts a
cancer as caught when it is called any of the three (that bcc is caught). Each is always shown under its own
name, with its meaning beside it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.classes import CRITICAL, DEFAULT, class_names


@dataclass(frozen=True)
class Measure:
    header: str  # a table's column header
    name: str  # a figure's label, or in a sentence
    meaning: str  # one line: how it is computed
    percent: bool = True  # a proportion: a percent in every table (JSON and CSV keep the fraction)


MEASURES = {
    "auc": Measure("AUC", "AUC (macro)", "the mean of the 7 one-vs-rest ROC AUCs", percent=False),
    "mel_recall": Measure("mel rec", "melanoma recall", "share of melanomas called mel"),
    "cancer_sensitivity": Measure("cancer", "cancer sensitivity",
                                  "mean of the akiec, bcc and mel recalls, as the page defines it"),
    "malignant_sensitivity": Measure("malignant", "malignant sensitivity",
                                     "share of akiec, bcc and mel lesions called any one of the three"),
    "specificity": Measure("specificity", "specificity", "share of benign lesions not flagged"),
    "sensitivity": Measure("sensitivity", "sensitivity", "share of the lesions screened for that are flagged"),
    "accuracy": Measure("acc", "accuracy", "share of val lesions called right"),
    "balanced_accuracy": Measure("bal acc", "balanced accuracy", "mean of the 7 classes' recalls"),
    "recall": Measure("recall", "recall", "share of a class's lesions called that class"),
    "target": Measure("target", "target sensitivity", "the sensitivity asked for"),
}
CLINICAL = ("mel_recall", "cancer_sensitivity")  # the page's two, which each set's critical classes take over


def of_set(dataset: str | None) -> dict[str, Measure]:
    """MEASURES as a set's runs fill them: the clinical two named after its critical classes (engine.classes), or
    left out on a set that declares none (its views show neither, rather than an empty column). On DermaMNIST or
    with no set chosen, the page's."""
    if dataset in (None, DEFAULT):
        return MEASURES
    count = len(class_names(dataset))  # the page's words count DermaMNIST's seven classes
    counted = {**MEASURES,
               "auc": replace(MEASURES["auc"], meaning=f"the mean of the {count} one-vs-rest ROC AUCs"),
               "balanced_accuracy": replace(MEASURES["balanced_accuracy"], meaning=f"mean of the {count} classes' "
                                            "recalls"),
               # images, not lesions: of the 2D sets only DermaMNIST's are skin lesions
               "accuracy": replace(MEASURES["accuracy"], meaning="share of val images called right"),
               "recall": replace(MEASURES["recall"], meaning="share of a class's images called that class"),
               "sensitivity": replace(MEASURES["sensitivity"], meaning="share of the images screened for that are "
                                      "flagged")}  # specificity: tui.text.screening names the images it spares
    critical = CRITICAL.get(dataset)
    if critical is None:
        return {key: measure for key, measure in counted.items() if key not in CLINICAL}
    focus, group = critical.titles
    return {**counted,
            "mel_recall": Measure(focus, f"recall of '{critical.focus}'",
                                  f"share of the val images of '{critical.focus}' called so"),
            "cancer_sensitivity": Measure(group, f"{group} sensitivity",
                                          f"mean of the {', '.join(critical.group)} recalls")}


def set_titles(dataset: str | None) -> tuple[str, str] | None:
    """The set's titles of the two clinical measures; None where they are the page's (whose words stay as they
    are: "melanoma recall" on a chart, "mel recall" in a sentence)."""
    critical = None if dataset in (None, DEFAULT) else CRITICAL.get(dataset)
    return None if critical is None else critical.titles


def retitled(header: str, key: str, measures: dict[str, Measure]) -> str:
    """A column's title with the page's name of its clinical measure, if it has one, replaced by the set's ("mel rec
    95% CI" for `mel_recall_ci`)."""
    measure = measure_of(key)
    for clinical in CLINICAL:
        if measure is MEASURES[clinical] and clinical in measures:
            return header.replace(measure.header, measures[clinical].header)
    return header


def held(key: str, measures: dict[str, Measure]) -> bool:
    """Whether a set whose measures are `measures` (of_set) has the figure of this key: not mel_recall, its interval,
    the page's figure or the difference from it where the set declares no critical class."""
    measure = measure_of(key.removeprefix("delta_").removesuffix("_verdict").removesuffix("_delta"))
    return not any(measure is MEASURES[clinical] and clinical not in measures for clinical in CLINICAL)


# Keys that name a measure and say which of its numbers: its spread, the page's figure, an interval, ...
SUFFIXES = ("_std", "_published", "_ci", "_low", "_high")
PREFIXES = ("val_", "test_")  # ... and the split it was measured on (dermalab test: test_mel_recall beside val_auc)


def measure_of(key: str) -> Measure | None:
    """The measure a row key holds: 'mel_recall_std' and 'recall_bcc' are proportions too."""
    for suffix in SUFFIXES:
        key = key.removesuffix(suffix)
    for prefix in PREFIXES:
        key = key.removeprefix(prefix)
    return MEASURES.get(key) or (MEASURES["recall"] if key.startswith("recall_") else None)


SYNTHETIC = "synth: synthetic data, not comparable with the page"  # the legend of rows from synthetic runs


def explained(*keys: str, measures: dict[str, Measure] = MEASURES) -> str:
    """'cancer: mean of ...' for each key, in one line for a legend or below a table."""
    return " · ".join(f"{measures[key].header}: {measures[key].meaning}" for key in keys)
