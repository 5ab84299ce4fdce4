"""Trains one experiment with one seed: data on the device as uint8, batched augmentation, the page's loop.

`train` is a generator of events; the caller decides what to do with them and when to stop (closing the
generator, or a KeyboardInterrupt, ends the run between two batches).
"""

from __future__ import annotations

import ctypes
import math
import os
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine import threads
from engine.analysis import bootstrap
from engine.analysis.metrics import evaluate, macro_auc
from engine.classes import ORDINAL_NOTE
from engine.errors import RunCancelled, said
from engine.events import (
    BatchProgress,
    EpochEnded,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
)
from engine.experiments.spec import Augmentation, ExperimentSpec, HFlip, Normalize
from engine.status import Status
from engine.training import augment, models
from engine.training import checkpoint as saving
from engine.training.data import Dataset
from engine.training.device import describe_device, mps_notes, resolve_device, run_precision, watch_mps_fallbacks
from engine.training.options import RunOptions
from engine.words import plural

EVAL_BATCH = 1024  # images per forward pass when evaluating; memory only, no effect on results
PROGRESS_EVERY = 0.25  # seconds between BatchProgress events: each waits for the device (a GPU's queue drains)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
COMPILE_VARIABLE = "DERMALAB_COMPILE"  # off (default), default, reduce-overhead (with CUDA graphs), max-autotune

# fused: one kernel per step instead of a few per parameter tensor; same update, available on CPU and CUDA.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda params, spec, fused: torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, fused=fused),
    "adam": lambda params, spec, fused: torch.optim.Adam(params, lr=spec.lr, fused=fused),
}


def memory_layout(device: torch.device) -> torch.memory_format:
    """Channels-last lets oneDNN (CPU) and cuDNN pick their fastest convolutions: about 1.5x on this CPU for
    the page's CNNs. MPS keeps the default layout, where channels-last kernels have been unreliable."""
    return torch.contiguous_format if device.type == "mps" else torch.channels_last


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16: matrix products and convolutions in bfloat16, losses and reductions kept in float32 by autocast."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def class_weights(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Inverse frequency, scaled so a class of average size weighs 1: N / (classes * n_c)."""
    counts = torch.bincount(labels, minlength=classes).float()
    return labels.numel() / (classes * counts.clamp(min=1))


@dataclass(kw_only=True)  # seventeen fields: each named where a Setup is made
class Setup:
    """What a run trains with, made once before its first epoch (torchvision's reference scripts keep these in
    main() and hand them to train_one_epoch and evaluate)."""

    device: torch.device
    layout: torch.memory_format
    precision: str
    generator: torch.Generator
    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    model: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]  # the model, or its compiled form while that works
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    criterion: nn.Module
    transform: augment.Op
    batch_size: int
    governor: threads.Governor  # how many CPU threads to train with now
    notes: list[str] = field(default_factory=list)  # what ran unlike what was asked (RunFinished.notes)

    @property
    def batches(self) -> int:
        return math.ceil(len(self.train_labels) / self.batch_size)


