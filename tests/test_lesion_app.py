"""The lesion galleries and the augmentation preview in the app, driven by their keys (Pilot), on runs stored
over the tiny lesion file; images and probabilities load in a worker, the preview's draws in a child process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import numpy as np
import pytest
from textual.widgets import Static

from tests.conftest import LOADING_SECONDS, REPO, notices, other_run, val_labels, val_probabilities, wait_for_gallery
from tui.app.main import create_app
from tui.app.screens.gallery import AugmentPreviewScreen, GalleryScreen
from tui.app.screens.run_detail import RunDetailScreen
from tui.app.widgets.experiments.experiment_table import ExperimentTable
from tui.app.widgets.pictures.image_grid import ImageGrid
from tui.cli.main import build_parser
from tui.text.halfblocks import CUBE, UPPER_HALF

pytestmark = pytest.mark.slow  # the app under Pilot loads its galleries in a worker, the preview in a child process

SIZE = (80, 24)


def app():
    return create_app(build_parser().parse_args(["--data", "synthetic"]), accelerator="CPU · test")


def shown(screen: GalleryScreen) -> list[list[int]]:
    """The val index of each image, section by section, as its caption says it."""
    sections = screen.query_one(ImageGrid).sections
    return [[int(tile.caption[0].split()[1]) for tile in section.tiles] for section in sections]


def test_enter_on_a_confusion_cell_shows_exactly_its_lesions(store_run, lesion_file):
    store_run(val_labels(), val_probabilities(), synthetic=False)
    val_images = np.load(lesion_file)["val_images"]

    async def drive():
        async with app().run_test(size=SIZE) as pilot:
            await pilot.press("l", "enter", "enter")  # the cursor starts on true mel, called nv
            await wait_for_gallery(pilot)
            assert shown(pilot.app.screen) == [[2, 0, 13]]  # by hand from VAL_TABLE, highest P(mel) first
            tiles = pilot.app.screen.query_one(ImageGrid).sections[0].tiles
            assert all(np.array_equal(tile.image, val_images[i]) for tile, i in zip(tiles, [2, 0, 13]))
            assert tiles[0].caption == ("val 2 · mel → nv", "P(mel) 0.40  P(nv) 0.45")
            await pilot.press("escape", "up", "up", "up", "enter")  # mel -> df -> bkl -> bcc, still called nv
            await wait_for_gallery(pilot)
            assert shown(pilot.app.screen) == [[8]]
            await pilot.press("escape", "right", "right", "enter")  # bcc called vasc (the last column): none
            assert isinstance(pilot.app.screen, RunDetailScreen)  # an empty cell says so, and opens nothing
            assert "No val lesion of class bcc was called vasc" in " ".join(notices(pilot.app))

    asyncio.run(drive())


def test_M_jumps_to_the_missed_melanomas_two_across_at_80x24_and_scrolls_to_the_lesions_below(store_run, lesion_file):
    # One gallery for three checks (an app each would cost a start-up and a gallery load each).
    store_run(val_labels(), val_probabilities(), synthetic=False)

    async def drive():
        async with app().run_test(size=SIZE) as pilot:
            await pilot.press("l", "M")  # four lesions, two across: the second row starts below the screen
            await wait_for_gallery(pilot)
            assert shown(pilot.app.screen) == [[2, 0, 3, 13]]
            grid = pilot.app.screen.query_one(ImageGrid)
            assert grid.sections[0].title == "melanomas called something else: 4 of 5"
            assert images_across(grid) == (2 * 28, 1)
            assert grid.has_focus and grid.max_scroll_y > 0
            await pilot.press("end")
            await pilot.pause()
            lines = [grid.render_line(y).text for y in range(grid.size.height)]
            assert any("val 13 · mel → nv" in line for line in lines)  # the last lesion's caption

    asyncio.run(drive())


def images_across(grid: ImageGrid) -> tuple[int, int]:
    """The half-block cells on the grid's first line of images (the line under the section title), and the scale."""
    line = grid.render_line(1)
    return sum(segment.text.count(UPPER_HALF) for segment in line), grid.scale


def test_a_256_colour_terminal_gets_dithered_lesions_and_the_way_to_true_colour(store_run, lesion_file,
                                                                               monkeypatch):
    store_run(val_labels(), val_probabilities(), synthetic=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "")

    async def drive():
        async with app().run_test(size=SIZE) as pilot:
            await pilot.press("l", "M")
            legend = await wait_for_gallery(pilot)
            assert "this terminal shows 256 colours, so the images are dithered" in legend
            assert "COLORTERM=truecolor" in legend
            line = pilot.app.screen.query_one(ImageGrid).render_line(3)
            levels = {channel for segment in line if segment.text == UPPER_HALF
                      for channel in (*segment.style.color.triplet, *segment.style.bgcolor.triplet)}
            assert levels and levels <= set(CUBE.tolist())  # the palette's own colours, mixed by the dither

    asyncio.run(drive())


