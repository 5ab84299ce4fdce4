"""The synthetic stand-in: DermaMNIST's shapes and class counts, deterministic, learnable, still imbalanced."""

import numpy as np
import pytest

from engine.events import RunFinished
from engine.experiments.load import load
from engine.training.data import CLASS_COUNTS, synthetic
from engine.training.train import RunOptions, train


@pytest.fixture(scope="module")
def dataset():
    return synthetic()


def test_split_sizes_and_class_counts_are_the_official_ones(dataset):
    for split, counts in CLASS_COUNTS.items():
        assert dataset.images[split].shape == (sum(counts), 28, 28, 3)
        assert dataset.images[split].dtype == np.uint8
        assert tuple(np.bincount(dataset.labels[split], minlength=7)) == counts
    assert dataset.synthetic and dataset.source == "synthetic"


def test_generation_is_deterministic(dataset):
    again = synthetic()
    assert all(np.array_equal(dataset.images[s], again.images[s]) for s in CLASS_COUNTS)


def final_metrics(experiment_id, dataset, epochs, seed=0):
    options = RunOptions(seed=seed, epochs=epochs, device="cpu")
    events = list(train(load()[experiment_id].spec, dataset, options, "test"))
    assert isinstance(events[-1], RunFinished), events[-1]
    return events[-1].metrics


@pytest.mark.slow
def test_batchnorm_cnn_learns_it_within_two_epochs(dataset):
    assert final_metrics(8, dataset, epochs=2)["auc"] >= 0.85


@pytest.mark.slow
def test_an_underpowered_setup_still_collapses_to_the_majority_class(dataset):
    recall = final_metrics(4, dataset, epochs=2)["recall"]
    assert recall["nv"] > 0.95 and recall["mel"] < 0.05


@pytest.mark.slow
def test_same_seed_on_cpu_gives_the_same_metrics(dataset):
    first, second = (final_metrics(2, dataset, epochs=1, seed=3) for _ in range(2))
    timings = ("train_seconds", "wall_seconds", "images_per_second")
    assert {k: v for k, v in first.items() if k not in timings} == {k: v for k, v in second.items() if k not in timings}
