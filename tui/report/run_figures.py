"""The report's pictures of runs and lesions, beside the page's charts: each experiment's val AUC epoch by epoch,
the recall grid as a heatmap, the melanoma ROC curves of the top runs with their 90 % sensitivity points, and a
sheet of the best-AUC run's missed melanomas. Each is a `tui.report.png.Png`; matplotlib is imported by none of them."""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np

from engine.analysis import screening
from engine.errors import UserError
from engine.experiments.spec import Experiment
from engine.store import summary
from engine.store.runs import Store
from tui.report.png import Png
from tui.report.reported import Reported
from tui.views import galleries
from tui.views.charts import CHANCE_AUC
from tui.views.tiles import Tile

PANELS_ACROSS = 5  # AUC curves: experiments per row of small panels
SHEET_ACROSS = 10  # missed melanomas: images per row
CELL_INCHES = (1.1, 1.35)  # each image's place on that sheet, its caption above it
IMAGE_INCHES = 0.9  # the image itself, each way
SMALL = 7  # points: panel titles, captions
PAGE_LINE = "#888888"
LABEL_WIDTH = 10  # letters on a line of a class's name above the heatmap (a longer word keeps its line)


def pngs(groups: list[dict[str, Any]], runs: list[dict[str, Any]], top: list[dict[str, Any]], best: dict[str, Any],
         target: float, store: Store, experiments: dict[int, Experiment],
         chosen: Reported) -> tuple[list[Png], list[str]]:
    """The pictures, and a sentence for each one that cannot be drawn (the missed melanomas need the images the
    run was trained on). `groups`: Store.groups() of the reported data; `runs`: its finished runs. A set without
    critical classes has no ROC curves of one, nor a sheet of its misses."""
    drawable = [auc_curves(runs, experiments, store), recall_heatmap(groups, experiments, chosen)]
    if chosen.critical is None:
        return [picture for picture in drawable if picture is not None], []
    drawable.append(roc_curves(top, target, store, chosen))
    pictures = [picture for picture in drawable if picture is not None]
    try:
        pictures.append(missed_melanomas(best, store, chosen))
    except UserError as error:
        return pictures, [f"The sheet of missed {missed(chosen)} is left out. {error}\n"]
    return pictures, []


def missed(chosen: Reported) -> str:
    """What a sheet of the critical class's misses shows: 'melanomas' on DermaMNIST."""
    return "melanomas" if chosen.page else f"{chosen.focus} images"


def auc_curves(runs: list[dict[str, Any]], experiments: dict[int, Experiment], store: Store) -> Png | None:
    """None when no run has an epoch recorded."""
    by_experiment: dict[int, list[list[dict[str, Any]]]] = {}
    for run in runs:
        if history := store.history(run["run_id"]):
            by_experiment.setdefault(run["experiment_id"], []).append(history)
    if not by_experiment:
        return None
    names = {run["experiment_id"]: run["name"] for run in runs}  # each experiment's latest run's name

    def draw(figure: Any) -> None:
        from matplotlib.ticker import (
            MaxNLocator,  # only drawing needs matplotlib, which is an extra
        )

        across = min(PANELS_ACROSS, len(by_experiment))
        down = math.ceil(len(by_experiment) / across)
        figure.set_size_inches(2.2 * across, 1.6 * down + 0.4)
        panels = list(figure.subplots(down, across, sharey=True, squeeze=False).flat)
        # From chance to perfect (lower where a run fell below chance): a single epoch's value then sits on a
        # scale that reads, not in the middle of a span matplotlib makes up around one point.
        aucs = [e["val_auc"] for members in by_experiment.values() for epochs in members for e in epochs
                if e["val_auc"] is not None]
        panels[0].set_ylim(min([CHANCE_AUC, *aucs]) - 0.02, 1.01)
        for axes, (experiment_id, members) in zip(panels, sorted(by_experiment.items())):
            spec = experiments[experiment_id].spec if experiment_id in experiments else None
            axes.set_title(f"#{experiment_id} {names[experiment_id]}", fontsize=SMALL)
            for epochs in members:  # a run of one epoch is a dot: a line through one point is not drawn
                axes.plot([e["epoch"] for e in epochs], [e["val_auc"] for e in epochs], linewidth=1,
                          marker="o" if len(epochs) == 1 else None, markersize=3)
            if max(len(epochs) for epochs in members) == 1:
                axes.set_xlim(0.5, 1.5)
            if spec and spec.published:
                axes.axhline(spec.published.auc, color=PAGE_LINE, linestyle=":", linewidth=1)
            axes.tick_params(labelsize=SMALL)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        for axes in panels[len(by_experiment):]:  # the grid's empty places
            axes.set_visible(False)
        figure.supxlabel("epoch", fontsize=SMALL + 1)
        figure.supylabel("val AUC (macro)", fontsize=SMALL + 1)

    return Png("auc_curves.png", "Val AUC epoch by epoch, per experiment",
               "Read whether each run (one line per seed) was still climbing when it stopped, how far the seeds of "
               "one experiment spread, and where they end beside the page's final AUC (dotted).", draw)