def test_the_gallery_draws_lesions_twice_the_size_on_a_big_terminal(store_run, lesion_file):
    """Two lesions across at 80×24 (above); twice their size where the terminal has room."""
    store_run(val_labels(), val_probabilities(), synthetic=False)

    async def drive():
        async with app().run_test(size=(130, 45)) as pilot:
            await pilot.press("l", "M")
            await wait_for_gallery(pilot)
            assert images_across(pilot.app.screen.query_one(ImageGrid)) == (2 * 2 * 28, 2)

    asyncio.run(drive())


def test_two_marked_runs_show_what_one_catches_and_the_other_misses(store_run, lesion_file):
    store_run(val_labels(), val_probabilities(), synthetic=False, run_id="first", seed=0)
    store_run(val_labels(), other_run(), synthetic=False, run_id="second", seed=1)

    async def drive():
        async with app().run_test(size=SIZE) as pilot:
            await pilot.press("l", "m", "down", "m", "c", "i")
            await wait_for_gallery(pilot)
            screen = pilot.app.screen
            a_is_first = "run first" in str(screen.query(".title").first(Static).render())
            mel = [[1], [0]] if a_is_first else [[0], [1]]
            assert shown(screen) == mel
            await pilot.press("c")  # any cancer: bcc 8 joins the second run's catches
            assert shown(screen) == ([[1], [0, 8]] if a_is_first else [[0, 8], [1]])

    asyncio.run(drive())


def test_a_missing_data_file_is_one_sentence_on_screen(store_run, lesion_file):
    store_run(val_labels(), val_probabilities(), synthetic=False)
    lesion_file.unlink()

    async def drive():
        async with app().run_test(size=SIZE) as pilot:
            await pilot.press("l", "M")
            said = await wait_for_gallery(pilot)
            assert said.startswith("The images are not at hand: ") and said.endswith("to see them.")
            assert not pilot.app.screen.query_one(ImageGrid).sections

    asyncio.run(drive())


@pytest.mark.processes
def test_leaving_the_preview_stops_its_child(lesion_file):
    async def drive():
        async with create_app(build_parser().parse_args([]), accelerator="CPU · test").run_test(size=SIZE) as pilot:
            table = pilot.app.screen.query_one(ExperimentTable)
            table.move_cursor(row=table.get_row_index("14"))
            await pilot.press("p")
            screen = pilot.app.screen
            assert isinstance(screen, AugmentPreviewScreen)
            await pilot.pause()
            title = screen._compositor.render_strips()[1].text.strip()  # at 80 columns the words give way, not ops
            assert title == "#14 +Normalize (gotcha) · train: hflip → rotation → color_jitter → normalize", title
            deadline = time.monotonic() + LOADING_SECONDS
            while screen.child.process is None:  # the worker thread starts the child
                assert time.monotonic() < deadline, "the preview's child never started"
                await pilot.pause(0.05)
            assert screen.child.process.poll() is None  # importing torch takes longer than this
            await pilot.press("escape")
            assert screen.child.process.poll() is not None

    asyncio.run(drive())


PREVIEW = """
import asyncio, json, sys
from textual.widgets import Static
from tests.conftest import wait_for_gallery
from tui.app.main import create_app
from tui.cli.main import build_parser
from tui.app.widgets.experiments.experiment_table import ExperimentTable
from tui.app.widgets.pictures.image_grid import ImageGrid

def loaded():
    return [m for m in ("tui.views.galleries", "engine.analysis.lesions") if m in sys.modules]

async def main():
    async with create_app(build_parser().parse_args([]), accelerator="CPU").run_test(size=(80, 24)) as pilot:
        at_first_paint = loaded()
        table = pilot.app.screen.query_one(ExperimentTable)
        table.move_cursor(row=table.get_row_index("14"))
        await pilot.press("p")
        said = await wait_for_gallery(pilot)
        sections = pilot.app.screen.query_one(ImageGrid).sections
        print(json.dumps({"torch": "torch" in sys.modules, "at_first_paint": at_first_paint, "opened": loaded(),
                          "legend": said, "titles": [s.title for s in sections],
                          "captions": [[list(t.caption) for t in s.tiles] for s in sections]}))

asyncio.run(main())
"""


@pytest.mark.processes
def test_the_preview_draws_in_a_child_and_the_app_never_imports_torch(lesion_file):
    """Experiment 14's Normalize: every draw leaves 0…1, while each image goes in within it."""
    done = subprocess.run([sys.executable, "-c", PREVIEW], cwd=REPO, capture_output=True, text=True,
                          timeout=LOADING_SECONDS + 60, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["torch"] is False
    assert seen["at_first_paint"] == [] and "tui.views.galleries" in seen["opened"]  # images load when a gallery opens
    assert seen["titles"] == [f"train image {i} ({name}): as it goes in, then 4 draws"
                              for i, name in enumerate(("mel", "nv", "bkl", "bcc"))]
    for captions in seen["captions"]:
        assert captions[0][0] == "as it goes in" and "clipped" not in captions[0][1]
        assert [c[0] for c in captions[1:]] == ["draw 1", "draw 2", "draw 3", "draw 4"]
        assert all(c[1].endswith(" clipped") for c in captions[1:])
