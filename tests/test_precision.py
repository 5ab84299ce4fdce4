"""--precision: checked before anything runs, carried by each queued job to the process that trains it, resolved
there for its device, and bf16 really autocasts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.events import RunFinished
from engine.experiments.load import load
from engine.jobs.queue import JobQueue, plan
from engine.store.runs import Store
from engine.training.data import synthetic
from engine.training.device import cpu_computes_bf16, resolve_device, run_precision
from engine.training.options import RunOptions
from engine.training.train import autocast, train
from tui.arguments import job_source
from tui.cli.main import build_parser


@pytest.mark.parametrize("args", [["run", "1", "--data", "synthetic"], []], ids=["run", "app"])
def test_an_unknown_precision_is_one_sentence(refused, args):
    assert refused(*args, "--precision", "fp16") == "--precision fp16: unknown precision; use bf16 or fp32."


@pytest.mark.parametrize("given, carried", [(["--precision", "bf16"], "bf16"), (["--precision", "fp32"], "fp32"),
                                            ([], "auto")])
def test_each_queued_job_carries_the_precision_to_its_training_process(given, carried, experiments_toml):
    source = job_source(build_parser().parse_args(["run", "8", *given]))
    queue = JobQueue(Store())
    queue.add(plan([load()[8]], [3], source.data, source.experiments_file, source.options))
    job = JobQueue(Store()).claim("a slot")  # another connection, as a worker's
    assert RunOptions(seed=job.seed, **job.options) == RunOptions(seed=3, precision=carried)


@pytest.mark.parametrize("native", [True, False], ids=["native bf16", "no bf16"])
@pytest.mark.parametrize("device, asked, used", [("cpu", "auto", "bf16"), ("auto", "auto", "bf16"),
                                                 ("cpu", "bf16", "bf16"), ("cpu", "fp32", "fp32"),
                                                 ("cuda", "fp32", "fp32")])
def test_auto_becomes_the_cpus_default_and_a_precision_asked_for_stays(monkeypatch, native, device, asked, used):
    if device == "auto" and resolve_device("auto").type != "cpu":
        pytest.skip("auto means a GPU on this machine")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    expected = used if asked != "auto" or native else "fp32"
    assert run_precision(RunOptions(device=device, precision=asked)) == expected


def test_the_cpu_is_said_to_compute_bf16_exactly_when_it_has_the_instructions():
    flags = Path("/proc/cpuinfo")
    if not flags.exists():
        pytest.skip("no /proc/cpuinfo to check against")
    assert cpu_computes_bf16() == ("avx512_bf16" in flags.read_text().split())


@pytest.mark.parametrize("native, used", [(True, "bf16"), (False, "fp32")])
def test_on_cuda_auto_means_bf16_where_the_card_computes_it_natively(monkeypatch, native, used):
    asked = []
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation: asked.append(including_emulation)
                        or native)
    assert (run_precision(RunOptions(device="cuda:1")), asked) == (used, [False])


@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_bf16_computes_convolutions_in_bfloat16(precision, dtype):
    with autocast(torch.device("cpu"), precision):
        assert torch.nn.Conv2d(3, 4, 3)(torch.rand(2, 3, 8, 8)).dtype == dtype


@pytest.mark.slow
def test_a_bf16_run_trains_in_bf16(tiny_experiments):
    dataset, spec = synthetic(), load(tiny_experiments)[1].spec
    runs = {p: list(train(spec, dataset, RunOptions(seed=1, device="cpu", precision=p), p))[-1]
            for p in ("fp32", "bf16")}
    assert all(isinstance(run, RunFinished) for run in runs.values()), runs
    # bfloat16 keeps 8 bits of mantissa: the same seed lands measurably elsewhere than in float32.
    assert np.abs(np.subtract(runs["bf16"].probabilities, runs["fp32"].probabilities)).max() > 1e-4
