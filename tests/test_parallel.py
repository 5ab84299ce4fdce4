"""Several runs at once: the slots handed out for a faked list of GPUs (no GPU is needed), the header's GPU figures
absent without an NVIDIA driver, `run --jobs 2` end to end with results that do not depend on --jobs, and the bad
input of the slot options."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import numpy as np
import pytest

from engine.errors import UserError
from engine.experiments.load import load
from engine.jobs import gpus, runner
from engine.jobs.slots import Slot, SlotRequest, hand_out, machine_slots
from engine.store.runs import Store
from engine.threads import cores_allowed
from engine.training import data
from engine.training.options import RunOptions

FOUR_GPUS = ["0", "1", "2", "3"]


@pytest.fixture
def no_driver(monkeypatch, tmp_path):
    """This machine as one without an NVIDIA driver, whatever it has."""
    monkeypatch.setattr(gpus, "DRIVER", tmp_path / "no driver")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def names(slots: list[Slot]) -> list[tuple[str, str | None, int]]:
    return [(slot.name, slot.gpu, slot.threads) for slot in slots]


def test_on_the_cpu_jobs_share_the_cores():
    assert names(hand_out(SlotRequest(), [], cores=8)) == [("cpu", None, 8)]
    assert names(hand_out(SlotRequest(jobs=2), [], cores=2)) == [("cpu 1", None, 1), ("cpu 2", None, 1)]
    assert names(hand_out(SlotRequest(jobs=3), [], cores=8)) == [(f"cpu {n}", None, 2) for n in (1, 2, 3)]
    assert names(hand_out(SlotRequest(jobs=4), [], cores=2))[-1] == ("cpu 4", None, 1)  # never 0 threads


def test_gpus_are_handed_out_one_job_each_by_default_or_k_each_or_the_chosen_ones():
    assert names(hand_out(SlotRequest(), FOUR_GPUS, cores=16)) == [(f"gpu {g}", g, 4) for g in FOUR_GPUS]
    assert names(hand_out(SlotRequest(gpus="0,2"), FOUR_GPUS, cores=16)) == [("gpu 0", "0", 8), ("gpu 2", "2", 8)]
    assert names(hand_out(SlotRequest(gpus="0,2", per_gpu=2), FOUR_GPUS, cores=16)) == [
        ("gpu 0 #1", "0", 4), ("gpu 2 #1", "2", 4), ("gpu 0 #2", "0", 4), ("gpu 2 #2", "2", 4)]
    assert [slot.gpu for slot in hand_out(SlotRequest(jobs=3), ["0", "1"], cores=6)] == ["0", "1", "0"]
    # GPUs named as CUDA_VISIBLE_DEVICES lists them (here by a scheduler that gave this job GPUs 5 and 7)
    assert [slot.gpu for slot in hand_out(SlotRequest(per_gpu=2), ["5", "7"], cores=4)] == ["5", "7", "5", "7"]


def test_the_device_decides_whether_gpus_are_handed_out():
    assert names(hand_out(SlotRequest(jobs=2), FOUR_GPUS, cores=4, device="cpu")) == [("cpu 1", None, 2),
                                                                                       ("cpu 2", None, 2)]
    assert [slot.gpu for slot in hand_out(SlotRequest(), FOUR_GPUS, cores=4, device="cuda")] == FOUR_GPUS


def test_without_a_driver_cuda_visible_devices_names_no_gpu(no_driver, monkeypatch):
    """Set by a scheduler or a shell profile on a machine without a GPU (issue 23, class 10): slots on the CPU."""
    for listed in ("0,1", "0,1,2,3", "NoDevFiles", "0,0", ""):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", listed)
        assert gpus.visible() == []
        assert names(machine_slots(SlotRequest())) == [("cpu", None, cores_allowed())]
    with pytest.raises(UserError, match="this machine has no NVIDIA GPU that CUDA may use"):
        machine_slots(SlotRequest(gpus="1"))


def test_cuda_visible_devices_names_devices_there_are_each_once_as_cuda_reads_it():
    uuids = ["GPU-aa11", "GPU-bb22", "MIG-cc33"]  # two GPUs, then a MIG instance
    for listed, named in [("0,1", ["0", "1"]), ("1", ["1"]), ("0,1,2,3", ["0", "1"]), ("NoDevFiles", []),
                          ("0,0", ["0"]), ("-1", []), ("0,-1,1", ["0"]), ("", []), (" 1 , 0", ["1", "0"]),
                          ("GPU-bb,0", ["GPU-bb", "0"]), ("1,GPU-bb22", ["1"]), ("GPU-", []), ("MIG-cc", ["MIG-cc"])]:
        assert gpus.existing(listed, 2, uuids) == named, listed


def test_without_an_nvidia_driver_nvml_is_never_imported_and_there_is_nothing_to_show(no_driver):
    sys.modules.pop("pynvml", None)
    assert gpus.samples() == [] and gpus.visible() == []
    assert "pynvml" not in sys.modules


def test_bad_slot_requests_are_one_sentence(refused, no_driver):
    assert refused("run", "1", "--jobs", "0") == "--jobs 0: give a whole number from 1 to 1,024."
    assert refused("worker", "--per-gpu", "0") == "--per-gpu 0: give a whole number from 1 to 1,024."
    assert refused("--jobs", "2", "list").startswith("--jobs does nothing for 'dermalab list'")
    assert refused("run", "1", "--jobs", "2", "--per-gpu", "2").startswith("--jobs and --per-gpu both set")
    assert refused("run", "1", "--detach", "--gpus", "0").startswith("--gpus: this machine has no NVIDIA GPU")
    assert refused("run", "1", "--device", "cuda:1", "--jobs", "2").startswith("--device cuda:1 names one GPU")
    with pytest.raises(Exception, match="--gpus 0,9: name each GPU once, out of 0, 1, 2, 3"):
        hand_out(SlotRequest(gpus="0,9"), FOUR_GPUS, cores=4)
    with pytest.raises(Exception, match="--device cpu keeps every run on the CPU"):
        hand_out(SlotRequest(gpus="0"), FOUR_GPUS, cores=4, device="cpu")


def test_the_worker_started_for_a_request_is_asked_for_the_same_slots():
    assert SlotRequest(jobs=2).arguments() == ["--jobs", "2"]
    assert SlotRequest(gpus="0,2", per_gpu=4).arguments() == ["--gpus", "0,2", "--per-gpu", "4"]
    assert SlotRequest().arguments() == [] and not SlotRequest().asked()


@pytest.mark.processes
@pytest.mark.slow
@pytest.mark.starts_jobs
def test_two_jobs_at_once_store_both_runs_with_the_metrics_of_one_at_a_time(tiny_experiments, child_cli, stored):
    done = child_cli("run", "1", "--seeds", "2", "--jobs", "2", "--json", "--data", "synthetic", "--experiments",
                     str(tiny_experiments))
    assert done.returncode == 0, done.stderr
    results = {row["seed"]: row for row in map(json.loads, done.stdout.splitlines())}
    jobs = stored.jobs()
    assert sorted(job["slot"] for job in jobs.values()) == ["cpu 1", "cpu 2"]
    first, second = sorted(jobs.values(), key=lambda job: job["claimed_at"])
    assert second["claimed_at"] < first["ended_at"]  # both slots were taken before either run ended

    experiment, dataset = load(tiny_experiments)[1], data.synthetic()
    for seed, result in results.items():  # the same (experiment, seed) trained alone, in this process
        runner.run_one(f"alone-{seed}", experiment, dataset, RunOptions(seed=seed, device="cpu"), Store(),
                       lambda event: None)
        together, alone = stored.get(result["run_id"]), stored.get(f"alone-{seed}")
        assert together["status"] == alone["status"] == "finished"
        ours, theirs = learned(together), learned(alone)
        assert ours.keys() == theirs.keys() and {"metrics.auc", "metrics.recall.mel", "epoch 1.val_loss"} <= ours.keys()
        # A child takes half the cores, this process all of them, and sums split over other threads round
        # differently: this tiny one-epoch model agrees to 1e-4, a real one drifts further (README, 'Every core').
        assert all(abs(ours[key] - theirs[key]) <= 1e-4 for key in ours), {
            key: (ours[key], theirs[key]) for key in ours if ours[key] != theirs[key]}
        assert np.allclose(together["probabilities"], alone["probabilities"], rtol=0, atol=1e-5)


TIMINGS = {"train_seconds", "wall_seconds", "images_per_second", "seconds"}


def learned(run: dict) -> dict[str, float]:
    """Every figure a run scored and its epochs' figures, by path, without how long they took."""
    return {**leaves("metrics", run["metrics"]),
            **{key: value for epoch in run["history"]
               for key, value in leaves(f"epoch {epoch['epoch']}", epoch).items()}}