def train(spec: ExperimentSpec, dataset: Dataset, options: RunOptions, run_id: str,
          checkpoint: Path | None = None) -> Generator[Event, None, None]:
    """With `checkpoint`, the run saves there at each epoch's end but the last; a checkpoint found there already
    is the same run stopped between two epochs, which goes on after its last saved epoch (its earlier epochs are
    yielded again after RunStarted, for the store and the curves)."""
    epochs = options.epochs or spec.training.epochs
    setup = prepare(spec, dataset, options, epochs)
    so_far = resume(setup, checkpoint) if checkpoint is not None and checkpoint.exists() else saving.Progress()
    size = len(setup.train_labels)
    yield RunStarted(run_id, spec.id, spec.name, options.seed, describe_device(setup.device), dataset.source, epochs,
                     setup.batches, so_far.epoch, dataset.medset.name)
    yield from so_far.history

    started = time.perf_counter() - so_far.wall_seconds
    patience = EarlyStop(spec.training.patience, so_far.best_auc, so_far.best_epoch)
    epoch = so_far.epoch
    for epoch in range(so_far.epoch + 1, epochs + 1):
        train_loss, seconds = yield from train_one_epoch(setup, run_id, epoch, time.perf_counter())
        so_far.train_seconds += seconds
        trained_at = time.perf_counter()
        if not math.isfinite(train_loss):
            yield diverged(run_id, train_loss, epoch)
            return
        lr = setup.optimizer.param_groups[0]["lr"]
        if setup.scheduler:
            setup.scheduler.step()
        probabilities, val_loss = predict(setup.model, setup.val_images, setup.val_labels, setup.criterion,
                                          setup.layout, setup.precision)
        labels = dataset.labels["val"]
        val_auc = macro_auc(labels, probabilities)
        ended = EpochEnded(run_id, epoch, epochs, train_loss, val_loss, val_auc,
                           float((probabilities.argmax(1) == labels).mean()), lr,
                           seconds + time.perf_counter() - trained_at)
        yield ended
        if epoch < epochs and patience.stops(epoch, val_auc):
            setup.notes.append(patience.note(epoch, epochs))
            break
        if checkpoint is not None and epoch < epochs:  # the last epoch's end is the run's: nothing to go on with
            so_far.epoch, so_far.wall_seconds = epoch, time.perf_counter() - started
            so_far.history.append(ended)
            so_far.best_auc, so_far.best_epoch = patience.best, patience.best_epoch
            saving.save(checkpoint, so_far, states(setup))

    if so_far.resumed_after:
        setup.notes.append(resumed_note(so_far.resumed_after))
    chosen = dataset.medset
    metrics = evaluate(dataset.labels["val"], probabilities, chosen)
    metrics.update(bootstrap.intervals(dataset.labels["val"], probabilities, chosen.focus))
    metrics.update(params=models.count_parameters(setup.model), train_seconds=so_far.train_seconds,
                   wall_seconds=time.perf_counter() - started,
                   images_per_second=size * epoch / so_far.train_seconds if so_far.train_seconds else 0.0)
    yield RunFinished(run_id, metrics, probabilities.round(6).tolist(), (*setup.notes, *mps_notes()),
                      epoch if epoch < epochs else None, sealed_test(setup, dataset))


def states(setup: Setup) -> dict[str, Any]:
    """What the next epoch depends on beside the run's counts: the weights, the optimizer's moments, the
    scheduler's step, and the random generators (the global one draws dropout, the run's own the order and the
    augmentation), so that a resumed run draws what it would have drawn."""
    cuda = setup.device.type == "cuda"
    return {"model": setup.model.state_dict(), "optimizer": setup.optimizer.state_dict(),
            "scheduler": setup.scheduler.state_dict() if setup.scheduler else None,
            "cpu_rng": torch.get_rng_state(), "run_rng": setup.generator.get_state(),
            "cuda_rng": torch.cuda.get_rng_state(setup.device) if cuda else None}


def resume(setup: Setup, checkpoint: Path) -> saving.Progress:
    """The run's states as its checkpoint saved them, put back into a freshly prepared `setup`."""
    so_far, saved = saving.load(checkpoint)
    setup.model.load_state_dict(saved["model"])
    setup.optimizer.load_state_dict(saved["optimizer"])
    if setup.scheduler is not None and saved["scheduler"] is not None:
        setup.scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["cpu_rng"])
    setup.generator.set_state(saved["run_rng"])
    if saved["cuda_rng"] is not None and setup.device.type == "cuda":
        torch.cuda.set_rng_state(saved["cuda_rng"], setup.device)
    so_far.resumed_after.append(so_far.epoch)
    return so_far


def resumed_note(after: list[int]) -> str:
    epochs = ", ".join(map(str, after))
    return (f"resumed from its checkpoint {plural(len(after), 'time')} (after epoch{'s' * (len(after) > 1)} "
            f"{epochs}); its curves join every epoch")


