"""A run's train_seconds count training only: the time its caller spends with each progress event is left out."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.events import BatchProgress, RunFinished
from engine.experiments.load import load
from engine.training.data import Dataset
from engine.training.train import RunOptions, train

pytestmark = pytest.mark.slow  # it trains

PAUSE = 0.5  # seconds a slow caller (a progress bar on a slow terminal) spends with each batch event


def test_time_the_caller_spends_with_progress_is_not_training_time():
    rng = np.random.default_rng(0)
    labels = {split: np.repeat(np.arange(7), 4) for split in ("train", "val", "test")}
    images = {split: rng.integers(0, 256, size=(28, 28, 28, 3), dtype=np.uint8) for split in labels}
    paused = 0.0
    dataset = Dataset("tiny", True, images, labels, "tiny")
    for event in train(load()[1].spec, dataset, RunOptions(device="cpu", epochs=3), "t"):
        if isinstance(event, BatchProgress):
            time.sleep(PAUSE)
            paused += PAUSE
        finished = event
    assert isinstance(finished, RunFinished) and paused >= 3 * PAUSE
    # The whole run's clock holds the pauses; the training clock must not.
    assert finished.metrics["train_seconds"] + paused <= finished.metrics["wall_seconds"]
