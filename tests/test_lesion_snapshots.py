"""Snapshots of the lesion galleries and the augmentation preview at 80x24, over the tiny lesion file (see
tests/conftest.py), each taken once its images have loaded."""

from __future__ import annotations

import pytest

from tests.conftest import ACCELERATOR, other_run, val_labels, val_probabilities, wait_for_gallery
from tui.app.main import create_app
from tui.app.widgets.experiments.experiment_table import ExperimentTable
from tui.cli.main import build_parser

pytestmark = pytest.mark.slow  # each snapshot drives the app through Pilot and waits for its images to load

SIZE = (80, 24)


def app(*options: str):
    return create_app(build_parser().parse_args(list(options)), accelerator=ACCELERATOR)


def after(*keys: str):
    """Press the keys, then wait for the gallery they open to load; the notices the keys raised go."""
    async def run_before(pilot) -> None:
        await pilot.press(*keys)
        await wait_for_gallery(pilot)
        pilot.app.clear_notifications()
    return run_before


def test_confusion_cell_gallery(snap_compare, store_run, lesion_file):
    store_run(val_labels(), val_probabilities(), synthetic=False, run_id="fixed0run")
    assert snap_compare(app("--data", "synthetic"), terminal_size=SIZE, run_before=after("l", "enter", "enter"))


def test_missed_melanomas_without_colour(snap_compare, store_run, lesion_file, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    store_run(val_labels(), val_probabilities(), synthetic=False, run_id="fixed0run")
    assert snap_compare(app("--data", "synthetic"), terminal_size=SIZE, run_before=after("l", "M"))


def test_difference_gallery(snap_compare, store_run, lesion_file):
    store_run(val_labels(), val_probabilities(), synthetic=False, run_id="first", seed=0)
    store_run(val_labels(), other_run(), synthetic=False, run_id="second", seed=1)
    assert snap_compare(app("--data", "synthetic"), terminal_size=SIZE,
                        run_before=after("l", "m", "down", "m", "c", "i"), press=["c"])


@pytest.mark.processes
def test_augmentation_preview(snap_compare, lesion_file):
    async def run_before(pilot) -> None:
        table = pilot.app.screen.query_one(ExperimentTable)
        table.move_cursor(row=table.get_row_index("14"))  # the Normalize gotcha
        await after("p")(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=run_before)