def recall_heatmap(groups: list[dict[str, Any]], experiments: dict[int, Experiment], chosen: Reported) -> Png:
    rows, classes = summary.experiment_rows(groups, experiments), chosen.classes
    # Other sets' long class names go on lines of their own words, so that neighbours do not run into each other.
    names = [textwrap.fill(name, LABEL_WIDTH, break_long_words=False) for name in classes]
    lines = max(name.count("\n") + 1 for name in names)

    def draw(figure: Any) -> None:
        figure.set_size_inches(7.0 if chosen.page else 4 + 0.9 * len(classes), 0.3 * len(rows) + 1.2 + 0.2 * lines)
        axes = figure.add_subplot()
        grid = [[row["recall"].get(name) for name in classes] for row in rows]
        shown = axes.imshow([[math.nan if v is None else v for v in line] for line in grid], cmap="viridis",
                            vmin=0, vmax=1, aspect="auto")
        for y, line in enumerate(grid):
            for x, value in enumerate(line):
                ink = "white" if value is not None and value <= 0.5 else "black"  # legible on viridis's dark end
                axes.text(x, y, "–" if value is None else f"{value:.0%}", ha="center", va="center", fontsize=SMALL,
                          color=ink)
        axes.set_xticks(range(len(classes)), names, fontsize=None if chosen.page else SMALL)
        axes.set_yticks(range(len(rows)), [_group_label(row) for row in rows], fontsize=SMALL)
        axes.xaxis.tick_top()
        figure.colorbar(shown, ax=axes, label="recall (mean over seeds)")

    if chosen.critical is None:
        reading = ("Read each column against the others: a dark cell, beside a fine AUC, is a class the model still "
                   "calls something else.")
    else:
        reading = (f"Read the {'mel' if chosen.page else chosen.focus} column against the others: a dark cell there, "
                   f"beside a fine AUC, is a model that still calls many {missed(chosen)} something else.")
    return Png("recall_heatmap.png", "Recall per class as a heatmap", reading, draw)


def _group_label(row: dict[str, Any]) -> str:
    """An experiment's row, with what its group ran unlike the page (the data kind is said once, in the report)."""
    unlike = [words for words in row["differs"] if words != summary.SYNTHETIC_DATA]
    return f"#{row['experiment_id']} {row['name']}" + (f" ({', '.join(unlike)})" if unlike else "")