def leaves(path: str, value) -> dict[str, float]:
    if isinstance(value, dict):
        return {key: leaf for name, inner in value.items() if name not in TIMINGS
                for key, leaf in leaves(f"{path}.{name}", inner).items()}
    return {path: float(value)} if isinstance(value, (int, float)) else {}


@pytest.mark.slow
def test_the_header_shows_each_gpus_utilisation_and_memory_once_sampled(no_driver):
    from textual.widgets import Static

    from tui.app.main import create_app
    from tui.app.messages import GpusSampled
    from tui.cli.main import build_parser

    async def drive() -> tuple[str, str, set[str]]:
        app = create_app(build_parser().parse_args(["--data", "synthetic"]), accelerator="CUDA · test")
        async with app.run_test(size=(120, 30)) as pilot:
            header = app.screen.query_one("#header-line", Static)
            before = str(header.content)
            groups = {worker.group for worker in app.workers}
            app.post_message(GpusSampled([gpus.GpuSample("0", 87, int(3.1 * 2**30), 80 * 2**30),
                                          gpus.GpuSample("2", 4, 2**29, 80 * 2**30)]))
            await pilot.pause()
            return before, str(header.content), groups

    before, after, groups = asyncio.run(drive())
    assert "gpus" not in groups and "GPU" not in before  # without a driver nothing samples, the header is as it was
    assert after == f"{before} │ GPU 0 87% 3.1/80G · GPU 2 4% 0.5/80G"


@pytest.mark.processes
@pytest.mark.slow
def test_a_worker_started_for_two_jobs_trains_them_in_two_slots_at_once(tiny_experiments, cli, stored, dermalab_home):
    queued = cli("run", "1", "--seeds", "2", "--detach", "--jobs", "2", "--data", "synthetic", "--experiments",
                 str(tiny_experiments))
    assert queued.returncode == 0, queued.stderr
    deadline = time.monotonic() + 240  # the worker imports torch and trains two tiny runs on a busy 2-core box
    while any(job["status"] != "finished" for job in stored.jobs().values()):
        assert time.monotonic() < deadline, stored.jobs()
        time.sleep(0.2)
    jobs = sorted(stored.jobs().values(), key=lambda job: job["claimed_at"])
    assert sorted(job["slot"] for job in jobs) == ["cpu 1", "cpu 2"]
    assert jobs[1]["claimed_at"] < jobs[0]["ended_at"]  # the second began before the first ended
    [log] = (dermalab_home / "logs").glob("worker-*.log")
    assert "in 2 slots: cpu 1 (" in log.read_text()
