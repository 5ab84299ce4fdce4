"""The report's pictures of runs and lesions: drawn as PNG files beside report.md and linked from it, from runs
stored over the tiny lesion file; and without the images, a sentence instead of the sheet."""

from __future__ import annotations

import numpy as np
import pytest

from engine.events import EpochEnded
from engine.experiments.load import load
from engine.store.runs import Store
from tests.conftest import other_run, val_labels, val_probabilities
from tui.report import document as report
from tui.report import png

OURS = ["auc_curves.png", "recall_heatmap.png", "roc_melanoma.png", "missed_melanomas.png"]


def two_runs_with_epochs(store_run) -> None:
    for seed, probabilities in enumerate((val_probabilities(), other_run())):
        run_id = store_run(val_labels(), probabilities, synthetic=False, seed=seed)
        store = Store()
        for epoch, auc in enumerate((0.6, 0.7, 0.75), start=1):
            store.epoch(EpochEnded(run_id, epoch, 3, 1.0, 1.0, auc + seed / 100, 0.5, 0.1, 1.0))
        store.close()


@pytest.mark.slow
def test_the_lesion_figures_are_drawn_and_linked(store_run, lesion_file, tmp_path):
    two_runs_with_epochs(store_run)
    written = report.write(tmp_path / "out", Store(), load())
    pictures = {p.name: p for p in written if p.suffix == ".png"}
    assert set(OURS) <= set(pictures)
    text = written[0].read_text()
    for name in OURS:
        assert pictures[name].read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and pictures[name].stat().st_size > 10_000
        assert f"]({name})\n\n" in text
    assert "sheet of missed melanomas is left out" not in text


@pytest.mark.slow
def test_a_best_run_that_missed_no_melanoma_has_a_sheet_that_says_so(store_run, lesion_file, tmp_path):
    labels = val_labels()
    store_run(labels, np.eye(7)[labels], synthetic=False)  # every lesion called right
    report.write(tmp_path / "out", Store(), load())
    assert (tmp_path / "out" / "missed_melanomas.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.slow
def test_without_the_images_the_sheet_is_a_sentence(store_run, lesion_file, tmp_path):
    two_runs_with_epochs(store_run)
    lesion_file.unlink()
    written = report.write(tmp_path / "out", Store(), load())
    assert not (tmp_path / "out" / "missed_melanomas.png").exists()
    assert {"auc_curves.png", "roc_melanoma.png"} <= {p.name for p in written}
    assert "The sheet of missed melanomas is left out. The images are not at hand: " in written[0].read_text()


def test_a_name_with_dollar_signs_is_a_title_not_math(tmp_path):
    """matplotlib reads text between two $ as math; an experiment called 'a $^$ b' must not break the report."""
    def draw(figure):
        figure.add_subplot().set_title("#26 a $^$ b")

    [path] = png.write(tmp_path, [png.Png("named.png", "t", "r", draw)])
    assert path.read_bytes().startswith(b"\x89PNG")


def test_a_log_axis_keeps_the_maths_of_its_own_tick_labels(tmp_path):
    """Only text given to a figure is made literal: the powers of ten a log axis labels itself with (below a decade
    it labels its minor ticks '2×10³') are mathtext of matplotlib's own, and would print as '$\\mathdefault{...}$'."""
    drawn = []

    def draw(figure):
        axes = figure.add_subplot()
        axes.plot([2000, 5000], [0.5, 0.7])
        axes.set_xscale("log")
        drawn.append(axes)

    png.write(tmp_path, [png.Png("log.png", "t", "r", draw)])
    labels = [label for label in drawn[0].get_xticklabels(minor=True) if label.get_text()]
    assert labels and all(label.get_text().startswith("$") and label.get_parse_math() for label in labels)


def test_a_run_of_one_epoch_is_a_dot_on_a_scale_from_chance(store_run):
    from matplotlib.figure import Figure

    from tui.report.run_figures import auc_curves

    run_id = store_run(val_labels(), val_probabilities(), synthetic=False, epochs=1, history=True)
    store = Store()
    picture = auc_curves([store.get(run_id)], load(), store)
    store.close()
    figure = Figure()
    picture.draw(figure)
    [axes] = [axes for axes in figure.axes if axes.get_visible()]
    [line] = axes.get_lines()[:1]
    assert len(line.get_xdata()) == 1 and line.get_marker() == "o"  # a point matplotlib draws, as a dot
    low, high = axes.get_ylim()
    assert low <= 0.5 and high == pytest.approx(1.01)
    assert axes.get_xlim() == (0.5, 1.5)
