"""What each lesion gallery shows, read from the store and from the data a run recorded: a legend that says the
order and the numbers, and sections of captioned val images. It reads images and probabilities and imports
numpy, so the app calls it from a worker thread when a gallery opens, never for its first screen."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

from engine.classes import CLASSES, DEFAULT, DEFAULT_SIZE, MEL, medset
from engine.errors import UserError
from engine.experiments.spec import Experiment
from engine.store.runs import Store
from tui.text.numbers import plural
from tui.text.screening import condition_short
from tui.views.tiles import Gallery, Section, Tile

if TYPE_CHECKING:
    import numpy as np

    from engine.analysis.screening import Predictions

CONDITION_WORDS = {"mel": ("melanoma", "mel"), "cancer": ("cancer", "akiec, bcc or mel")}  # DermaMNIST's

@dataclass(frozen=True)
class Scored:
    """A finished run's predictions beside the val images they were made on."""
    predictions: Predictions
    images: np.ndarray  # val split, N × S × S × 3 uint8 (a grey set's repeated to three channels: drawn in grey)
    classes: tuple[str, ...] = CLASSES  # of the run's set
    focus: int | None = MEL  # its critical class (engine.classes.CRITICAL); None where it declares none


def confusion_cell(store_path: Path, run_id: str, true: int, predicted: int) -> Gallery:
    from engine.analysis import lesions

    scored = load(store_path, run_id)
    chosen = lesions.confusion_cell(scored.predictions, true, predicted)
    name = scored.classes[true]
    order = "highest first: the nearest misses" if true != predicted else "lowest first: the narrowest catches"
    title = f"true {name}, called {scored.classes[predicted]}: {plural(len(chosen), 'lesion')}"
    return Gallery(f"ordered by P({name}), {order}", [Section(title, _called_tiles(scored, chosen))])


def missed_melanomas(store_path: Path, run_id: str) -> Gallery:
    from engine.analysis import lesions

    scored = load(store_path, run_id)
    focus = scored.focus
    if focus is None:
        raise UserError(f"Run {run_id}'s set declares no critical class, so no missed case is singled out; the "
                        "confusion matrix's cells (enter in the run's detail) show any class's.")
    name = scored.classes[focus]
    cases = "melanomas" if scored.classes == CLASSES else f"{name} images"
    chosen = lesions.missed(scored.predictions, focus)
    title = f"{cases} called something else: {len(chosen)} of {int((scored.predictions.labels == focus).sum())}"
    return Gallery(f"ordered by P({name}), highest first: the nearest misses",
                   [Section(title, _called_tiles(scored, chosen))])


def differences(store_path: Path, first_id: str, second_id: str) -> dict[str, Gallery]:
    """Per condition (mel, cancer; on another set its focus class and critical group): the val lesions one run
    catches and the other misses, both ways."""
    from engine.analysis import lesions, screening

    first, second = load(store_path, first_id), load(store_path, second_id)
    galleries = {}
    for condition, (noun, classes) in condition_words(first.predictions).items():
        only_first, only_second = lesions.caught_by_one(first.predictions, second.predictions, condition)
        scores = [screening.score(s.predictions, condition) for s in (first, second)]
        calls = [s.predictions.probabilities.argmax(axis=1) for s in (first, second)]
        legend = (f"caught: called {classes} · caption: the true class, then each run's call and its "
                  f"P({condition_short(first.predictions.dataset, condition)}), nearest misses first · the OR "
                  "ensemble catches both sets")
        tiles = partial(_compared, first, calls, scores)
        galleries[condition] = Gallery(legend, [
            Section(f"A catches, B misses: {plural(len(only_first), noun)}", tiles(only_first)),
            Section(f"B catches, A misses: {plural(len(only_second), noun)}", tiles(only_second))])
    return galleries


def condition_words(predictions: Predictions) -> dict[str, tuple[str, str]]:
    """Per condition: what its cases are called, and the classes that catch one (UserError where the run's set
    declares no critical class)."""
    from engine.analysis import screening

    if predictions.dataset == DEFAULT:
        return CONDITION_WORDS
    critical = screening.critical(predictions)
    focus = (f"{critical.focus} image", critical.focus)
    if critical.group == (critical.focus,):  # a binary set's, PathMNIST's: both galleries show the same images
        return {"mel": focus, "cancer": focus}
    return {"mel": focus, "cancer": (f"{critical.titles[1]} image", " or ".join(critical.group))}


