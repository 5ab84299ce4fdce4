"""The run detail, operating point and ensemble screens, driven by keys over runs written through the Store's own
methods: every number shown must be the engine's."""

from __future__ import annotations

import re
import time

import pytest
from textual.widgets import Static

from engine.analysis import screening
from engine.classes import CLASSES
from engine.experiments.load import load
from engine.store import summary
from tests.conftest import app_with, noisy_predictions, stored_on, synchronous
from tui.app.screens.ensemble import EnsembleScreen
from tui.app.screens.operating_point import OperatingPointScreen
from tui.app.screens.run_detail import RunDetailScreen
from tui.app.widgets.frame.key_line import our_bindings
from tui.app.widgets.results.confusion_matrix import ConfusionMatrix
from tui.app.widgets.results.figures import FigureTable
from tui.app.widgets.results.leaderboard_table import LeaderboardTable
from tui.app.widgets.results.roc_plot import RocPlot
from tui.app.widgets.run.curves import Curves
from tui.text import numbers

SIZE = (80, 24)


@pytest.fixture
def two_runs(store_run, stored) -> list[str]:
    """Two finished runs on the same val set, best AUC first (the leaderboard's first row)."""
    labels, first = noisy_predictions(0)
    _, second = noisy_predictions(1)
    ids = [store_run(labels, first, experiment_id=8), store_run(labels, second, experiment_id=10)]
    return sorted(ids, key=lambda run_id: stored.get(run_id)["auc"], reverse=True)


def cells(widget) -> list[list[str]]:
    """A rich table's cells as plain text, row by row."""
    table = widget.content
    columns = [[str(cell) for cell in column.cells] for column in table.columns]
    return [list(row) for row in zip(*columns)]


@pytest.mark.slow
@synchronous
async def test_the_run_detail_shows_its_intervals_and_matrix_in_sight_and_says_a_cell_is_empty(two_runs, stored):
    # One app opens the best run's detail for each check in turn (an app each would cost a start-up each).
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZE) as pilot:
        for check in (shows_the_run_with_its_intervals_and_confusion_matrix,
                      keeps_the_matrix_cursor_and_column_names_in_sight, says_an_empty_cell_is_empty):
            await pilot.press("l", "enter")
            assert isinstance(app.screen, RunDetailScreen)
            await check(app, pilot, stored.get(two_runs[0]))
            while len(app.screen_stack) > 1:
                await pilot.press("escape")


async def shows_the_run_with_its_intervals_and_confusion_matrix(app, pilot, run) -> None:
    metrics = run["metrics"]
    figures = cells(app.screen.query_one(FigureTable))
    assert figures[0] == ["AUC (macro)", numbers.auc(run["auc"]),
                          f"{numbers.auc(metrics['auc_ci'][0])}–{numbers.auc(metrics['auc_ci'][1])}"]
    low, high = metrics["mel_recall_ci"]
    assert figures[1][2] == f"{numbers.percent(low)}–{numbers.percent(high)}"
    matrix = cells(app.screen.query_one(ConfusionMatrix))
    expected = summary.confusion_rows(run)
    assert [row[0] for row in matrix] == [row["true"] for row in expected]
    assert [int(row[-1]) for row in matrix] == [row["n"] for row in expected]
    nevus = next(row for row in expected if row["true"] == "nv")
    assert matrix[5][6] == f"{nevus['nv']} {numbers.percent(nevus['nv_share']):>4}"
    await pilot.press("escape")
    assert app.current_mode == "leaderboard" and not isinstance(app.screen, RunDetailScreen)


@pytest.mark.slow
@synchronous
async def test_a_past_run_shows_when_where_and_how_it_ran_and_opens_its_operating_point(store_run, stored, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    labels, probabilities = noisy_predictions(0)
    run_id = store_run(labels, probabilities, experiment_id=11, epochs=4, history=True, precision="bf16")
    run = stored.get(run_id)
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "enter")
        facts = str(app.screen.query_one("#run-facts").render())
        started = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run["started_at"]))
        assert f"done · started {started} · 4 of 4 epochs · took " in facts and ", 1.0s training" in facts
        assert "device cpu · data synthetic" in facts
        loss, auc = app.screen.query(Curves)
        plotted = loss.plt.monitor  # what plotext was given: the epochs and values of each line
        assert plotted.x[0] == [1, 2, 3, 4] and plotted.y[0] == [entry["train_loss"] for entry in run["history"]]
        assert auc.plt.monitor.y[0] == [entry["val_auc"] for entry in run["history"]]
        config = str(app.screen.query_one("#run-config").render())
        assert "augment" in config and "hflip(p=0.5)" in config
        # --precision is the run's own choice, not something the experiments file changed since
        assert "bf16" in config and "experiments file now" not in config
        assert "training.epochs       4 (from --epochs; the experiment trains 10)" in config
        await pilot.press("o")
        assert isinstance(app.screen, OperatingPointScreen) and app.screen.predictions.run_id == run_id
        await pilot.press("escape")
        assert isinstance(app.screen, RunDetailScreen)


