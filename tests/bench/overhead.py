"""Benchmark (not a test): what a training epoch costs beyond its model steps (augmentation, batch indexing, the
loop's bookkeeping), per experiment and precision. Issue 13's target: under 15 % of the model steps' time.

Both sides start from a fresh `engine.training.train.prepare` of the same run (same model, optimizer, loss, layout and
precision) and train as many batches as one epoch:
  model steps: forward, loss, backward and optimizer step on batches cut beforehand from the training images
               (ToTensor done, no augmentation), nothing else in the loop;
  epoch:       `engine.training.train.train_one_epoch`, as a run trains (augmentation and progress reports included).
The difference of the two is the overhead; on a shared machine it swings by several points from run to run, as
each side's best does. So the batches alone (`engine.training.train.augmented_batches`: cut, ToTensor, augmentation and
layout, no model) are timed too, a direct measure of the largest part, shown as a share of the model steps.
Best of --repeat, the three taken in turn; the load average is printed beside the figures.

    .venv/bin/python tests/bench/overhead.py --data ../shared/data/dermamnist_rebuilt.npz --ids 8 13 21 \\
        --precision fp32 bf16
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from engine.experiments.load import load  # noqa: E402
from engine.training import augment, data  # noqa: E402
from engine.training.options import RunOptions  # noqa: E402
from engine.training.train import (  # noqa: E402
    Setup,
    augmented_batches,
    autocast,
    prepare,
    train_one_epoch,
)


def model_steps(setup: Setup) -> float:
    """Seconds for one epoch's model steps on batches cut before the clock starts."""
    images = augment.to_float(setup.train_images).contiguous(memory_format=setup.layout)
    order = torch.randperm(len(images), generator=setup.generator, device=setup.device)
    cuts = [order[start:start + setup.batch_size] for start in range(0, len(images), setup.batch_size)]
    batches = [(images[cut], setup.train_labels[cut]) for cut in cuts]
    setup.model.train()
    started = time.perf_counter()
    for batch, labels in batches:
        with autocast(setup.device, setup.precision):
            loss = setup.criterion(setup.model(batch), labels)
        setup.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        setup.optimizer.step()
    loss.item()  # waits for the device, as the epoch's last report does
    return time.perf_counter() - started


def batches_alone(setup: Setup) -> float:
    started = time.perf_counter()
    for _ in augmented_batches(setup):
        pass
    return time.perf_counter() - started


def epoch(setup: Setup) -> float:
    started = time.perf_counter()
    for _ in train_one_epoch(setup, "bench", 1, started):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a medmnist-format .npz (or 'synthetic' to check the script)")
    parser.add_argument("--ids", type=int, nargs="+", default=[8, 13, 21])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=("fp32", "bf16"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (default 3)")
    parser.add_argument("--limit", type=int, help="train on the first N training images only (to check the script)")
    args = parser.parse_args()
    dataset = data.load(args.data)
    if args.limit:
        dataset = replace(dataset, images={**dataset.images, "train": dataset.images["train"][:args.limit]},
                          labels={**dataset.labels, "train": dataset.labels["train"][:args.limit]})
    experiments = load()
    print(f"{len(dataset.labels['train'])} training images, {torch.get_num_threads()} threads, "
          f"load average before: {os.getloadavg()}")
    print("| # | precision | model steps img/s | epoch img/s | overhead | batches alone |\n|---|---|---|---|---|---|")
    for experiment_id in args.ids:
        for precision in args.precision:
            options = RunOptions(seed=0, device=args.device, precision=precision, pretrained=False)
            spec, size = experiments[experiment_id].spec, len(dataset.labels["train"])
            # In turn, so a slow spell of a shared machine falls on every side alike.
            timed = [tuple(side(prepare(spec, dataset, options, 1)) for side in (model_steps, epoch, batches_alone))
                     for _ in range(args.repeat)]
            steps, whole, alone = (min(side) for side in zip(*timed))
            print(f"| {experiment_id} | {precision} | {size / steps:,.0f} | {size / whole:,.0f} | "
                  f"{(whole - steps) / steps:+.0%} | {alone / steps:.0%} |", flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
