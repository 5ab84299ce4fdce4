"""Which lesions the galleries pick, and how an image becomes half-block characters, checked on tables and
images small enough to work out by hand."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console
from rich.segment import Segments

from engine.analysis import lesions
from engine.analysis.screening import Predictions
from engine.errors import UserError
from engine.training import data
from tests.conftest import C, val_labels, val_probabilities, write_lesion_file
from tui.text.halfblocks import CUBE, RAMP, UPPER_HALF, cell_rows

# 4 pixel rows x 3 columns, every pixel a different colour.
TINY = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]],
                 [[10, 20, 30], [40, 50, 60], [70, 80, 90]],
                 [[255, 255, 0], [0, 255, 255], [255, 0, 255]],
                 [[1, 2, 3], [4, 5, 6], [7, 8, 9]]], np.uint8)


def test_each_cell_is_its_upper_pixel_over_its_lower_pixel():
    rows = cell_rows(TINY)
    assert len(rows) == 2 and all(len(row) == 3 for row in rows)
    for r, row in enumerate(rows):
        for c, segment in enumerate(row):
            assert segment.text == UPPER_HALF
            assert segment.style.color.triplet == tuple(TINY[2 * r, c])
            assert segment.style.bgcolor.triplet == tuple(TINY[2 * r + 1, c])


def test_twice_the_size_repeats_each_pixel_over_two_columns_and_a_whole_cell():
    rows = cell_rows(TINY, scale=2)
    assert len(rows) == 4 and all(len(row) == 6 for row in rows)
    for r, row in enumerate(rows):
        for c, segment in enumerate(row):
            pixel = tuple(TINY[r, c // 2])
            assert (segment.style.color.triplet, segment.style.bgcolor.triplet) == (pixel, pixel)


def test_without_colour_each_cell_is_the_brightness_of_its_two_pixels():
    picture = np.zeros((2, 3, 3), np.uint8)
    picture[:, 1] = 255  # white over white
    picture[0, 2] = 255  # white over black: half as bright
    [[segment]] = cell_rows(picture, colour=False)
    assert segment.style is None
    assert segment.text == RAMP[0] + RAMP[-1] + RAMP[round((len(RAMP) - 1) / 2)]


def test_a_256_colour_terminal_gets_palette_colours_that_still_differ():
    console = Console(file=io.StringIO(), color_system="256", force_terminal=True, width=10)
    console.print(Segments(cell_rows(TINY)[0]))
    written = console.file.getvalue()
    assert "38;2;" not in written and "48;2;" not in written  # no true colour left
    foreground = re.findall(r"38;5;(\d+)", written)
    assert foreground == ["196", "46", "21"]  # pure red, green and blue: the palette's own, still apart


def test_a_256_colour_terminal_gets_a_dither_of_the_palettes_levels_in_proportion():
    # 155 lies halfway between the cube's 135 and 175: half the pixels of a flat patch round up, half down
    patch = np.full((8, 8, 3), 155, np.uint8)
    rows = cell_rows(patch, dither=True)
    colours = [segment.style.color.triplet[0] for row in rows for segment in row]
    colours += [segment.style.bgcolor.triplet[0] for row in rows for segment in row]
    assert sorted(set(colours)) == [135, 175] and colours.count(175) == len(colours) // 2
    assert set(colours) <= set(CUBE.tolist())


def test_a_confusion_cell_holds_its_lesions_nearest_misses_first():
    predictions = Predictions("a", "A", val_labels(), val_probabilities())
    assert lesions.confusion_cell(predictions, C["mel"], C["nv"]).tolist() == [2, 0, 13]  # P(mel) .40 .30 .10
    assert lesions.confusion_cell(predictions, C["nv"], C["nv"]).tolist() == [6, 4]  # hits: narrowest first
    assert lesions.confusion_cell(predictions, C["df"], C["df"]).tolist() == []
    assert lesions.missed(predictions, C["mel"]).tolist() == [2, 0, 3, 13]


def calls(*called: str) -> np.ndarray:
    """Probabilities that make each lesion's likeliest class the one named."""
    probabilities = np.full((len(called), 7), 0.1)
    probabilities[np.arange(len(called)), [C[name] for name in called]] = 0.4
    return probabilities


def test_what_one_run_catches_and_the_other_misses():
    labels = np.array([C[name] for name in ("mel", "mel", "mel", "bcc", "akiec", "nv", "mel")])
    first = Predictions("a", "A", labels, calls("mel", "nv", "mel", "bcc", "nv", "mel", "bcc"))
    second = Predictions("b", "B", labels, calls("nv", "mel", "mel", "nv", "akiec", "nv", "nv"))
    # Melanomas: A calls 0, 2 mel; B calls 1, 2 mel. Lesion 6 A calls bcc: a cancer caught, a melanoma missed.
    assert [found.tolist() for found in lesions.caught_by_one(first, second, "mel")] == [[0], [1]]
    # Cancers (akiec, bcc, mel: lesions 0-4 and 6): A calls a cancer for 0, 2, 3, 6; B for 1, 2, 4.
    assert [sorted(found.tolist()) for found in lesions.caught_by_one(first, second, "cancer")] == [[0, 3, 6], [1, 4]]


def test_the_catches_come_nearest_miss_of_the_other_run_first():
    labels = np.array([C["mel"]] * 3)
    first = Predictions("a", "A", labels, calls("mel", "mel", "mel"))
    nearly = calls("nv", "nv", "nv")
    nearly[:, C["mel"]] = [0.2, 0.35, 0.3]  # B's P(mel), still below its P(nv)
    second = Predictions("b", "B", labels, nearly)
    assert lesions.caught_by_one(first, second, "mel")[0].tolist() == [1, 2, 0]


def test_runs_on_different_val_sets_cannot_be_compared():
    first = Predictions("a", "A", np.array([4, 5]), calls("mel", "nv"))
    second = Predictions("b", "B", np.array([5, 4]), calls("mel", "nv"))
    with pytest.raises(UserError, match="different val sets"):
        lesions.caught_by_one(first, second, "mel")


def test_the_preview_takes_the_first_train_image_of_four_classes():
    labels = np.array([C[name] for name in ("nv", "nv", "mel", "bcc", "bkl", "mel")])
    assert lesions.preview_images(labels).tolist() == [2, 0, 4, 3]  # mel, nv, bkl, bcc


def test_recorded_data_is_read_again_and_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("DERMALAB_DATA_URL", "http://127.0.0.1:9/never-asked")
    path = write_lesion_file(tmp_path / "lesions.npz")
    assert data.recorded(str(path)).labels["val"].tolist() == val_labels().tolist()
    with pytest.raises(UserError) as missing:
        data.recorded(str(tmp_path / "gone.npz"))
    assert "gone.npz is missing" in str(missing.value) and str(missing.value).count(". ") == 0
    with pytest.raises(UserError, match=r"dermamnist\.npz is missing"):
        data.recorded(data.MEDMNIST_SOURCE)  # this test's empty DERMALAB_HOME: no download is tried
