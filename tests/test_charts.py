"""The data behind each chart, from a store whose figures are fixed by hand: which points, which means and
spreads, in which order."""

import pytest

from engine.experiments import load
from engine.store import Store
from tests.conftest import noisy_predictions
from tui import charts

# (experiment, seed, AUC, mel recall, cancer sensitivity, train seconds, params)
RUNS = [(8, 0, 0.89, 0.1, 0.5, 10.0, 94599), (8, 1, 0.90, 0.2, 0.6, 12.0, 94599), (8, 2, 0.91, 0.3, 0.7, 14.0, 94599),
        (14, 0, 0.54, 0.0, 0.0, 35.0, 94599), (20, 0, 0.93, 0.41, 0.45, 40.0, 94599),
        (23, 0, 0.91, 0.2, 0.3, 80.0, 11180103), (23, 1, 0.93, 0.4, 0.5, 100.0, 11180103)]


def fill(store_run) -> None:
    labels, probabilities = noisy_predictions(0)
    for experiment_id, seed, auc, mel, cancer, seconds, params in RUNS:
        store_run(labels, probabilities, experiment_id=experiment_id, seed=seed, run_id=f"e{experiment_id}s{seed}",
                  auc=auc, mel_recall=mel, cancer_sensitivity=cancer, train_seconds=seconds, params=params)


@pytest.fixture
def built(store_run) -> dict[str, charts.Chart]:
    fill(store_run)
    return {chart.key: chart for chart in charts.build(Store().runs(), load())}


def test_ranked_bars_are_seed_means_best_first(built):
    chart = built["auc_ranked"]
    (ours,) = chart.series
    assert [(p.label, p.x, p.n) for p in ours.points] == [("20", 1, 1), ("23", 2, 2), ("8", 3, 3), ("14", 4, 1)]
    assert [p.y for p in ours.points] == pytest.approx([0.93, 0.92, 0.90, 0.54])
    assert ours.points[0].y_spread is None  # a lone run has no spread
    assert [p.y_spread for p in ours.points[1:3]] == pytest.approx([0.01414, 0.01], abs=1e-4)
    assert chart.target == 0.90


def test_real_runs_replace_synthetic_ones(store_run):
    fill(store_run)
    labels, probabilities = noisy_predictions(1)
    store_run(labels, probabilities, experiment_id=11, synthetic=False, auc=0.92)
    (ours,) = charts.build(Store().runs(), load())[0].series
    assert [(p.label, p.y) for p in ours.points] == [("11", 0.92)]


def test_an_empty_store_says_what_to_run():
    chart = charts.build([], load())[0]
    assert not chart.has_points and "dermalab run" in chart.empty