def point_figures(point: screening.OperatingPoint, spared: str = "benign") -> list[list[str]]:
    return [["threshold", f"{point.threshold:.3f}"], ["sensitivity", numbers.percent(point.sensitivity)],
            ["specificity", numbers.percent(point.specificity)],
            [f"{spared} flagged per 1,000", f"{point.flagged_per_1000:.0f}"]]


@pytest.mark.slow
@synchronous
async def test_operating_point_follows_its_keys_and_two_marked_runs_make_an_ensemble(two_runs, stored):
    # One app for both (an app each would cost a start-up each).
    app = app_with("--data", "synthetic")
    run = stored.predictions(two_runs[0])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "o")
        assert isinstance(app.screen, OperatingPointScreen)
        table = app.screen.query_one(FigureTable)
        assert cells(table) == point_figures(screening.operating_point(run, 0.9, "mel"))
        await pilot.press("minus", "minus", "c")
        assert cells(table) == point_figures(screening.operating_point(run, 0.8, "cancer"))
        await pilot.press(*["plus"] * 6)  # the target stops at 100 %
        assert cells(table) == point_figures(screening.operating_point(run, 1.0, "cancer"))
        point = screening.operating_point(run, 1.0, "cancer")
        assert f"X: threshold {point.threshold:.3f}" in str(app.screen.query_one(RocPlot).render())
        await pilot.press("escape")
        assert len(app.screen_stack) == 1  # back on the leaderboard, where the marks go
        await makes_an_ensemble_of_two_marked_runs_under_either_rule(app, pilot, two_runs, stored)


async def makes_an_ensemble_of_two_marked_runs_under_either_rule(app, pilot, two_runs, stored) -> None:
    first, second = map(stored.predictions, two_runs)
    await pilot.press("l", "c")  # nothing marked yet: says so, and stays
    assert not isinstance(app.screen, EnsembleScreen)
    await pilot.press("m", "down", "m")
    assert app.lab.marked == two_runs
    names = [str(cell) for cell in app.screen.query_one(LeaderboardTable).get_column("name")]
    assert all(name.startswith("● ") for name in names)
    await pilot.press("c")
    assert isinstance(app.screen, EnsembleScreen)
    for rule in ("or", "mean"):
        result = screening.ensemble(first, second, rule)
        columns = [member.figures for member in result.members] + [result.figures]
        shown = cells(app.screen.query_one(FigureTable))
        assert shown[0] == ["malignant sensitivity", *(numbers.percent(f.malignant_sensitivity) for f in columns)]
        assert shown[2] == ["melanoma recall", *(numbers.percent(f.mel_recall) for f in columns)]
        assert shown[3] == ["AUC (macro)", *(numbers.auc(f.auc) for f in columns)]
        await pilot.press("r")