class EarlyStop:
    """Patience on val AUC: the run stops once `patience` epochs in a row have not beaten its best AUC so far (the
    first epoch's is the first best). A NaN AUC (a class missing from val) never beats one. None: never stops."""

    def __init__(self, patience: int | None, best: float = -math.inf, best_epoch: int = 0):
        self.patience = patience
        self.best, self.best_epoch = best, best_epoch  # a resumed run's, as its checkpoint kept them

    def stops(self, epoch: int, auc: float) -> bool:
        if auc > self.best or not self.best_epoch:
            self.best, self.best_epoch = auc, epoch
        return self.patience is not None and epoch - self.best_epoch >= self.patience

    def note(self, epoch: int, epochs: int) -> str:
        return (f"stopped early at epoch {epoch} of {epochs}: val AUC had not improved on epoch {self.best_epoch}'s "
                f"{self.best:.3f} for {self.patience} epochs")


def sealed_test(setup: Setup, dataset: Dataset) -> dict[str, Any] | None:
    """The test split scored once by the finished model, for the store to keep sealed (none where the data has no
    test images). Only its probabilities and point figures: intervals are drawn when someone unseals them."""
    labels = dataset.labels.get("test")
    if labels is None or not len(labels):
        return None
    images, label_tensor = on_device(dataset, "test", setup.device, setup.train_images.shape[1])
    probabilities, _ = predict(setup.model, images, label_tensor, setup.criterion, setup.layout, setup.precision)
    return {"metrics": evaluate(labels, probabilities, dataset.medset), "labels": labels.tolist(),
            "probabilities": probabilities.round(6).tolist()}


def keep_freed_memory() -> None:
    """glibc maps a block over its threshold (128 KB, moved up by its own guesses) and hands it back to the kernel
    when freed, and trims the heap's freed top too, so a batch's activations or a chunk of images faulted their
    pages in afresh again and again: on this CPU half the augmentation's time and a sixth of the model step's. Up to
    32 MB a block, freed memory now stays with the process for reuse, as PyTorch's CUDA allocator keeps GPU memory:
    a training process holds on to its peak heap until it exits. Only where glibc is: the thresholds are its own
    (on Windows there is no C library to open by None)."""
    if glibc():
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)


def glibc() -> bool:
    """Whether this process runs on glibc (os.confstr is missing on Windows, and refuses the name on macOS)."""
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (AttributeError, ValueError, OSError):
        return False


def prepare(spec: ExperimentSpec, dataset: Dataset, options: RunOptions, epochs: int) -> Setup:
    """The data on the device, the model, its optimizer, scheduler and loss, and the augmentation, seeded."""
    keep_freed_memory()
    device = resolve_device(options.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: cuDNN times its algorithms once and keeps the fastest
    if device.type == "mps":
        watch_mps_fallbacks()
    torch.manual_seed(options.seed)
    generator = torch.Generator(device=device).manual_seed(options.seed)
    channels = 3 if spec.model.arch == "resnet18" else dataset.medset.channels
    train_images, train_labels = on_device(dataset, "train", device, channels)
    val_images, val_labels = on_device(dataset, "val", device, channels)

    layout = memory_layout(device)
    model = models.build(spec.model, options.pretrained, dataset.medset).to(device).to(memory_format=layout)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = OPTIMIZERS[spec.optimizer.name](trainable, spec.optimizer, device.type in ("cpu", "cuda"))
    cosine = spec.training.scheduler == "cosine"
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs) if cosine else None
    classes = len(dataset.medset.classes)
    weight = class_weights(train_labels, classes) if spec.loss.class_weights == "inverse_frequency" else None
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=spec.loss.label_smoothing)
    setup = Setup(device=device, layout=layout, precision=run_precision(options), generator=generator,
                  train_images=train_images, train_labels=train_labels, val_images=val_images, val_labels=val_labels,
                  model=model, forward=model, optimizer=optimizer, scheduler=scheduler, criterion=criterion,
                  transform=augment.pipeline(kept_ops(spec, dataset), channels), batch_size=spec.training.batch_size,
                  governor=threads.governor())
    setup.forward = compiled(model, os.environ.get(COMPILE_VARIABLE, "off"), setup.notes)
    setup.notes.extend(set_notes(spec, dataset, channels))
    return setup


