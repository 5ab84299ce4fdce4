"""Early stopping and successive halving (issue 26): a run with `patience` finishes at the epoch its val AUC stopped
improving, noted; under `sweep --halving` a point's run stops at a rung unless its point is among the best there,
stored as `stopped` with its epochs, counted wherever runs are counted, and kept by prune."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.events import EpochEnded, RunFinished, RunStarted
from engine.experiments import sweeps
from engine.experiments.load import load
from engine.experiments.spec import Experiment, Point
from engine.jobs import halving
from engine.jobs.queue import JobQueue, plan
from engine.status import Status
from engine.store import prune
from engine.store.runs import Store
from engine.store.sweep_results import sweep_results
from engine.training.options import RunOptions
from engine.words import runs_stored
from tests.conftest import TINY_EXPERIMENTS, tiny_data

SWEEP = """
[[sweeps]]
name = "lr"
extends = 1
patience = 2
axes = { "optimizer.lr" = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2] }
"""





def lr_sweep(tmp_path: Path) -> tuple[dict[int, Experiment], sweeps.Sweep, str]:
    path = tmp_path / "sweeps.toml"
    path.write_text(TINY_EXPERIMENTS + SWEEP)
    experiments = load(path)
    return experiments, sweeps.named("lr", experiments, path), str(path)


def test_early_stopping_waits_patience_epochs_after_the_best_and_a_nan_never_beats_it():
    from engine.training.train import EarlyStop

    stop = EarlyStop(2)
    assert [stop.stops(epoch, auc) for epoch, auc in enumerate([0.6, 0.7, 0.69, 0.7, 0.71, math.nan, 0.70], 1)] == [
        False, False, False, True, False, False, True]
    assert "epoch 5's 0.710 for 2 epochs" in stop.note(7, 10)
    assert not any(EarlyStop(None).stops(epoch, 0.5) for epoch in range(1, 20))


def test_patience_is_no_part_of_the_config_unless_set_so_stored_runs_keep_their_hash(tmp_path):
    experiments, found, _ = lr_sweep(tmp_path)
    assert "patience" not in experiments[1].spec.config()["training"]
    point = found.points()[2]  # lr 1e-3: experiment 1's own, with the sweep's patience
    assert point.spec.training.patience == 2 and point.spec.config()["training"]["patience"] == 2
    assert point.spec.config_hash() != experiments[1].spec.config_hash()
    assert point.point is not None and point.point.label() == "lr=0.001"  # patience is the sweep's, not an axis
    assert sweeps.resolve(found.where.split(":")[0], 1, point.point).spec == point.spec  # as a worker rebuilds it


def test_a_run_with_patience_finishes_at_the_epoch_it_stopped_with_a_note(tmp_path):
    from engine.jobs.runner import run_one

    _, found, _ = lr_sweep(tmp_path)
    point = found.points()[0]
    store = Store()
    try:
        outcome = run_one("patient", point, tiny_data(one_val_class=True), RunOptions(device="cpu", epochs=6), store,
                          lambda event: None)
        run = store.get("patient")
    finally:
        store.close()
    assert isinstance(outcome, RunFinished) and outcome.stopped_epoch == 3
    assert run is not None and (run["status"], run["stopped_epoch"], run["epochs"]) == (Status.FINISHED, 3, 6)
    assert len(run["history"]) == 3 and "stopped early at epoch 3 of 6" in run["notes"][0]


# Successive halving


def test_rungs_lie_three_times_apart_below_the_last_epoch():
    assert list(halving.rungs(1)) == [] and list(halving.rungs(3)) == [1] and list(halving.rungs(10)) == [1, 3, 9]


def test_a_rung_keeps_the_top_third_of_the_points_that_reached_it_and_ties_go_on_together():
    figures = {"a": 0.9, "b": 0.8, "c": 0.8, "d": 0.7, "e": 0.6, "f": 0.5}
    assert [point for point in figures if halving.standing(figures, point).goes_on()] == ["a", "b", "c"]
    assert halving.standing({"first": 0.1}, "first").goes_on()  # the first to arrive has no rival yet
    assert halving.standing(figures, "unknown") is None


def rivals(store: Store, points: list[Experiment], aucs: list[float], path: str) -> None:
    """A run of each point that has reached epoch 1 with this val AUC, queued as a sweep's job is."""
    queue = JobQueue(store)
    for point, auc in zip(points, aucs):
        [job] = plan([point], [0], "synthetic", path, RunOptions(device="cpu", epochs=3, halving=True))
        queue.add([job])
        spec = point.spec
        store.start(RunStarted(job.job_id, spec.id, spec.name, 0, "cpu", "synthetic", 3, 1), spec.chapter,
                    spec.run_config(3, False, "fp32"), True, "synthetic")
        store.epoch(EpochEnded(job.job_id, 1, 3, 1.0, 1.0, auc, 0.5, 1e-3, 1.0))


