"""The training loop in its parts (prepare, train_one_epoch, predict): the events a run sends, a compiled forward
that fails giving way to the eager model (noted, never failing the run), and an augmentation that never waits for
the device."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.errors import RunCancelled
from engine.events import BatchProgress, EpochEnded, RunFinished, RunStarted
from engine.experiments.load import load
from engine.training import augment
from engine.training.data import synthetic
from engine.training.options import RunOptions
from engine.training.train import (
    COMPILE_VARIABLE,
    augmented_batches,
    prepare,
    train,
    train_one_epoch,
)


@pytest.fixture(scope="module")
def dataset():
    """Two batches of the tiny experiment an epoch."""
    full = synthetic()
    return replace(full, images={**full.images, "train": full.images["train"][:1024]},
                   labels={**full.labels, "train": full.labels["train"][:1024]})


@pytest.fixture
def tiny(tiny_experiments):
    return load(tiny_experiments)[1].spec


@pytest.mark.slow
def test_a_run_sends_its_start_progress_each_epoch_and_its_end(tiny, dataset):
    events = list(train(tiny, dataset, RunOptions(seed=2, device="cpu", epochs=2), "r"))
    kinds = [type(event) for event in events]
    ends = [i for i, kind in enumerate(kinds) if kind is EpochEnded]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished and len(ends) == 2, kinds
    for epoch, end in enumerate(ends, 1):
        last = events[end - 1]  # every epoch's last batch is reported, just before the epoch's end
        assert isinstance(last, BatchProgress) and (last.epoch, last.batch) == (epoch, last.batches)
    assert all(kind is BatchProgress for kind in kinds[1:ends[0]] + kinds[ends[0] + 1:ends[1]])
    assert events[-1].notes == ()


def broken(graph, inputs):
    raise ValueError("this backend compiles nothing")


def cancelled(graph, inputs):
    raise RunCancelled


@pytest.mark.slow
def test_a_compiled_forward_that_fails_gives_way_to_the_eager_model(tiny, dataset, one_thread):
    options = RunOptions(seed=4, device="cpu")
    eager, failing = prepare(tiny, dataset, options, 1), prepare(tiny, dataset, options, 1)
    failing.forward = torch.compile(failing.model, backend=broken)
    for setup in (eager, failing):
        *_, = train_one_epoch(setup, "r", 1, time.perf_counter())
    assert failing.forward is failing.model
    assert len(failing.notes) == 1 and failing.notes[0].startswith("torch.compile failed (BackendCompilerFailed")
    for ours, theirs in zip(eager.model.parameters(), failing.model.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)  # the failed batch was not lost nor done twice


@pytest.mark.slow
def test_a_cancel_that_arrives_while_compiling_cancels(tiny, dataset):
    setup = prepare(tiny, dataset, RunOptions(seed=4, device="cpu"), 1)
    setup.forward = torch.compile(setup.model, backend=cancelled)
    with pytest.raises(RunCancelled):
        list(train_one_epoch(setup, "r", 1, time.perf_counter()))


@pytest.mark.slow
def test_a_compile_mode_torch_refuses_is_noted_on_the_finished_run(tiny, dataset, monkeypatch):
    monkeypatch.setenv(COMPILE_VARIABLE, "fastest-please")
    finished = list(train(tiny, dataset, RunOptions(seed=1, device="cpu"), "r"))[-1]
    assert isinstance(finished, RunFinished)
    assert len(finished.notes) == 1 and finished.notes[0].startswith("torch.compile (fastest-please) failed (")
    assert finished.notes[0].endswith("); ran eager")


def test_no_augmentation_of_any_experiment_waits_for_the_device():
    """On the meta device every op whose result depends on the data (nonzero, item, a branch on a value) raises:
    an augmentation that runs there never makes the host wait for a GPU's queue in the batch loop."""
    images = torch.zeros(64, 3, 28, 28, dtype=torch.uint8, device="meta")
    for experiment in load().values():
        batch = augment.pipeline(experiment.spec.augment)(augment.to_float(images), torch.Generator())
        assert (batch.device.type, batch.shape) == ("meta", images.shape), experiment.id
    with pytest.raises(NotImplementedError):  # the CPU's way of jittering asks the data which images to adjust
        augment.keep_indexed(images.float(), torch.zeros(64, dtype=torch.bool, device="meta"), None, None)


def test_an_epoch_cut_into_chunks_gives_every_image_once_with_its_label_in_batches_of_its_size(tiny, dataset):
    setup = prepare(tiny, dataset, RunOptions(seed=3, device="cpu"), 1)
    numbered = torch.arange(1000)  # each image carries its index in its first two pixels
    setup.train_images = torch.zeros(1000, 3, 28, 28, dtype=torch.uint8)
    setup.train_images[:, 0, 0, 0], setup.train_images[:, 0, 0, 1] = numbered % 256, numbered // 256
    setup.train_labels, setup.batch_size = setup.train_labels[:1000], 48  # 10 batches a chunk, and a short last one
    setup.transform = lambda images, generator: images
    batches = list(augmented_batches(setup))
    assert [len(labels) for _, labels in batches] == [48] * 20 + [40] and len(batches) == setup.batches
    assert all(images.is_contiguous(memory_format=setup.layout) for images, _ in batches)
    seen = torch.cat([(images[:, 0, 0, 0] * 255 + images[:, 0, 0, 1] * 255 * 256).round().long()
                      for images, _ in batches])
    assert sorted(seen.tolist()) == list(range(1000)) and seen.tolist() != list(range(1000))
    assert torch.equal(torch.cat([labels for _, labels in batches]), setup.train_labels[seen])


HEAP_AFTER_A_16_MB_BLOCK = """
import ctypes, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype, libc.malloc.restype = MallInfo2, ctypes.c_void_p
if sys.argv[1] == "keep":  # torch imported only here: its import could move glibc's own threshold
    from engine.training.train import keep_freed_memory
    keep_freed_memory()
before = libc.mallinfo2().hblkhd
block = libc.malloc(16 << 20)
mapped = (libc.mallinfo2().hblkhd - before) >> 20
libc.free(ctypes.c_void_p(block))
print(mapped, libc.mallinfo2().arena >> 20 >= 16)
"""


@pytest.mark.processes
@pytest.mark.slow
@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="not glibc")
def test_a_training_process_keeps_freed_blocks_of_a_batchs_size_on_its_heap():
    """A block glibc maps by itself goes back to the kernel when freed, and the next one faults its pages in again
    (about 170,000 faults an epoch of experiment 13 on real data). In a fresh process, as a worker's child starts:
    the block comes from the heap, and the heap keeps it once it is freed."""
    heap = {way: subprocess.run([sys.executable, "-c", HEAP_AFTER_A_16_MB_BLOCK, way], capture_output=True,
                                text=True, check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
            for way in ("keep", "glibc's default")}
    if heap["glibc's default"][0] != "16":
        pytest.skip("this process's allocator keeps such blocks already (a tunable, or another malloc preloaded)")
    assert heap["keep"] == ["0", "True"]