def kept_ops(spec: ExperimentSpec, dataset: Dataset) -> list[Augmentation]:
    """The train transform's ops this set can take: no horizontal flip where classes differ by side alone."""
    return [op for op in spec.augment if not (dataset.medset.sided and isinstance(op, HFlip))]


def set_notes(spec: ExperimentSpec, dataset: Dataset, channels: int) -> list[str]:
    """What a run on another set does unlike the page's, said in its notes rather than done silently; `channels`
    are those the model takes."""
    chosen, notes = dataset.medset, []
    if chosen.channels == 1 and spec.model.arch == "resnet18":
        notes.append("grey images repeated to three channels for ResNet18")
    if chosen.channels == 1 and augment.colour_ops(spec.augment):  # on grey repeated to three, they change nothing
        notes.append("colour jitter on grey images: brightness and contrast only (saturation and hue need colour)")
    if channels == 1 and any(isinstance(op, Normalize) for op in spec.augment):
        notes.append("Normalize on grey images with the mean of its three means and of its three stds")
    if len(kept_ops(spec, dataset)) < len(spec.augment):
        notes.append(f"no horizontal flips: {chosen.name}'s left and right organs are classes of their own")
    if chosen.task == "ordinal-regression":
        notes.append(ORDINAL_NOTE)
    return notes


def train_one_epoch(setup: Setup, run_id: str, epoch: int,
                    epoch_start: float) -> Generator[Event, None, tuple[float, float]]:
    """One pass over the training images in a fresh order; yields BatchProgress a few times a second and returns
    the epoch's mean loss (a non-finite batch loss seen in a report ends the epoch there, returned as it is) and
    its training seconds. Nothing in the loop waits for the device but those reports, so a GPU is never left
    waiting for Python. The caller's time with each report (a progress bar on a slow terminal, a full pipe) is
    not training: images/s and the seconds leave it out."""
    setup.model.train()
    size, batch_size, batches = len(setup.train_labels), setup.batch_size, setup.batches
    last_report, held = epoch_start, 0.0  # held: the caller's time with the reports so far
    loss_sum = torch.zeros((), device=setup.device)
    for batch, (images, labels) in enumerate(augmented_batches(setup)):
        with autocast(setup.device, setup.precision):
            loss = setup.criterion(step_forward(setup, images), labels)
        setup.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        setup.optimizer.step()
        loss_sum += loss.detach() * len(labels)
        if time.perf_counter() - last_report >= PROGRESS_EVERY or batch == batches - 1:
            current = loss.item()  # waits for the device: the only place in the loop that does
            last_report = time.perf_counter()
            if not math.isfinite(current):
                return current, last_report - epoch_start - held
            seen = min((batch + 1) * batch_size, size)
            yield BatchProgress(run_id, epoch, batch + 1, batches, current,
                                seen / (last_report - epoch_start - held))
            held += time.perf_counter() - last_report
    return (loss_sum / size).item(), time.perf_counter() - epoch_start - held