@pytest.mark.parametrize(("rival_auc", "expected"), [(0.99, Status.STOPPED), (0.01, Status.FINISHED)])
def test_halving_stops_a_point_behind_its_rivals_at_the_first_rung_and_lets_a_leader_finish(tmp_path, rival_auc,
                                                                                             expected):
    from engine.jobs import runner

    experiments, found, path = lr_sweep(tmp_path)
    points = found.points()
    store = Store()
    try:
        rivals(store, points[1:], [rival_auc] * 5, path)
        queue = JobQueue(store)
        [job] = plan([points[0]], [0], "synthetic", path, RunOptions(device="cpu", epochs=3, halving=True))
        queue.add([job], keep=True)
        [_] = runner.run_kept(queue, experiments, tiny_data(), store, lambda event: None)
        run, settled = store.get(job.job_id), queue.get(job.job_id)
        results = sweep_results(store, found, points)
        statuses, doomed = store.statuses(), prune.prunable(store, experiments, quick_looks=False).runs
    finally:
        store.close()
    assert run is not None and settled is not None and run["status"] == settled["status"] == expected
    if expected == Status.STOPPED:
        assert run["stopped_epoch"] == 1 and len(run["history"]) == 1
        assert run["reason"] == f"by halving: its point's val AUC {run['history'][0]['val_auc']:.3f} placed 6 of 6 " \
                                "points at epoch 1, where the top 2 go on"
        assert results.stopped == 1 and [row["halved"] for row in results.rows] == [1, 0, 0, 0, 0, 0]
        assert runs_stored(statuses).endswith(", 1 stopped") and doomed == []  # counted, and prune keeps it
    else:
        assert len(run["history"]) == 3 and results.stopped == 0


def test_a_second_halving_sweep_counts_a_stopped_point_as_done(tmp_path):
    from engine.jobs import seeds

    _, found, path = lr_sweep(tmp_path)
    point = found.points()[0]
    store = Store()
    try:
        rivals(store, [point], [0.5], path)
        store.fail(halving_stop(store))
        halved = seeds.finished_among(store, point, [0], "synthetic", RunOptions(epochs=3, precision="fp32",
                                                                                  halving=True))
        whole = seeds.finished_among(store, point, [0], "synthetic", RunOptions(epochs=3, precision="fp32"))
    finally:
        store.close()
    assert list(halved) == [0] and whole == {}


def halving_stop(store: Store):
    from engine.events import RunFailed

    [row] = store.execute("SELECT run_id FROM runs")
    return RunFailed(row["run_id"], Status.STOPPED, "by halving", 1)


def test_a_sweeps_jobs_go_seed_by_seed_so_halving_has_rivals_from_the_start(tmp_path):
    import argparse

    from engine.jobs.source import JobSource
    from tui.cli.run_commands import planned

    _, found, path = lr_sweep(tmp_path)
    store = Store()
    try:
        jobs, _ = planned(argparse.Namespace(again=False), found.points()[:3], range(2),
                          JobSource("synthetic", path, RunOptions(halving=True)), store, each_skip=False)
    finally:
        store.close()
    assert [(job.point.values["optimizer.lr"], job.seed) for job in jobs if job.point] == [
        (1e-4, 0), (3e-4, 0), (1e-3, 0), (1e-4, 1), (3e-4, 1), (1e-3, 1)]


def test_a_rung_compares_runs_of_as_many_epochs_on_the_same_data(tmp_path):
    _, found, path = lr_sweep(tmp_path)
    store = Store()
    try:
        rivals(store, found.points()[:3], [0.6, 0.7, 0.8], path)  # runs of 3 epochs on synthetic data
        assert sorted(halving.rung_figures(store, "lr", 1, 3, "synthetic").values()) == [0.6, 0.7, 0.8]
        assert halving.rung_figures(store, "lr", 1, 9, "synthetic") == {}  # a schedule of 9 epochs paces otherwise
        assert halving.rung_figures(store, "lr", 1, 3, "0123abcd") == {}
        assert halving.rung_figures(store, "other", 1, 3, "synthetic") == {}
    finally:
        store.close()


def test_a_halving_sweep_that_stops_points_exits_0_and_says_which_stopped(tmp_path, capsys):
    """In this process, on 21 images a split: two points run; a rival of the sweep (a point the file no longer has)
    leads at epoch 1, where of two or three points only the first goes on: both stop, and the sweep succeeded."""
    from engine.training.data import fingerprint
    from tests.conftest import medmnist_arrays
    from tui.cli.main import main

    data = tmp_path / "tiny.npz"
    np.savez(data, **medmnist_arrays(21))
    path = tmp_path / "two.toml"
    path.write_text(TINY_EXPERIMENTS + '[[sweeps]]\nname = "two"\nextends = 1\n'
                    'axes = { "optimizer.lr" = [1e-3, 2e-3] }\n')
    base = load(path)[1]
    store = Store()
    try:
        leader = sweeps.point(base, Point("two", {"optimizer.lr": 0.5}), "two")
        queue = JobQueue(store)
        [job] = plan([leader], [0], str(data), str(path), RunOptions(epochs=3, halving=True))
        queue.add([job])
        spec = leader.spec
        store.start(RunStarted(job.job_id, 1, spec.name, 0, "cpu", str(data), 3, 1), spec.chapter,
                    spec.run_config(3, False, "fp32"), False, fingerprint(data))
        store.epoch(EpochEnded(job.job_id, 1, 3, 1.0, 1.0, 0.99, 0.5, 1e-3, 1.0))
    finally:
        store.close()
    code = main(["sweep", "two", "--halving", "--epochs", "3", "--device", "cpu", "--data", str(data),
                 "--experiments", str(path)])
    said = capsys.readouterr().err
    assert code == 0 and "stopped at epoch 1: by halving: its point's val AUC" in said
    store = Store()
    try:
        assert store.statuses() == {Status.STOPPED: 2, Status.RUNNING: 1}  # the rival is left as it was stored
    finally:
        store.close()
