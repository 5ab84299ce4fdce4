"""What the screening screens and commands (operating point, ensembles) call their classes and figures on a set:
the page's words on DermaMNIST, its critical classes (engine.classes.CRITICAL) on another set. A set that declares
none has no clinical figure: its ensembles show AUC and accuracies, and it has no operating point."""

from __future__ import annotations

from engine.classes import CRITICAL, DEFAULT, class_names
from tui.text.measures import Measure, explained, of_set

PAGE_CONDITIONS = {"mel": "melanoma", "cancer": "any cancer (akiec, bcc or mel, as one)"}
CLINICAL = ["malignant_sensitivity", "specificity", "mel_recall", "auc"]  # an ensemble's figures, DermaMNIST's


def one_condition(dataset: str) -> bool:
    """Whether the set's critical group is its focus class alone (the binary sets, PathMNIST): then 'mel' and
    'cancer' screen for the same images, and there is nothing to switch between."""
    critical = CRITICAL.get(dataset)
    return critical is not None and critical.group == (critical.focus,)


def condition_name(dataset: str, condition: str) -> str:
    """What an operating point screens for, in a title: 'melanoma'; 'pneumonia'; 'any of drusen, ... (as one)'."""
    critical = CRITICAL.get(dataset)
    if dataset == DEFAULT or critical is None:
        return PAGE_CONDITIONS[condition]
    if condition == "mel" or one_condition(dataset):
        return critical.focus
    return f"any of {', '.join(critical.group)} (as one)"


def condition_short(dataset: str, condition: str) -> str:
    """The same in a plot's title or a key's words: 'mel'; on another set its columns' titles ('CNV', 'CNV+DME')."""
    critical = CRITICAL.get(dataset)
    if dataset == DEFAULT or critical is None:
        return condition
    focus, group = critical.titles
    return focus.removesuffix(" rec") if condition == "mel" else group


def condition_key(dataset: str) -> tuple[str, str] | None:
    """The words of the key that switches between focus class and group ('CNV/CNV+DME' and its tooltip); None on
    DermaMNIST, whose screens declare the page's, and where the set has no two to switch between."""
    if dataset == DEFAULT or CRITICAL.get(dataset) is None or one_condition(dataset):
        return None
    focus, group = (condition_short(dataset, condition) for condition in ("mel", "cancer"))
    return f"{focus}/{group}", (f"Switch between {condition_name(dataset, 'mel')} and "
                                f"{condition_name(dataset, 'cancer')}")


def missed_key(dataset: str) -> tuple[str, str] | None:
    """The words of the key that opens a run's missed critical cases ('Missed TUM' and its tooltip); None on
    DermaMNIST, whose screens declare the page's 'Missed mel', and on a set that declares no critical class."""
    critical = CRITICAL.get(dataset)
    if dataset == DEFAULT or critical is None:
        return None
    return (f"Missed {condition_short(dataset, 'mel')}",
            f"The run's {critical.focus} images called something else, the nearest misses first")


def switches(dataset: str) -> bool:
    """Whether the set has a focus class and a wider critical group to switch between (DermaMNIST: mel, cancer)."""
    return CRITICAL.get(dataset) is not None and not one_condition(dataset)


def spared(dataset: str) -> str:
    """The images outside the critical group, whose flagging 'flagged per 1,000' counts: 'benign' on DermaMNIST,
    the other class on a binary set, 'non-CNV+DME' elsewhere."""
    critical = CRITICAL.get(dataset)
    if dataset == DEFAULT or critical is None:
        return "benign"
    others = [name for name in class_names(dataset) if name not in critical.group]
    return others[0] if len(others) == 1 else f"non-{critical.titles[1]}"


def measures(dataset: str) -> dict[str, Measure]:
    """MEASURES as screening fills them on the set: of_set's, with the flagged share and specificity of its critical
    group."""
    named, critical = of_set(dataset), CRITICAL.get(dataset)
    if dataset == DEFAULT or critical is None:
        return named
    group = critical.titles[1]
    return {**named,
            "malignant_sensitivity": Measure(f"{group} flagged", f"{group} flagged",
                                             f"share of the {', '.join(critical.group)} images called any of them"),
            "specificity": Measure("specificity", "specificity", f"share of the {spared(dataset)} images not flagged")}


def figure_keys(dataset: str) -> list[str]:
    """An ensemble's figures on the set: DermaMNIST's four; with one critical class, its recall stands for the
    flagged share (the two are equal); with none, AUC and the accuracies."""
    if CRITICAL.get(dataset) is None:
        return ["auc", "accuracy", "balanced_accuracy"]
    if one_condition(dataset):
        return ["mel_recall", "specificity", "auc"]
    return CLINICAL


def or_rule(dataset: str) -> str:
    """What the or rule flags, in words."""
    critical = CRITICAL.get(dataset)
    group = "akiec, bcc or mel" if dataset == DEFAULT or critical is None else " or ".join(critical.group)
    return f"flagged when either run calls it {group} (no probabilities, so no AUC)"


def legend(dataset: str) -> str:
    """What an ensemble's figures mean, in a line under them."""
    shown = measures(dataset)
    if CRITICAL.get(dataset) is None:
        return (f"{dataset} declares no critical class (engine/classes.py), so no clinical figure is shown · "
                f"{explained('accuracy', 'balanced_accuracy', measures=shown)}")
    if one_condition(dataset):
        return explained("mel_recall", "specificity", measures=shown)
    malignant, cancer = shown["malignant_sensitivity"], shown["cancer_sensitivity"]
    return (f"{malignant.name}: {malignant.meaning} · unlike the leaderboard's {cancer.name}: {cancer.meaning} · "
            f"{explained('specificity', measures=shown)}")