@pytest.mark.slow
@synchronous
async def test_another_sets_operating_point_and_ensemble_follow_its_critical_classes(dermalab_home, stored):
    """OCTMNIST's focus is neovascularization (CNV), its group CNV and diabetic macular edema; BloodMNIST declares
    none, so its ensemble (pushed in the same app: a second app would cost a second start-up) shows AUC and
    accuracies under the mean rule alone, and its comparison no ROC."""
    from tui.app.screens.compare import CompareScreen
    from tui.app.widgets.results.run_lines import RunLines

    octs = [stored_on("octmnist"), stored_on("octmnist", seed=1)]
    blood_ids = [stored_on("bloodmnist", seed=seed) for seed in (1, 2)]
    bloods = [stored.predictions(run_id) for run_id in blood_ids]
    run = stored.predictions(octs[0])
    app = app_with("--data", "synthetic", "--dataset", "octmnist")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "o")
        assert isinstance(app.screen, OperatingPointScreen)
        title = app.screen.query_one("#point-title", Static)
        assert str(title.render()).endswith("screening for choroidal neovascularization")
        assert "CNV/CNV+DME" in descriptions(app)
        assert cells(app.screen.query_one(FigureTable)) == point_figures(
            screening.operating_point(run, 0.9, "mel"), "non-CNV+DME")
        await pilot.press("c")
        assert str(title.render()).endswith("any of choroidal neovascularization, diabetic macular edema (as one)")
        assert cells(app.screen.query_one(FigureTable)) == point_figures(
            screening.operating_point(run, 0.9, "cancer"), "non-CNV+DME")
        await pilot.press("escape", "m", "down", "m", "c")
        assert isinstance(app.screen, EnsembleScreen)
        result = screening.ensemble(*map(stored.predictions, octs), "or")
        assert "calls it choroidal neovascularization or diabetic macular edema" in str(
            app.screen.query_one("#ensemble-rule", Static).render())
        assert cells(app.screen.query_one(FigureTable)) == figure_rows(result, [
            ("CNV+DME flagged", "malignant_sensitivity"), ("specificity", "specificity"),
            ("recall of 'choroidal neovascularization'", "mel_recall"), ("AUC (macro)", "auc")])
        await pilot.press("escape", "C")
        assert isinstance(app.screen, CompareScreen) and "CNV/CNV+DME" in descriptions(app)
        assert app.screen.query_one("#compare-roc", RunLines).axes.title.startswith(
            "ROC for choroidal neovascularization")
        app.push_screen(CompareScreen([stored.get(run_id) for run_id in blood_ids]))
        await pilot.pause()
        assert app.screen.query_one("#compare-roc", RunLines).axes.title == (
            "no ROC: bloodmnist declares no critical class")
        assert "Mel/cancer" not in descriptions(app)
        app.push_screen(EnsembleScreen(*bloods))
        await pilot.pause()
        assert "rule mean" in str(app.screen.query_one("#ensemble-rule", Static).render())
        assert cells(app.screen.query_one(FigureTable)) == figure_rows(screening.ensemble(*bloods, "mean"), [
            ("AUC (macro)", "auc"), ("accuracy", "accuracy"), ("balanced accuracy", "balanced_accuracy")])
        assert "declares no critical class" in str(app.screen.query_one("#ensemble-legend", Static).render())
        assert not {"Or/mean", "Lesions"} & descriptions(app)  # both are about the critical classes


def descriptions(app) -> set[str]:
    return {binding.description for binding in our_bindings(app.screen.active_bindings)}


def figure_rows(result: screening.Ensemble, rows: list[tuple[str, str]]) -> list[list[str]]:
    """An ensemble screen's rows as they should read: a figure's name, then A's, B's and the ensemble's."""
    columns = [member.figures for member in result.members] + [result.figures]
    return [[name, *((numbers.auc if key == "auc" else numbers.percent)(getattr(f, key)) for f in columns)]
            for name, key in rows]


def notices(app) -> str:
    return " ".join(str(notification.message) for notification in app._notifications)


@pytest.mark.slow
@synchronous
async def test_rows_without_predictions_open_nothing_and_say_why(two_runs, stored):
    from engine.events import RunFailed, RunStarted

    with stored.opened() as store:
        store.start(RunStarted("cancelled1", 2, "Stopped", 0, "cpu", "synthetic", 1, 1), "c",
                    load()[2].spec.run_config(1, False, "fp32"), True, "synthetic")
        store.fail(RunFailed("cancelled1", "cancelled", "cancelled by the user", 1))
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "down", "down", "enter")  # a cancelled run sorts last: its detail says why it stopped
        assert isinstance(app.screen, RunDetailScreen) and not app.screen.query(ConfusionMatrix)
        assert "cancelled by the user" in str(app.screen.query_one("#run-facts").render())
        await pilot.press("o")  # it has no predictions
        assert isinstance(app.screen, RunDetailScreen) and "cancelled" in notices(app)
        await pilot.press("escape", "o")
        assert len(app.screen_stack) == 1
        await pilot.press("t", "enter", "o", "m")  # per-experiment rows are no one run
        assert len(app.screen_stack) == 1 and app.lab.marked == [] and "t switches" in notices(app)
        await pilot.press("question_mark")  # the help lists the new keys (the palette reads the same bindings)
        listed = {binding.id for binding in our_bindings(app.screen.bindings)}
        assert {"run-detail", "operating-point", "mark", "ensemble"} <= listed


