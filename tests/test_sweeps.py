"""Sweeps as data (issue 26): [[sweeps]] tables expand into points that are experiments with provenance, validated
as the experiments are; `dermalab sweep NAME` queues points × seeds through the same queue and skips what finished;
`dermalab results --sweep NAME` gives a row per point and the best point against its base, paired by seed. Bad
sweeps are one sentence each, and queue nothing."""

from __future__ import annotations

import json
import pickle
import re
import time
from pathlib import Path

import pytest

from engine.analysis.paired import paired_difference
from engine.errors import UserError
from engine.experiments import sweeps
from engine.experiments.load import load
from engine.experiments.spec import Experiment, config_hash
from engine.jobs.queue import JobQueue, plan
from engine.store.runs import Store
from engine.store.sweep_results import sweep_results
from engine.training.options import RunOptions
from tests.conftest import GRID, SMALLEST_SET, StoredRuns, store_finished, with_sweeps
from tui.cli.main import main

WAIT_SECONDS = 300  # a detached worker imports torch and trains on a busy 2-core box


def sweep(tmp_path: Path, text: str, name: str = "s") -> sweeps.Sweep:
    path = with_sweeps(tmp_path, text)
    return sweeps.named(name, load(path), path)


def hashes(experiments: list[Experiment]) -> list[str]:
    return [experiment.spec.config_hash() for experiment in experiments]


# Expansion and provenance


def test_the_shipped_sweeps_expand_into_valid_points_and_a_base_value_is_the_base_itself():
    experiments = load()
    shipped = {name: sweeps.named(name, experiments) for name in ("adam-lr", "batch-cosine", "hue-jitter")}
    sizes = {name: len(found.points()) for name, found in shipped.items()}
    assert sizes == {"adam-lr": 12, "batch-cosine": 9, "hue-jitter": 4}
    # batch 32 at 1e-3 is experiment 20 as the page ran it, and hue 0.05 experiment 13: their runs are the base's
    assert hashes(shipped["batch-cosine"].points()).count(experiments[20].spec.config_hash()) == 1
    assert hashes(shipped["hue-jitter"].points())[2] == experiments[13].spec.config_hash()


def test_a_point_keeps_its_base_id_and_says_where_it_came_from(tmp_path):
    found = sweep(tmp_path, GRID, "grid")
    points = found.points()
    assert len(points) == 9 and len(set(hashes(points))) == 9
    point = points[1]
    assert point.id == 1 and point.spec.optimizer.lr == 1e-3 and point.spec.training.batch_size == 512
    assert point.point is not None and point.point.values == {"optimizer.lr": 1e-3, "training.batch_size": 512}
    assert point.point.provenance(point.id) == ("experiment 1 with optimizer.lr = 0.001, training.batch_size = 512, "
                                                "from sweep 'grid'")
    assert point.spec.name == "Tiny · lr=0.001, batch_size=512" and point.changes == point.point.values
    assert point.spec.config_hash() == found.base.spec.config_hash()  # the provenance is never hashed
    assert "point" not in point.spec.config() and "sweep" not in json.dumps(point.spec.config())


def test_random_axes_are_drawn_from_their_seed_within_bounds_and_crossed_with_the_lists(tmp_path):
    text = """
[[sweeps]]
name = "s"
extends = 1
samples = 5
sampling_seed = {seed}
axes.optimizer.lr = {{ log_uniform = [1e-5, 1e-2] }}
axes.training.batch_size = {{ uniform = [16, 256] }}
axes.loss.label_smoothing = [0.0, 0.1]
"""
    points = sweep(tmp_path, text.format(seed=7)).points()
    assert len(points) == 10  # 5 draws x 2 list values
    lrs = [point.spec.optimizer.lr for point in points]
    assert all(1e-5 <= lr <= 1e-2 and float(f"{lr:.3g}") == lr for lr in lrs)  # 3 significant digits
    assert all(isinstance(point.spec.training.batch_size, int) for point in points)  # a whole-number field
    assert lrs[0::2] == lrs[1::2] and [p.spec.loss.label_smoothing for p in points[:2]] == [0.0, 0.1]
    assert hashes(sweep(tmp_path, text.format(seed=7)).points()) == hashes(points)  # the same seed, the same points
    assert hashes(sweep(tmp_path, text.format(seed=8)).points()) != hashes(points)


