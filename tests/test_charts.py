"""The data behind each chart, from a store whose figures are fixed by hand: which points, which means and
spreads, in which order."""

import sqlite3

import pytest

from engine.experiments.load import load
from engine.store.runs import Store
from tests.conftest import fill_chart_runs, noisy_predictions
from tui.views import charts

STD_8, STD_23 = 0.01, 0.0141421  # AUC std of experiment 8's three seeds and 23's two, in conftest's CHART_RUNS
CHARTS = ["clinical", "metrics", "auc_ranked", "chapters", "arc", "auc_time", "auc_params"]


@pytest.fixture
def built(store_run) -> dict[str, charts.Chart]:
    fill_chart_runs(store_run)
    built = charts.build(Store().groups(), load())
    assert [chart.key for chart in built] == CHARTS  # the app's order, and the report's
    return {chart.key: chart for chart in built}


def points(series: charts.Series) -> list[tuple]:
    return [(p.label, p.x, p.y, p.x_spread, p.y_spread, p.n) for p in series.points]


def approx(rows: list[tuple]) -> list[tuple]:
    return [tuple(pytest.approx(v, abs=1e-6) if isinstance(v, float) else v for v in row) for row in rows]


def test_clinical_scatter_means_spreads_and_the_page(built):
    chart = built["clinical"]
    ours, page = chart.series
    assert points(ours) == approx([("8", 0.90, 0.2, STD_8, 0.1, 3), ("14", 0.54, 0.0, None, None, 1),
                                   ("20", 0.93, 0.41, None, None, 1), ("23", 0.92, 0.3, STD_23, 0.141421, 2)])
    assert page.page and points(page) == approx([("8", 0.8966, 0.41, None, None, 1),
                                                 ("14", 0.5385, 0.0, None, None, 1),
                                                 ("20", 0.9292, 0.41, None, None, 1),
                                                 ("23", 0.9148, 0.28, None, None, 1)])
    assert (chart.zone.x, chart.zone.y) == ((0.8, 1.0), (0.0, 0.5))


def test_metric_bars_side_by_side_in_experiment_order(built):
    auc, mel, cancer = built["metrics"].series
    assert [s.name for s in (auc, mel, cancer)] == ["AUC", "mel recall", "cancer sensitivity"]
    assert points(cancer) == approx([("8", 1, 0.6, None, 0.1, 3), ("14", 2, 0.0, None, None, 1),
                                     ("20", 3, 0.45, None, None, 1), ("23", 4, 0.4, None, 0.141421, 2)])
    assert [p.y for p in auc.points] == pytest.approx([0.90, 0.54, 0.93, 0.92])
    assert built["metrics"].slots == [(1, "8"), (2, "14"), (3, "20"), (4, "23")]


def test_ranked_bars_are_seed_means_best_first(built):
    chart = built["auc_ranked"]
    (ours,) = chart.series
    assert points(ours) == approx([("20", 1, 0.93, None, None, 1), ("23", 2, 0.92, None, STD_23, 2),
                                   ("8", 3, 0.90, None, STD_8, 3), ("14", 4, 0.54, None, None, 1)])
    assert (chart.target, chart.y_from) == (0.90, 0.5)


def test_chapter_groups_keep_the_pages_numbers_and_a_gap_between(built):
    chapters = built["chapters"].series
    assert [(s.name, [(p.label, p.x) for p in s.points]) for s in chapters] == [
        ("3 Build a Better Architecture", [("8", 1)]), ("4 Data Augmentation", [("14", 3)]),
        ("7 Learning Rate Scheduling", [("20", 5)]), ("9 Transfer Learning", [("23", 7)])]


def test_the_arc_follows_experiment_ids(built):
    ours, page = built["arc"].series
    assert points(ours) == approx([("8", 8, 0.90, None, STD_8, 3), ("14", 14, 0.54, None, None, 1),
                                   ("20", 20, 0.93, None, None, 1), ("23", 23, 0.92, None, STD_23, 2)])
    assert [(p.x, p.y) for p in page.points] == [(8, 0.8966), (14, 0.5385), (20, 0.9292), (23, 0.9148)]