@pytest.mark.slow
@synchronous
async def test_the_leaderboard_reads_runs_a_window_at_a_time(stored):
    from engine.events import RunFinished, RunStarted
    from tui.app.ranking import PAGE

    spec = load()[1].spec
    with stored.opened() as store:
        for number in range(2 * PAGE + 50):  # runs without predictions: all the leaderboard reads
            run_id = f"run{number:04d}"
            store.start(RunStarted(run_id, 1, spec.name, number, "cpu", "synthetic", 5, 1), spec.chapter,
                        spec.page_config("fp32"), True, "synthetic")
            store.finish(RunFinished(run_id, {"auc": number / 1000}, []), [])
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        table = app.screen.query_one(LeaderboardTable)
        assert table.row_count == PAGE and table.rows_shown[0]["run_id"] == f"run{2 * PAGE + 49:04d}"
        assert f"first {PAGE} of {2 * PAGE + 50}" in str(app.screen.query_one("#order-caption").render())
        for shown in (2 * PAGE, 2 * PAGE + 50, 2 * PAGE + 50):
            await pilot.press("ctrl+end")  # the cursor at the last row read brings the next rows
            await pilot.pause()
            assert table.row_count == shown
        assert table.rows_shown[-1]["run_id"] == "run0000"


@synchronous
async def test_an_app_training_without_imagenet_weights_says_so_in_its_header():
    for options, said in ((["--no-pretrained"], True), ([], False)):
        app = app_with("--data", "synthetic", *options)
        async with app.run_test(size=SIZE):
            assert ("from scratch" in str(app.screen.query_one("#header-line").render())) == said


def in_sight(widget, line: int) -> bool:
    """Whether the `line`th line of `widget` is on the screen, inside the scrolling body that holds it."""
    body = widget.screen.query_one("#run-body").region
    return widget.region.height > line and body.y <= widget.region.y + line < body.bottom


async def keeps_the_matrix_cursor_and_column_names_in_sight(app, pilot, run) -> None:
    """At 80×24 (SIZE)."""
    await pilot.pause()
    matrix = app.screen.query_one(ConfusionMatrix)
    cursor_line = 1 + matrix.cursor[0]  # under the column names
    assert in_sight(matrix, 0) and in_sight(matrix, cursor_line)
    for key in ("pagedown", "pageup", "pagedown", "pagedown", "pageup"):
        await pilot.press(key)
        await pilot.pause()
        rows_shown = [line for line in range(1, 8) if in_sight(matrix, line)]
        assert not rows_shown or in_sight(matrix, 0), f"after {key}: rows without their column names"
    await pilot.press("pagedown", "pagedown", "up")  # the cursor moves, and the matrix comes back into sight
    await pilot.pause()
    assert in_sight(matrix, 0) and in_sight(matrix, 1 + matrix.cursor[0])


async def says_an_empty_cell_is_empty(app, pilot, run) -> None:
    """Enter on an empty cell of the matrix says so instead of opening."""
    matrix = app.screen.query_one(ConfusionMatrix)
    true, predicted = next((true, predicted) for true, row in enumerate(matrix.rows)
                           for predicted, name in enumerate(CLASSES) if row[name] == 0)
    matrix.cursor = (true, predicted)
    await pilot.press("enter")
    assert isinstance(app.screen, RunDetailScreen)
    assert f"No val lesion of class {CLASSES[true]} was called {CLASSES[predicted]}" in notices(app)


@pytest.mark.slow
@synchronous
async def test_legends_without_colour_name_no_colours(two_runs, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_with("--data", "synthetic")
    colours = re.compile(r"\b(purple|teal|yellow|colour)\b")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "enter")
        legends = " ".join(str(legend.render()) for legend in app.screen.query(".legend"))
        assert "darker 0 → lighter 100" in legends and not colours.search(legends), legends
        await pilot.press("escape", "g")
        legends = str(app.screen.query_one("#legend").render())
        assert "darker 0 → lighter 100" in legends and not colours.search(legends), legends


@pytest.mark.slow
@synchronous
async def test_marked_runs_compare_on_one_screen_and_the_last_two_combine(two_runs, store_run, stored):
    from tui.app.screens.compare import CompareScreen
    from tui.app.widgets.results.run_lines import GLYPHS, RunLines

    labels, probabilities = noisy_predictions(2)
    third = store_run(labels, probabilities, experiment_id=8, seed=1, epochs=3, history=True)  # sorts last
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "m", "C")  # one mark is no comparison
        assert not isinstance(app.screen, CompareScreen) and "Mark two runs or more" in notices(app)
        await pilot.press("down", "m", "down", "m")
        assert app.lab.marked == [*two_runs, third]  # a third mark no longer drops the first
        await pilot.press("C")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        legend = str(screen.query_one("#compare-legend").render()).splitlines()
        assert [line[:3] for line in legend] == ["A •", "B x", "C +"] and third in legend[2]
        assert "no epochs stored" in legend[0] and "no epochs" not in legend[2]
        roc = screen.query_one("#compare-roc", RunLines).lines  # a line per run, each with a glyph of its own
        assert [line.glyph for line in roc] == list(GLYPHS[:3])
        [loss] = screen.query_one("#compare-loss", RunLines).lines  # two_runs stored no epochs: the third's alone
        assert (loss.label, loss.glyph, loss.xs) == ("C", "+", [1, 2, 3])
        assert loss.ys == [entry["val_loss"] for entry in stored.get(third)["history"]]
        config = screen.query_one("#compare-config", Static).content
        keys = [str(cell) for cell in config.columns[0].cells]
        assert "training.epochs" in keys and "model.hidden" in keys  # 8 and 10 differ in these, the third in epochs
        assert "optimizer.name" not in keys and "precision" not in keys  # alike in all three: left out
        await pilot.press("escape", "c")  # the ensemble combines the last two marked
        assert [member.run_id for member in app.screen.members] == [two_runs[1], third]