def test_an_augmentations_parameter_is_named_by_its_op_or_its_place(tmp_path, experiments_toml):
    experiments = experiments_toml.read_text()
    by_op = with_sweeps(tmp_path, '[[sweeps]]\nname = "s"\nextends = 13\n'
                        'axes = { "augment.rotation.degrees" = [5, 30] }\n', experiments)
    by_place = with_sweeps(tmp_path, '[[sweeps]]\nname = "s"\nextends = 13\naxes.augment.1.degrees = [5, 30]\n',
                           experiments)
    points = sweeps.named("s", load(by_op), by_op).points()
    assert [point.spec.augment[1].degrees for point in points] == [5, 30]  # type: ignore[union-attr]
    assert [point.spec.augment[2].op for point in points] == ["color_jitter"] * 2  # the rest as experiment 13 has it
    assert hashes(points) == hashes(sweeps.named("s", load(by_place), by_place).points())


def test_a_job_carries_its_point_through_the_queue_and_the_worker_builds_the_same_experiment(tmp_path):
    path = with_sweeps(tmp_path, GRID)
    point = sweeps.named("grid", load(path), path).points()[4]
    store = Store()
    try:
        queue = JobQueue(store)
        queue.add(plan([point], [0], "synthetic", str(path), RunOptions()))
        claimed = queue.claim("cpu")
    finally:
        store.close()
    assert claimed is not None and claimed.point == point.point and claimed.name == point.spec.name
    rebuilt = sweeps.resolve(claimed.experiments, claimed.experiment_id, claimed.point)
    assert rebuilt.spec == point.spec and rebuilt.point == point.point


@pytest.mark.slow
def test_a_point_reaches_a_cluster_task_intact(tmp_path):
    """A cluster task gets its job pickled, as submitit sends it, and trains the point from the file on its node."""
    from engine.jobs import cluster

    path = with_sweeps(tmp_path, GRID)
    point = sweeps.named("grid", load(path), path).points()[8]
    [job] = plan([point], [0], "synthetic", str(path), RunOptions(device="cpu"))
    cluster.task(pickle.loads(pickle.dumps([job])), str(tmp_path))
    run = json.loads(cluster.result_path(tmp_path, job.job_id).read_text())["run"]["runs"][0]
    assert (run["status"], run["name"]) == ("finished", point.spec.name)
    assert run["config_hash"] == _hash(point, run["precision"])


def _hash(point: Experiment, precision: str) -> str:
    """The config hash of the point's run as the file has it, in this precision."""
    return config_hash(point.spec.run_config(point.spec.training.epochs, point.spec.model.pretrained, precision))


# The best point against its base, seed by seed


def test_a_paired_difference_uses_the_seeds_both_sides_have_and_students_t():
    found = paired_difference({0: 0.90, 1: 0.80, 2: 0.85, 3: 0.70}, {0: 0.85, 1: 0.78, 2: 0.80, 4: 0.99})
    assert found.seeds == [0, 1, 2] and found.mean == pytest.approx(0.04)
    # differences 0.05, 0.02, 0.05: sd 0.0173, standard error 0.01, t(0.975, 2) = 4.303
    assert (found.low, found.high) == (pytest.approx(0.04 - 0.04303, abs=1e-4), pytest.approx(0.04 + 0.04303, abs=1e-4))
    one = paired_difference({0: 0.9}, {0: 0.8})
    assert one.mean == pytest.approx(0.1) and one.low is None
    assert paired_difference({0: 0.9}, {1: 0.8}).mean is None