def test_time_and_parameters_on_log_axes(built):
    time, params = built["auc_time"], built["auc_params"]
    assert time.log_x and params.log_x
    assert points(time.series[0]) == approx([("8", 12.0, 0.90, 2.0, STD_8, 3), ("14", 35.0, 0.54, None, None, 1),
                                             ("20", 40.0, 0.93, None, None, 1),
                                             ("23", 90.0, 0.92, 14.142136, STD_23, 2)])
    assert [(p.label, p.x) for p in time.series[1].points] == [("8", 12.5), ("14", 35.7), ("20", 36.9), ("23", 86.9)]
    assert [(p.label, p.x) for p in params.series[0].points] == [("8", 94599), ("14", 94599), ("20", 94599),
                                                                 ("23", 11180103)]


def test_real_runs_replace_synthetic_ones(store_run):
    fill_chart_runs(store_run)
    labels, probabilities = noisy_predictions(1)
    store_run(labels, probabilities, experiment_id=11, synthetic=False, auc=0.92)
    ranked = {chart.key: chart for chart in charts.build(Store().groups(), load())}["auc_ranked"]
    assert [(p.label, p.y) for p in ranked.series[0].points] == [("11", 0.92)]


def test_unfinished_runs_are_left_out(store_run, dermalab_home):
    fill_chart_runs(store_run)
    with sqlite3.connect(dermalab_home / "runs.sqlite") as db:
        db.execute("UPDATE runs SET status = 'cancelled' WHERE experiment_id = 14")
    ranked = charts.build(Store().groups(), load())[2]
    assert [p.label for p in ranked.series[0].points] == ["20", "23", "8"]


def test_groups_of_one_experiment_are_labelled_by_what_tells_them_apart(store_run, dermalab_home):
    labels, probabilities = noisy_predictions(2)
    store_run(labels, probabilities, synthetic=False, auc=0.90)
    store_run(labels, probabilities, synthetic=False, auc=0.91, precision="bf16")
    store_run(labels, probabilities, synthetic=False, auc=0.70, run_id="mine")
    store_run(labels, probabilities, experiment_id=20, synthetic=False, auc=0.93)
    store_run(labels, probabilities, experiment_id=20, synthetic=False, auc=0.80, run_id="mine, changed")
    with sqlite3.connect(dermalab_home / "runs.sqlite") as db:
        db.execute("UPDATE runs SET data = '/data/mine.npz', data_fingerprint = '0123456789' WHERE run_id = 'mine'")
        db.execute("UPDATE runs SET data = 'dermamnist (medmnist)', data_fingerprint = 'abcdef0123'"
                   " WHERE run_id = 'mine, changed'")
    ranked = charts.build(Store().groups(), load())[2]
    assert [(p.label, p.y) for p in ranked.series[0].points] == [
        ("20 md5 074469", 0.93), ("8 dermamnist bf16", 0.91), ("8 dermamnist fp32", 0.90),
        ("20 md5 abcdef", 0.80), ("8 mine.npz fp32", 0.70)]


def test_an_empty_store_says_what_to_run_for_every_chart():
    for chart in charts.build([], load()):
        assert not chart.has_points and "dermalab run" in chart.empty


def test_quick_looks_are_left_out_counted_and_drawn_marked_when_asked(store_run):
    labels, probabilities = noisy_predictions(0)
    store_run(labels, probabilities, experiment_id=8, epochs=1, auc=0.8)
    store_run(labels, probabilities, experiment_id=20, auc=0.9)
    store_run(labels, probabilities, experiment_id=23, pretrained=False, auc=0.7)  # from scratch: never drawn
    groups = Store().groups()
    assert charts.quick_looks_left_out(groups, load()) == 1
    ranked = charts.build(groups, load())[2]
    assert [p.label for p in ranked.series[0].points] == ["20"]
    ranked = charts.build(groups, load(), quick_looks=True)[2]
    assert [(p.label, p.y) for p in ranked.series[0].points] == [("20", 0.9), ("8 1ep", 0.8)]
