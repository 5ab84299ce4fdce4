"""Trains one experiment with one seed: data on the device as uint8, batched augmentation, the page's loop.

`train` is a generator of events; the caller decides what to do with them and when to stop (closing the
generator, or a KeyboardInterrupt, ends the run between two batches).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from engine import augment, bootstrap, models
from engine.data import Dataset
from engine.errors import UserError
from engine.events import BatchProgress, EpochEnded, Event, RunFailed, RunFinished, RunStarted
from engine.experiments import CLASSES, ExperimentSpec
from engine.metrics import evaluate, macro_auc
from engine.options import RunOptions

EVAL_BATCH = 1024  # images per forward pass when evaluating; memory only, no effect on results
PROGRESS_EVERY = 0.1  # seconds between BatchProgress events

# fused: one kernel per step instead of a few per parameter tensor; same update, available on CPU and CUDA.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda params, spec, fused: torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, fused=fused),
    "adam": lambda params, spec, fused: torch.optim.Adam(params, lr=spec.lr, fused=fused),
}


def resolve_device(requested: str = "auto") -> torch.device:
    """CUDA, then Apple's MPS, then the CPU; an explicit request must exist on this machine."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = available_devices()
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise UserError(f"--device {requested}: unknown device; use one of {', '.join(available)}.") from None
    name = requested if device.type != "cuda" or device.index is None else f"cuda:{device.index}"
    if name not in available and not (device.type == "cuda" and "cuda" in available and device.index is None):
        raise UserError(f"--device {requested}: not available on this machine; it has {', '.join(available)}.")
    return device


def available_devices() -> list[str]:
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA · {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "MPS"
    return f"CPU · {torch.get_num_threads()} threads"


def memory_layout(device: torch.device) -> torch.memory_format:
    """Channels-last lets oneDNN (CPU) and cuDNN pick their fastest convolutions: about 1.5x on this CPU for
    the page's CNNs. MPS keeps the default layout, where channels-last kernels have been unreliable."""
    return torch.contiguous_format if device.type == "mps" else torch.channels_last


def run_precision(options: RunOptions) -> str:
    """The precision a run trains in: the one asked for, else its device's default: bf16 on CUDA cards that
    compute it natively, fp32 elsewhere (on the CPU until bf16 is shown to keep results there; see the README)."""
    if options.precision != "auto":
        return options.precision
    device = resolve_device("auto") if options.device == "auto" else torch.device(options.device)
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16: matrix products and convolutions in bfloat16, losses and reductions kept in float32 by autocast."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def class_weights(labels: torch.Tensor) -> torch.Tensor:
    """Inverse frequency, scaled so a class of average size weighs 1: N / (classes * n_c)."""
    counts = torch.bincount(labels, minlength=len(CLASSES)).float()
    return labels.numel() / (len(CLASSES) * counts.clamp(min=1))


def train(spec: ExperimentSpec, dataset: Dataset, options: RunOptions, run_id: str) -> Iterator[Event]:
    device = resolve_device(options.device)
    torch.manual_seed(options.seed)
    generator = torch.Generator(device=device).manual_seed(options.seed)
    epochs = options.epochs or spec.training.epochs
    precision = run_precision(options)

    train_images, train_labels = on_device(dataset, "train", device)
    val_images, val_labels = on_device(dataset, "val", device)

    layout = memory_layout(device)
    model = models.build(spec.model, pretrained=options.pretrained).to(device, memory_format=layout)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = OPTIMIZERS[spec.optimizer.name](trainable, spec.optimizer, device.type in ("cpu", "cuda"))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs) if spec.training.scheduler == "cosine" else None
    weight = class_weights(train_labels) if spec.loss.class_weights == "inverse_frequency" else None
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=spec.loss.label_smoothing)
    transform = augment.pipeline(spec.augment)

    size, batch_size = len(train_labels), spec.training.batch_size
    batches = math.ceil(size / batch_size)
    yield RunStarted(run_id, spec.id, spec.name, options.seed, describe_device(device), dataset.source, epochs, batches)

    train_seconds = 0.0
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        epoch_start = last_report = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        order = torch.randperm(size, generator=generator, device=device)
        for batch in range(batches):
            index = order[batch * batch_size:(batch + 1) * batch_size]
            images = transform(augment.to_float(train_images[index]), generator).contiguous(memory_format=layout)
            with autocast(device, precision):
                loss = criterion(model(images), train_labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(index)
            now = time.perf_counter()
            if now - last_report >= PROGRESS_EVERY or batch == batches - 1:
                last_report = now
                current = loss.item()
                if not math.isfinite(current):
                    yield diverged(run_id, current, epoch)
                    return
                seen = min((batch + 1) * batch_size, size)
                yield BatchProgress(run_id, epoch, batch + 1, batches, current, seen / (now - epoch_start))
        train_seconds += time.perf_counter() - epoch_start
        train_loss = (loss_sum / size).item()
        if not math.isfinite(train_loss):  # one batch went non-finite between two progress reports
            yield diverged(run_id, train_loss, epoch)
            return
        lr = optimizer.param_groups[0]["lr"]
        if scheduler:
            scheduler.step()
        with autocast(device, precision):
            probabilities, val_loss = predict(model, val_images, val_labels, criterion, layout)
        labels = dataset.labels["val"]
        yield EpochEnded(run_id, epoch, epochs, train_loss, val_loss, macro_auc(labels, probabilities),
                         float((probabilities.argmax(1) == labels).mean()), lr, time.perf_counter() - epoch_start)

    metrics = evaluate(dataset.labels["val"], probabilities)
    metrics.update(bootstrap.intervals(dataset.labels["val"], probabilities))
    metrics.update(params=models.count_parameters(model), train_seconds=train_seconds,
                   wall_seconds=time.perf_counter() - started,
                   images_per_second=size * epochs / train_seconds if train_seconds else 0.0)
    yield RunFinished(run_id, metrics, probabilities.round(6).tolist())


def on_device(dataset: Dataset, split: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A split as it stays for the whole run: uint8 N x 3 x 28 x 28 images and int64 labels, on the device."""
    images = torch.from_numpy(dataset.images[split]).permute(0, 3, 1, 2).contiguous().to(device)
    return images, torch.from_numpy(dataset.labels[split]).to(device)


def diverged(run_id: str, loss: float, epoch: int) -> RunFailed:
    return RunFailed(run_id, "diverged", f"the training loss became {loss} in epoch {epoch}", epoch)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, criterion: nn.Module,
            layout: torch.memory_format = torch.contiguous_format) -> tuple[np.ndarray, float]:
    """Val images go through ToTensor only, as in the page's locked val transform (no Normalize)."""
    model.eval()
    logits = torch.cat([model(augment.to_float(images[i:i + EVAL_BATCH]).contiguous(memory_format=layout))
                        for i in range(0, len(images), EVAL_BATCH)])
    logits = logits.float()
    loss = criterion(logits, labels).item()
    probabilities = torch.softmax(logits.double(), dim=1).cpu().numpy()
    return probabilities, loss