@pytest.mark.slow
@synchronous
async def test_a_narrow_matrix_leaves_its_shares_out_whole_rather_than_cut(two_runs):
    app = app_with("--data", "synthetic")
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("l", "enter")
        await pilot.pause()
        matrix = app.screen.query_one(ConfusionMatrix)
        table = matrix.content
        assert table.caption == "shares left out: too narrow"
        counts = [[str(cell) for cell in column.cells] for column in table.columns[1:-1]]
        assert all(cell.isdigit() for column in counts for cell in column)  # whole counts, no '8…'
        assert matrix.width_needed(shares=False) <= matrix.content_region.width


def interrupted_runs(store) -> list[str]:
    """Two runs of experiment 8 whose process died after their first epoch, as `queue.recover` leaves them; the
    first keeps a checkpoint (an empty file: nothing here reads it, the resume itself is tested in test_resume)."""
    from engine.events import EpochEnded, RunStarted
    from engine.jobs.queue import JobQueue, plan
    from engine.status import Status
    from engine.training import checkpoint
    from engine.training.options import RunOptions
    from tests.conftest import start_run

    queue, experiment = JobQueue(store), load()[8]
    jobs = plan([experiment], [0, 1], "synthetic", None, RunOptions())
    queue.add(jobs)
    for job in jobs:
        assert queue.claim("cpu 1") is not None
        start_run(store, experiment, job.job_id, job.seed, True)
        queue.started(RunStarted(job.job_id, 8, job.name, job.seed, "cpu", "synthetic", 3, 10))
        store.epoch(EpochEnded(job.job_id, 1, 3, 1.2, 1.3, 0.8, 0.7, 0.001, 10.0))
        queue.end(job.job_id, Status.INTERRUPTED, "its process died")
    path = checkpoint.path_for(store.path, jobs[0].job_id)
    path.parent.mkdir(parents=True)
    path.touch()
    return [job.job_id for job in jobs]


@pytest.mark.slow
@synchronous
async def test_an_interrupted_run_with_a_checkpoint_is_resumed_by_r_through_the_worker(stored):
    from engine.jobs.queue import JobQueue
    from engine.status import Status

    with stored.opened() as store:
        kept, lost = interrupted_runs(store)
    app = app_with("--data", "synthetic")
    started = []
    async with app.run_test(size=SIZE) as pilot:
        app.start_worker = lambda: started.append(True)  # type: ignore[method-assign]  # the worker is not tested here
        app.push_screen(RunDetailScreen(app.lab.run_detail(lost), app.lab.experiments))
        await pilot.pause()
        facts = str(app.screen.query_one("#run-facts").render())
        assert facts.startswith("interrupted · ") and "must be trained afresh" in facts  # not called failed
        assert "resume" not in {binding.id for binding in our_bindings(app.screen.active_bindings)}
        await pilot.press("r")  # nothing to go on from: r does nothing
        assert isinstance(app.screen, RunDetailScreen) and not started
        await pilot.press("escape")
        app.push_screen(RunDetailScreen(app.lab.run_detail(kept), app.lab.experiments))
        await pilot.pause()
        assert "r resumes it" in str(app.screen.query_one("#run-facts").render())
        assert " r Resume " in str(app.screen.query_one("KeyLine").render())  # on the key line at 80 columns
        await pilot.press("r")
        assert started and app.current_mode == "run" and "Queued 1 run" in notices(app)
    with stored.opened() as store:
        jobs = {job_id: JobQueue(store).get(job_id) for job_id in (kept, lost)}
    assert (jobs[kept]["status"], jobs[kept]["executor"]) == (Status.QUEUED, "worker")
    assert jobs[lost]["status"] == Status.INTERRUPTED