def test_results_rank_the_points_and_compare_the_best_with_its_base_by_seed(tmp_path):
    found = sweep(tmp_path, '[[sweeps]]\nname = "s"\nextends = 1\naxes = { "optimizer.lr" = [1e-3, 3e-3, 1e-2] }\n')
    _, better, _ = found.points()  # 1e-3 is experiment 1 itself; 1e-2 never runs
    store = Store()
    try:
        for seed, (base_auc, better_auc) in enumerate([(0.70, 0.75), (0.72, 0.78), (0.68, 0.74)]):
            store_finished(store, found.base, seed, base_auc)  # experiment 1 itself: the point at lr 1e-3
            store_finished(store, better, seed, better_auc)
        results = sweep_results(store, found, found.points())
    finally:
        store.close()
    by_point = {row["point"]: row for row in results.rows}
    assert [by_point[p]["n"] for p in ("lr=0.001", "lr=0.003", "lr=0.01")] == [3, 3, 0]
    assert by_point["lr=0.003"]["auc"] == pytest.approx(0.7567, abs=1e-4) and by_point["lr=0.003"]["auc_std"]
    assert results.best is not None and results.best["point"] == "lr=0.003"
    assert results.base is not None and results.base["config_hash"] == by_point["lr=0.001"]["config_hash"]
    versus = results.versus_base
    assert versus is not None and versus["seeds"] == [0, 1, 2] and versus["mean"] == pytest.approx(0.0567, abs=1e-4)
    assert 0 < versus["low"] < versus["mean"] < versus["high"]


def test_a_point_named_is_compared_with_the_base_instead_of_the_best_and_a_wrong_name_is_a_sentence(tmp_path):
    found = sweep(tmp_path, '[[sweeps]]\nname = "s"\nextends = 1\naxes = { "optimizer.lr" = [1e-3, 3e-3, 1e-2] }\n')
    base, worse, _ = found.points()
    store = Store()
    try:
        for seed, (base_auc, worse_auc) in enumerate([(0.80, 0.70), (0.82, 0.71)]):
            store_finished(store, base, seed, base_auc)
            store_finished(store, worse, seed, worse_auc)
        named = sweep_results(store, found, found.points(), "lr=0.003")
        with pytest.raises(UserError, match=re.escape("Point 'lr=0.01' of sweep 's' has no finished run yet")):
            sweep_results(store, found, found.points(), "lr=0.01")
        no_point = re.escape("Sweep 's' has no point 'lr=1'; its points are lr=0.001, lr=0.003")
        with pytest.raises(UserError, match=no_point):
            sweep_results(store, found, found.points(), "lr=1")
    finally:
        store.close()
    assert named.best is not None and named.best["point"] == "lr=0.003"
    assert named.versus_base is not None and named.versus_base["mean"] == pytest.approx(-0.105)


def test_points_that_differ_only_in_epochs_or_weights_each_get_their_own_runs_and_are_compared(tmp_path):
    # A run's config holds the epochs and weights it ran with, so these points hash alike at any one run's
    found = sweep(tmp_path, '[[sweeps]]\nname = "s"\nextends = 1\n'
                            'axes = { "training.epochs" = [1, 2], "model.pretrained" = [false, true] }\n')
    points = found.points()
    store = Store()
    try:
        for auc, point in zip((0.61, 0.64, 0.63, 0.62), points):
            store_finished(store, point, 0, auc)
        results = sweep_results(store, found, points)
    finally:
        store.close()
    rows = results.rows
    assert results.best is not None and results.best["point"] == "epochs=1, pretrained=true"  # the best of all four
    assert sorted((row["point"], row["n"], row["epochs"], row["pretrained"], row["auc"]) for row in rows) == [
        ("epochs=1, pretrained=false", 1, 1, 0, 0.61), ("epochs=1, pretrained=true", 1, 1, 1, 0.64),
        ("epochs=2, pretrained=false", 1, 2, 0, 0.63), ("epochs=2, pretrained=true", 1, 2, 1, 0.62)]