def roc_curves(top: list[dict[str, Any]], target: float, store: Store, chosen: Reported) -> Png | None:
    """The ROC curves of the set's critical class (melanoma on DermaMNIST); None when no top run has an image of
    it in its val set."""
    curves = []
    for row in top:
        predictions = summary.predictions(store, row["run_id"])
        try:
            point = screening.operating_point(predictions, target, "mel")
        except UserError:  # no melanoma to be sensitive to: the operating points table says so
            continue
        curves.append((row, predictions, point))
    if not curves:
        return None

    def draw(figure: Any) -> None:
        # scikit-learn (seconds to import) only where the curves are drawn: a report without matplotlib has none
        from sklearn.metrics import roc_curve

        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], color=PAGE_LINE, linestyle=":", linewidth=1)
        axes.axhline(target, color=PAGE_LINE, linestyle="--", linewidth=1)
        for row, predictions, point in curves:
            false_positive, true_positive, _ = roc_curve(screening.has_condition(predictions, "mel"),
                                                         screening.score(predictions, "mel"))
            label = f"#{row['experiment_id']} {row['name']} · seed {row['seed']} · macro AUC {row['auc']:.3f}"
            line, = axes.plot(false_positive, true_positive, linewidth=1.2, label=label)
            if point.specificity is not None:  # None: every val lesion is a melanoma, so no point can be placed
                axes.plot([1 - point.specificity], [point.sensitivity], "o", color=line.get_color())
        axes.set_xlabel("1 − specificity (share of non-melanomas sent)" if chosen.page
                        else "1 − specificity (share of the other images sent)")
        axes.set_ylabel(f"{chosen.focus} sensitivity")
        axes.legend(loc="lower right", fontsize=SMALL)

    focus, cases = chosen.focus, "lesions" if chosen.page else "images"
    return Png("roc_melanoma.png" if chosen.page else "roc_critical.png",
               f"{focus[0].upper()}{focus[1:]} ROC curves of the top {len(curves)} runs by AUC",
               f"Read each dot, where a run reaches {target:.0%} {focus} sensitivity (the dashed line), from left to "
               f"right: the further left, the fewer {cases} it sends for review to catch nine {missed(chosen)} in ten.",
               draw)


def sheet(tiles: list[Tile], across: int, down: int) -> np.ndarray:
    """The images (S × S × 3) on a white sheet, `across` a row, each at the foot of its cell (its caption goes
    above it)."""
    side = tiles[0].image.shape[0]
    cell_width, cell_height = (round(inches * side / IMAGE_INCHES) for inches in CELL_INCHES)
    paper = np.full((down * cell_height, across * cell_width, 3), 255, dtype=np.uint8)
    for number, tile in enumerate(tiles):
        row, column = divmod(number, across)
        top, left = (row + 1) * cell_height - side - 1, column * cell_width + (cell_width - side) // 2
        paper[top:top + side, left:left + side] = tile.image
    return paper


def missed_melanomas(best: dict[str, Any], store: Store, chosen: Reported) -> Png:
    """UserError when the run's images are not at hand."""
    gallery = galleries.missed_melanomas(store.path, best["run_id"])
    [section] = gallery.sections

    def draw(figure: Any) -> None:
        across = min(SHEET_ACROSS, max(1, len(section.tiles)))
        down = max(1, math.ceil(len(section.tiles) / across))
        width, height = CELL_INCHES[0] * across, CELL_INCHES[1] * down
        figure.set_size_inches(width, height + 0.5)
        # One picture of every image, not an axes each: laying out a hundred axes took seconds a report. The sheet
        # places itself, so no layout engine moves it.
        figure.set_layout_engine("none")
        axes = figure.add_axes((0, 0, 1, height / (height + 0.5)))
        if section.tiles:  # none when the run missed no case: the title says so
            axes.imshow(sheet(section.tiles, across, down), extent=(0, width, height, 0), aspect="auto")
        for number, tile in enumerate(section.tiles):
            row, column = divmod(number, across)
            axes.text((column + 0.5) * CELL_INCHES[0], row * CELL_INCHES[1] + 0.04,
                      "\n".join(tile.caption).replace("  ", "\n"), fontsize=5, ha="center", va="top")
        axes.set_axis_off()
        figure.suptitle(f"#{best['experiment_id']} {best['name']} · run {best['run_id']}: {section.title}",
                        fontsize=SMALL + 2)

    if chosen.page:
        return Png("missed_melanomas.png", "The best-AUC run's missed melanomas",
                   "Read every val melanoma that the run with the "
                   "highest AUC calls something else, nearest misses first, with the class it chose and both "
                   "probabilities: the patients behind its melanoma recall.",
                   draw)
    return Png("missed_critical.png", f"The best-AUC run's missed {missed(chosen)}",
               f"Read every val {chosen.focus} image that the run with the highest AUC calls something else, nearest "
               f"misses first, with the class it chose and both probabilities: the patients behind its "
               f"{chosen.titles[0]}.", draw)
