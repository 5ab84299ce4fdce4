"""A run's lesion galleries draw only from the data file it was scored on (issue 23, class 9): a file put in its
place under the same name, with other bytes, is said, and nothing is drawn from it, even where its val labels are
the run's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import UserError
from engine.store.runs import default_path
from tests.conftest import val_labels, val_probabilities
from tui.views import galleries


def test_a_gallery_draws_nothing_from_a_file_put_in_place_of_the_runs(lesion_file: Path, store_run):
    run_id = store_run(val_labels(), val_probabilities(), synthetic=False)
    assert galleries.missed_melanomas(default_path(), run_id).sections[0].tiles  # drawn from its own file
    with np.load(lesion_file) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays["val_images"] = 255 - arrays["val_images"]  # other images, the same labels in the same order
    with open(lesion_file, "wb") as replaced:
        np.savez(replaced, **arrays)
    with pytest.raises(UserError) as refused:
        galleries.missed_melanomas(default_path(), run_id)
    assert str(refused.value) == (
        f"{lesion_file} is not the file run {run_id} was scored on (its MD5 differs from the one the run recorded), "
        "so no lesion is drawn from it; put the run's file back there to see them.")