def test_runs_of_points_whose_config_was_edited_since_are_counted_apart(tmp_path, capsys):
    path = with_sweeps(tmp_path, '[[sweeps]]\nname = "s"\nextends = 1\naxes = { "optimizer.lr" = [1e-3, 3e-3] }\n')
    store = Store()
    try:
        queue = JobQueue(store)
        for point in sweeps.named("s", load(path), path).points():  # each point run once through the queue
            [job] = plan([point], [0], "synthetic", str(path), RunOptions())
            queue.add([job])
            store_finished(store, point, 0, 0.7, job.job_id)
        # The base's batch size changes both points; 3e-3 leaves the sweep
        path.write_text(path.read_text().replace("batch_size = 512", "batch_size = 256").replace(", 3e-3]", "]"))
        edited = sweeps.named("s", load(path), path)
        results = sweep_results(store, edited, edited.points())
    finally:
        store.close()
    assert [(row["point"], row["n"], row["edited"]) for row in results.rows] == [("lr=0.001", 0, 1)]
    assert results.gone == {"lr=0.003": 1}
    assert main(["results", "--sweep", "s", "--experiments", str(path)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "1 run of its points ran before the file changed their config (column 'edited')" in said
    assert "Points the file no longer has, left out: lr=0.003 (1 run)." in said


# The command line, end to end


@pytest.mark.processes
@pytest.mark.slow
def test_a_sweep_runs_end_to_end_in_two_slots_and_a_second_one_runs_nothing(tmp_path, cli, child_cli, stored):
    path = str(with_sweeps(tmp_path, GRID))
    first = child_cli("sweep", "grid", "--jobs", "2", *SMALLEST_SET, "--experiments", path, timeout=900)
    assert first.returncode == 0, first.stderr
    assert "sweep 'grid': 9 points of experiment 1 Tiny × 3 seeds" in first.stderr
    finished = [run for run in stored.runs() if run["status"] == "finished"]
    assert len(finished) == 27 and len({(run["config_hash"], run["seed"]) for run in finished}) == 27
    assert {run["experiment_id"] for run in finished} == {1}

    second = cli("sweep", "grid", "--jobs", "2", *SMALLEST_SET, "--experiments", path)  # trains nothing
    assert second.returncode == 0, second.stderr
    assert "skipped 27 runs of 27" in second.stderr and len(stored.runs()) == 27

    table = cli("results", "--sweep", "grid", "--dataset", "breastmnist", "--experiments", path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["point", "data", "n"] and sum(" synth  3 " in line for line in lines) == 9
    assert lines[-1].startswith("Best point by mean val AUC: ") and "against experiment 1 (Tiny)" in lines[-1]
    assert "paired over 3 seeds" in lines[-1] and "95 % CI" in lines[-1]
    listed = json.loads(cli("results", "--sweep", "grid", "--dataset", "breastmnist", "--experiments", path,
                            "--format", "json", "--sort", "optimizer.lr", "--asc").stdout)
    assert [point["optimizer.lr"] for point in listed["points"]] == sorted([1e-3, 3e-3, 1e-2] * 3)
    assert listed["best_versus_base"]["seeds"] == [0, 1, 2]
    provenance = {point["point"]: point["provenance"] for point in listed["points"]}
    assert provenance["lr=0.003, batch_size=256"] == ("experiment 1 with optimizer.lr = 0.003, training.batch_size = "
                                                      "256, from sweep 'grid'")


@pytest.mark.processes
@pytest.mark.slow
def test_a_detached_sweep_is_trained_by_the_worker_from_its_file(tmp_path, cli, stored):
    path = str(with_sweeps(tmp_path, '[[sweeps]]\nname = "two"\nextends = 1\n'
                                     'axes = { "training.batch_size" = [128, 1024] }\n'))
    queued = cli("sweep", "two", "--detach", "--json", "--data", "synthetic", "--experiments", path)
    assert queued.returncode == 0, queued.stderr
    jobs = json.loads(queued.stdout)
    assert [job["name"] for job in jobs] == ["Tiny · batch_size=128", "Tiny · batch_size=1024"]
    deadline = time.monotonic() + WAIT_SECONDS
    while {stored.status(job["job_id"]) for job in jobs} != {"finished"}:
        assert time.monotonic() < deadline, f"the sweep's jobs: {StoredRuns().jobs()}"
        time.sleep(0.2)
    points = sweeps.named("two", load(path), path).points()
    [precision] = {run["precision"] for run in stored.runs()}
    assert {run["config_hash"] for run in stored.runs()} == {_hash(point, precision) for point in points}


# Bad sweeps: one sentence each, exit 2, nothing queued

BAD_SWEEPS = {
    "unknown field": ('axes = { "optimizer.lrate" = [1e-3] }',
                      "sweep 's': axis 'optimizer.lrate' is not a field of experiment 1; name a field"),
    "empty axis": ('axes = { "optimizer.lr" = [] }', "sweep 's': axis 'optimizer.lr' is empty"),
    "a value validation refuses": ('axes = { "optimizer.lr" = [1e-3, -0.1] }',
                                   "sweep 's', point lr=-0.1: key 'optimizer.lr' should be greater than 0 (got -0.1)"),
    "a whole number as 5.0": ('axes = { "training.batch_size" = [64.0] }',
                              "sweep 's', point batch_size=64.0: key 'training.batch_size' should be a valid integer"),
    "a network too deep": ('axes = { "model.channels" = [[4, 4, 4, 4, 4]] }',
                           "sweep 's', point channels=[4, 4, 4, 4, 4]: model.channels has 5 pooled blocks"),
    "too many points": ('axes = { "optimizer.lr" = { log_uniform = [1e-5, 1e-2] }, '
                        '"training.batch_size" = [8, 16, 32] }\nsamples = 3334',
                        "sweep 's' has 10,002 points, more than 10,000"),
    "a random axis without bounds": ('axes = { "optimizer.lr" = { log_uniform = [] } }\nsamples = 3',
                                     "sweep 's': axis 'optimizer.lr' is random and needs bounds, low then high"),
    "bounds the wrong way round": ('axes = { "optimizer.lr" = { uniform = [0.1, 0.01] } }\nsamples = 3',
                                   "axis 'optimizer.lr' is random and needs bounds, low then high"),
    "log-uniform from 0": ('axes = { "optimizer.lr" = { log_uniform = [0, 0.1] } }\nsamples = 3',
                           "axis 'optimizer.lr' is log-uniform, so its low bound must be above 0"),
    "random without samples": ('axes = { "optimizer.lr" = { uniform = [0.001, 0.01] } }',
                               "sweep 's' has a random axis but no 'samples'"),
    "samples without a random axis": ('axes = { "optimizer.lr" = [0.001] }\nsamples = 4',
                                      "sweep 's' sets 'samples' but every axis is a list"),
    "a value, not a list": ('axes = { "optimizer.lr" = 0.01 }', "axis 'optimizer.lr' needs a list of values"),
    "no axes": ("axes = {}", "sweep 's' has no axes"),
    "an unknown key": ('axes = { "optimizer.lr" = [0.01] }\nseed = 3', "sweep 's': unknown key 'seed'"),
    "a descriptive key": ('axes = { "name" = ["x"] }', "axis 'name' is not a field of experiment 1"),
    "no seeds": ('axes = { "optimizer.lr" = [0.01] }\nseeds = 0', "key 'seeds' should be greater than or equal to 1"),
    "no patience": ('axes = { "optimizer.lr" = [0.01] }\npatience = 0',
                    "key 'patience' should be greater than or equal to 1"),
}


@pytest.mark.parametrize("body, expected", BAD_SWEEPS.values(), ids=BAD_SWEEPS.keys())
def test_a_bad_sweep_is_one_sentence_and_queues_nothing(refused, tmp_path, stored, body, expected):
    path = with_sweeps(tmp_path, f'[[sweeps]]\nname = "s"\nextends = 1\n{body}\n')
    message = refused("sweep", "s", "--detach", "--data", "synthetic", "--experiments", str(path))
    assert expected in message, message
    assert stored.jobs() == {} and stored.runs() == []


def test_the_sweep_asked_for_must_exist_once_and_extend_an_experiment(refused, tmp_path):
    path = with_sweeps(tmp_path, GRID)
    assert refused("sweep", "gird", "--experiments", str(path)).endswith("has no sweep 'gird'; its sweeps are grid.")
    twice = with_sweeps(tmp_path, GRID + GRID)
    assert refused("sweep", "grid", "--experiments", str(twice)).endswith("sweep 'grid' appears twice; give each "
                                                                         "sweep its own name.")
    missing = with_sweeps(tmp_path, GRID.replace("extends = 1", "extends = 99"))
    assert "key 'extends' names experiment 99, which does not exist" in refused("sweep", "grid", "--experiments",
                                                                                 str(missing))
    assert "--epochs would set what sweep 'e' varies (its axis 'training.epochs')" in refused(
        "sweep", "e", "--epochs", "1", "--experiments",
        str(with_sweeps(tmp_path, '[[sweeps]]\nname = "e"\nextends = 1\naxes = { "training.epochs" = [1, 2] }\n')))
    assert refused("results", "--sweep", "grid", "--per-experiment", "--experiments", str(path)).startswith(
        "--sweep shows the sweep's own points")


def test_a_broken_sweep_never_stops_the_experiments_from_loading(tmp_path):
    path = with_sweeps(tmp_path, '[[sweeps]]\nname = "s"\nextends = 1\naxes = { "nothing" = [] }\n')
    assert list(load(path)) == [1, 2, 3, 4]
    with pytest.raises(UserError, match="axis 'nothing' is not a field"):
        sweeps.named("s", load(path), path)


@pytest.mark.slow
def test_results_of_a_sweep_not_run_yet_list_its_points_and_say_how_to_run_them(cli):
    shown = cli("results", "--sweep", "hue-jitter")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split()[:2] for line in lines[1:5]] == [[f"hue={hue}", "0"] for hue in ("0.0", "0.02", "0.05", "0.1")]
    assert lines[-2].startswith("Sweep 'hue-jitter' asks: Colour jitter costs experiment 13")
    assert lines[-1] == "No point of sweep 'hue-jitter' has finished yet; 'dermalab sweep hue-jitter' runs them."


def test_list_shows_a_files_sweeps_under_its_experiments_and_none_where_it_has_none(tmp_path, cli, tiny_experiments):
    listed = cli("list", "--experiments", str(with_sweeps(tmp_path, GRID))).stdout.splitlines()
    header, row = (line.split() for line in listed[-2:])
    assert header == ["sweep", "#", "varies", "points", "seeds", "runs"]
    assert row == ["grid", "1", "lr", "(3)", "×", "batch_size", "(3)", "9", "3", "27"]
    assert listed[-3] == "" and listed[-4].split()[:2] == ["4", "Tiny,"]
    alone = cli("list", "--experiments", str(tiny_experiments)).stdout
    assert "sweep" not in alone and not alone.endswith("\n\n")


def test_points_that_come_out_alike_are_one_point(tmp_path):
    found = sweep(tmp_path, '[[sweeps]]\nname = "s"\nextends = 1\naxes = { "loss.label_smoothing" = [0, 0.0, 0.1] }\n')
    assert [point.spec.loss.label_smoothing for point in found.points()] == [0.0, 0.1]