def augmented_batches(setup: Setup) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The epoch's batches in a fresh order, augmented a chunk of batches at a time: each op of the pipeline then
    works on a few hundred images at once, which spreads across the CPU's threads (about twice as fast per image
    here as batch by batch) and on a GPU launches a few kernels per chunk instead of per batch. Every image still
    draws its own parameters, so the chunk changes which numbers a seed draws, not what they are drawn from."""
    size, batch_size = len(setup.train_labels), setup.batch_size
    chunk = max(1, augment.chunk_images(setup.device) // batch_size) * batch_size
    order = torch.randperm(size, generator=setup.generator, device=setup.device)
    try:
        for start in range(0, size, chunk):
            if setup.device.type == "cpu":
                follow_free_cores(setup.governor)
            index = order[start:start + chunk]
            images = setup.transform(augment.to_float(setup.train_images[index]), setup.generator)
            images, labels = images.contiguous(memory_format=setup.layout), setup.train_labels[index]
            for first in range(0, len(index), batch_size):
                yield images[first:first + batch_size], labels[first:first + batch_size]
    finally:  # threads given up on a busy machine come back for evaluation, and for the next run in this process
        torch.set_num_threads(setup.governor.most)


def follow_free_cores(governor: threads.Governor) -> None:
    """Between chunks, as many threads as the cores other work leaves free (engine.threads.Governor)."""
    if (count := governor.count()) != torch.get_num_threads():
        torch.set_num_threads(count)


def compiled(model: nn.Module, mode: str, notes: list[str]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model's training forward as torch.compile makes it in `mode` (reduce-overhead adds CUDA graphs), or
    the model itself for off. Compiling happens at the first batch; see step_forward for when it fails."""
    if mode == "off":
        return model
    try:
        return torch.compile(model, mode=None if mode == "default" else mode)
    except RuntimeError as error:  # an unknown mode, or no compiler for this platform
        notes.append(f"torch.compile ({mode}) failed ({said(error)}); ran eager")
        return model


def step_forward(setup: Setup, images: torch.Tensor) -> torch.Tensor:
    """The forward pass of a training step. A compiled forward that fails (at its first batch, or when a new
    shape recompiles it) gives way to the eager model for the rest of the run, noted: a compile failure never
    fails a run. Torch's compile errors, CUDA graph errors and out-of-memory are all RuntimeErrors; a cancel or
    Ctrl-C that arrived while compiling is re-raised as itself."""
    if setup.forward is setup.model:
        return setup.model(images)
    try:
        torch.compiler.cudagraph_mark_step_begin()  # this step's outputs may overwrite the last step's
        return setup.forward(images)
    except RuntimeError as error:
        if (stop := stop_within(error)) is not None:
            raise stop from None
        setup.notes.append(f"torch.compile failed ({said(error)}); ran eager")
        setup.forward = setup.model
        return setup.model(images)


def stop_within(error: BaseException) -> BaseException | None:
    """A cancel or Ctrl-C that torch wrapped into a compile error (a signal handler raised it mid-compile)."""
    link: BaseException | None = error
    while link is not None:
        if isinstance(link, (RunCancelled, KeyboardInterrupt)):
            return link
        link = link.__cause__ or link.__context__
    return None


def on_device(dataset: Dataset, split: str, device: torch.device,
              channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A split as it stays for the whole run: uint8 N x C x S x S images (DermaMNIST: 3 x 28 x 28; grey ones
    repeated to `channels`) and int64 labels, on the device."""
    images = torch.from_numpy(dataset.images[split]).permute(0, 3, 1, 2)
    images = images.expand(-1, channels, -1, -1).contiguous().to(device)
    return images, torch.from_numpy(dataset.labels[split]).to(device)


def diverged(run_id: str, loss: float, epoch: int) -> RunFailed:
    return RunFailed(run_id, Status.DIVERGED, f"the training loss became {loss} in epoch {epoch}", epoch)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, criterion: nn.Module,
            layout: torch.memory_format = torch.contiguous_format, precision: str = "fp32") -> tuple[np.ndarray, float]:
    """Val images go through ToTensor only, as in the page's locked val transform (no Normalize). The eager model
    (never the compiled one): evaluation runs once an epoch, and in eval mode a compiled model would compile again."""
    model.eval()
    with autocast(images.device, precision):
        logits = torch.cat([model(augment.to_float(images[i:i + EVAL_BATCH]).contiguous(memory_format=layout))
                            for i in range(0, len(images), EVAL_BATCH)]).float()
    loss = criterion(logits, labels).item()
    probabilities = torch.softmax(logits.double(), dim=1).cpu().numpy()
    return probabilities, loss
