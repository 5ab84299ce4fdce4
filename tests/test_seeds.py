"""Which seeds still need a run, asked of one place (engine.jobs.seeds) by `dermalab run --seed/--seeds` and by the
app's r: a seed counts as done only when it finished with the same config as run, on the same data."""

from __future__ import annotations

from engine.events import RunFailed, RunStarted
from engine.experiments.load import load
from engine.jobs import seeds
from engine.jobs.source import JobSource
from engine.store.runs import Store
from engine.training.options import RunOptions
from tests.conftest import noisy_predictions
from tui.app.lab import Lab

FP32 = RunOptions(precision="fp32")


def store_failed(store: Store, seed: int) -> None:
    spec = load()[8].spec
    store.start(RunStarted("failed", 8, spec.name, seed, "cpu", "synthetic", 5, 1), spec.chapter,
                spec.page_config("fp32"), True, "synthetic")
    store.fail(RunFailed("failed", "failed", "the run failed", 1))


def test_only_runs_finished_with_the_same_config_and_data_count(store_run, stored):
    labels, probabilities = noisy_predictions(0)
    experiment = load()[8]
    with stored.opened() as store:
        assert seeds.next_seed(store, experiment, "synthetic", FP32) == 0
    done = {seed: store_run(labels, probabilities, seed=seed) for seed in (0, 3)}  # fp32, synthetic, the page's epochs
    store_run(labels, probabilities, seed=7, precision="bf16")
    store_run(labels, probabilities, seed=9, synthetic=False)
    store_run(labels, probabilities, seed=11, epochs=1)
    with stored.opened() as store:
        store_failed(store, seed=8)
        assert seeds.finished_among(store, experiment, range(5), "synthetic", FP32) == done
        assert seeds.next_seed(store, experiment, "synthetic", FP32) == 4
        assert seeds.next_seed(store, experiment, "synthetic", RunOptions(precision="bf16")) == 8
        assert seeds.next_seed(store, experiment, "synthetic", RunOptions()) == 8  # auto: either precision counts
        assert seeds.next_seed(store, experiment, "synthetic", RunOptions(precision="fp32", epochs=1)) == 12
        assert seeds.next_seed(store, experiment, "auto", FP32) == 10
        assert seeds.next_seed(store, load()[9], "synthetic", FP32) == 0


def test_the_apps_r_queues_the_seed_after_the_highest_finished(store_run, dermalab_home):
    labels, probabilities = noisy_predictions(1)
    for seed in (0, 1, 2):
        store_run(labels, probabilities, seed=seed)
    store_run(labels, probabilities, seed=6, precision="bf16")  # another config: not this source's
    lab = Lab(load(), Store(), JobSource("synthetic", None, FP32))
    lab.reload()
    lab.toggle([8])
    assert [job.seed for job in lab.enqueue_selection()] == [3]
    lab.toggle([8])
    assert [job.seed for job in lab.enqueue_selection()] == [4]  # after the one queued, which has not finished yet
    lab.store.close()