def _compared(scored: Scored, calls: list[np.ndarray], scores: list[np.ndarray], chosen: np.ndarray) -> list[Tile]:
    """The chosen val lesions, each captioned with its true class, then each run's (A, B) call and its score."""
    names = scored.classes
    return [Tile(scored.images[i], (f"val {i} · {names[scored.predictions.labels[i]]}",
                                    "  ".join(f"{who} {names[call[i]]} {score[i]:.2f}"
                                              for who, call, score in zip("AB", calls, scores))))
            for i in chosen]


def augmentation(experiment: Experiment, drawn: dict[str, np.ndarray]) -> Gallery:
    """The preview's images (as `augment_preview.draw` writes them): each train image as it goes in, then its
    draws of the train transform."""
    sections = []
    for k, (index, label) in enumerate(zip(drawn["indices"], drawn["labels"])):
        inputs = drawn["inputs"][k]
        tiles = [Tile(inputs, ("as it goes in", _values(inputs.min() / 255, inputs.max() / 255)))]
        tiles += [Tile(shown[k], (f"draw {n}", _values(low[k], high[k])))
                  for n, (shown, low, high) in enumerate(zip(drawn["shown"], drawn["low"], drawn["high"]), start=1)]
        sections.append(Section(f"train image {index} ({CLASSES[label]}): as it goes in, then "
                                f"{plural(len(tiles) - 1, 'draw')}", tiles))
    if not experiment.spec.augment:
        return Gallery("no train transform: training sees each image as it goes in", sections)
    return Gallery("each draw: the engine's batched train transform, as training sees it (values beyond 0…1 "
                   "clipped to show them) · val images get none", sections)


def _values(low: float, high: float) -> str:
    return f"values {low:.2f}…{high:.2f}" + (" clipped" if low < 0 or high > 1 else "")


def _called_tiles(scored: Scored, chosen: np.ndarray) -> list[Tile]:
    """Captions: the val index, the true class and the call, then the probability of each."""
    labels, probabilities = scored.predictions.labels, scored.predictions.probabilities
    tiles = []
    for i in chosen:
        true, called = int(labels[i]), int(probabilities[i].argmax())
        names = scored.classes
        words = [f"P({names[c]}) {probabilities[i, c]:.2f}" for c in dict.fromkeys((true, called))]
        tiles.append(Tile(scored.images[i], (f"val {i} · {names[true]} → {names[called]}", "  ".join(words))))
    return tiles


def load(store_path: Path, run_id: str) -> Scored:
    """A finished run's predictions and its val images, from the data it recorded (UserError if that is gone or
    no longer holds the val set the run was scored on). A connection of its own: it runs in a worker thread."""
    import numpy as np

    from engine.store import summary

    with closing(Store(store_path)) as store:
        run = store.get(run_id)
    if run is None:
        raise UserError(f"Run {run_id} is no longer in the store; it may have been pruned.")
    predictions = summary.predictions_of(run)
    _require_the_file_scored_on(run)
    images, labels = _val_split(run["data"], run["dataset"], run["size"])
    if not np.array_equal(labels, predictions.labels):
        raise UserError(f"The val set of {run['data']} is not the one run {run_id} was scored on, so its lesions "
                        "cannot be shown.")
    chosen = medset(run["dataset"], run["size"])
    return Scored(predictions, images, chosen.classes, chosen.focus)


def _require_the_file_scored_on(run: dict) -> None:
    """A file put in place of the one a run was scored on (same name, other bytes) may hold the same labels in the
    same order, so its images would pass for the run's: its fingerprint is compared first. A fingerprint not
    recorded (a version-0 run's data that had changed) leaves the labels to be compared; a file gone is said when it
    is read."""
    from engine.training import data

    path = data.source_path(run["data"], run["dataset"], run["size"])
    if path is None or run["data_fingerprint"] is None or not path.is_file():
        return
    if data.fingerprint(path) != run["data_fingerprint"]:
        raise UserError(f"{path} is not the file run {run['run_id']} was scored on (its MD5 differs from the one the "
                        "run recorded), so no lesion is drawn from it; put the run's file back there to see them.")


def _val_split(source: str, name: str = DEFAULT, size: int = DEFAULT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    from engine.training import data

    if source == "synthetic":
        return _synthetic_val()
    dataset = data.recorded(source, name, size)
    images = dataset.images["val"]
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images, dataset.labels["val"]


@lru_cache(maxsize=1)  # the synthetic set takes seconds to make, and it never changes
def _synthetic_val() -> tuple[np.ndarray, np.ndarray]:
    from engine.training import data

    dataset = data.synthetic()
    return dataset.images["val"], dataset.labels["val"]
