"""Benchmark (not a test): one training epoch of experiments 8, 13 and 21, engine vs the page's plain loop.

The plain loop is what the course's students write: a Dataset that turns each uint8 array into a PIL image
and runs torchvision transforms on it, a DataLoader (shuffle, default collate, no worker processes), and the
same model, optimizer and loss. Both sides time the training loop only (no evaluation), on the same data
and device, and train the same number of images.

    .venv/bin/python tests/bench/train_speed.py --data ../shared/data/dermamnist_rebuilt.npz --repeat 2
    .venv/bin/python tests/bench/train_speed.py --data ../shared/data/dermamnist_rebuilt.npz --experiments $(seq 1 22)

The engine times each precision asked for (auto, as a run without --precision, and fp32 by default). Both sides
run in one process, so the plain loop gets what the engine sets process-wide (freed memory kept on the heap):
the ratios leave that gain out. With several experiments it also adds up each one's epochs at the speed of its
one timed epoch, for a whole page's training time on each side.
"""

from __future__ import annotations  # noqa: I001  (engine is imported before torch, below)

import argparse
import os
import time

import engine  # noqa: F401  (before torch: it sets how OpenMP threads wait, as in a run; see engine.threads)
import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from engine.events import RunFinished
from engine.experiments.load import load
from engine.experiments.spec import ColorJitter, HFlip, Normalize, Rotation, VFlip
from engine.training import data, models
from engine.training.device import resolve_device, run_precision
from engine.training.options import RunOptions
from engine.training.train import OPTIMIZERS, class_weights, train

TORCHVISION = {
    HFlip: lambda s: transforms.RandomHorizontalFlip(s.p),
    VFlip: lambda s: transforms.RandomVerticalFlip(s.p),
    Rotation: lambda s: transforms.RandomRotation(s.degrees),
    ColorJitter: lambda s: transforms.ColorJitter(s.brightness, s.contrast, s.saturation, s.hue),
}


class PillowImages(Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def plain_transform(spec):
    steps = [TORCHVISION[type(a)](a) for a in spec.augment if not isinstance(a, Normalize)]
    steps.append(transforms.ToTensor())
    steps += [transforms.Normalize(a.mean, a.std) for a in spec.augment if isinstance(a, Normalize)]
    return transforms.Compose(steps)


def plain_epoch(spec, dataset, device: torch.device, seed: int) -> float:
    torch.manual_seed(seed)
    model = models.build(spec.model, pretrained=False, chosen=dataset.medset).to(device)
    optimizer = OPTIMIZERS[spec.optimizer.name](model.parameters(), spec.optimizer, False)
    labels = torch.from_numpy(dataset.labels["train"])
    classes = len(dataset.medset.classes)
    weight = class_weights(labels, classes).to(device) if spec.loss.class_weights == "inverse_frequency" else None
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=spec.loss.label_smoothing)
    loader = DataLoader(PillowImages(dataset.images["train"], dataset.labels["train"], plain_transform(spec)),
                        batch_size=spec.training.batch_size, shuffle=True)
    model.train()
    start = time.perf_counter()
    for images, targets in loader:
        images, targets = images.to(device), targets.to(device)
        loss = criterion(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(labels) / (time.perf_counter() - start)


def engine_epoch(spec, dataset, device: str, seed: int, precision: str) -> float:
    options = RunOptions(seed=seed, device=device, epochs=1, pretrained=False, precision=precision)
    events = list(train(spec, dataset, options, "bench"))
    assert isinstance(events[-1], RunFinished), events[-1]
    return events[-1].metrics["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--experiments", nargs="*", type=int, default=[8, 13, 21])
    parser.add_argument("--precision", nargs="+", default=["auto", "fp32"], choices=("auto", "bf16", "fp32"),
                        help="the engine's precisions to time (auto: the device's default, as a run uses it)")
    parser.add_argument("--repeat", type=int, default=1, help="epochs per side; the best is reported")
    args = parser.parse_args()
    dataset = data.load(args.data)
    device = resolve_device(args.device)
    experiments = load()
    size = len(dataset.labels["train"])
    names = [f"{p} ({run_precision(RunOptions(device=args.device, precision=p))})" if p == "auto" else p
             for p in args.precision]
    print(f"device {device} · torch threads {torch.get_num_threads()} · data {dataset.source}"
          f" · load {os.getloadavg()}")
    print("| # | name | " + " | ".join(f"engine {n} img/s | ratio" for n in names) + " | plain img/s |")
    print("|---|---|" + "---|---|" * len(names) + "---|")
    page = dict.fromkeys([*names, "plain"], 0.0)  # seconds for each experiment's epochs, at one epoch's speed
    for experiment_id in args.experiments:
        spec = experiments[experiment_id].spec
        ours = [max(engine_epoch(spec, dataset, args.device, seed, p) for seed in range(args.repeat))
                for p in args.precision]
        plain = max(plain_epoch(spec, dataset, device, seed) for seed in range(args.repeat))
        for name, speed in zip([*names, "plain"], [*ours, plain]):
            page[name] += spec.training.epochs * size / speed
        print(f"| {experiment_id} | {spec.name} | " + " | ".join(f"{o:,.0f} | {o / plain:.2f}x" for o in ours)
              + f" | {plain:,.0f} |", flush=True)
    if len(args.experiments) > 1:
        print("\nAll their epochs at these speeds (training only): " + ", ".join(
            f"{name} {seconds:,.0f} s ({page['plain'] / seconds:.2f}x)" for name, seconds in page.items()))


if __name__ == "__main__":
    main()
