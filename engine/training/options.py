"""What a run takes beside its experiment and data (RunOptions), free of torch: jobs are queued, stored and checked
by processes that never train (the app, `dermalab run --detach`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.classes import DEFAULT, DEFAULT_SIZE, name_in
from engine.errors import UserError
from engine.experiments.spec import Experiment

DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
PRECISIONS = ("bf16", "fp32")  # bf16: autocast to bfloat16 around the model step; fp32: no autocast


@dataclass(frozen=True)
class RunOptions:
    seed: int = 0
    device: str = "auto"
    epochs: int | None = None  # overrides the experiment's epochs (quick looks, tests)
    pretrained: bool = True  # False: --no-pretrained, ResNet18 from scratch
    precision: str = "auto"  # one of PRECISIONS, or auto: the device's default (engine.training.device.run_precision)
    debug: bool = False  # print the traceback of a failed run
    dataset: str = DEFAULT  # the MedMNIST set (engine.classes), and the size of its images
    size: int = DEFAULT_SIZE
    halving: bool = False  # a sweep's point stops at a rung unless among the best there (engine.jobs.halving)


def check_device_name(name: str) -> None:
    """The form of a --device value; whether this machine has that device, only the training process can tell."""
    if not DEVICE_NAME.fullmatch(name):
        raise UserError(f"--device {name}: unknown device; use auto, cpu, cuda, cuda:N or mps.")


def check_precision(name: str) -> str:
    """A --precision value (auto, the default, is not named to users: leaving the option out means it)."""
    if name not in ("auto", *PRECISIONS):
        raise UserError(f"--precision {name}: unknown precision; use {' or '.join(PRECISIONS)}.")
    return name


def run_config(experiment: Experiment, options: RunOptions, as_asked: bool = False) -> dict[str, Any]:
    """The config as a run with these options runs it (see ExperimentSpec.run_config); the precision must be
    resolved already (engine.training.device.run_precision), as each run stores the one it used, unless `as_asked`: a
    run that never trained keeps the precision asked for ('auto' included), as no device resolved it."""
    if options.precision not in PRECISIONS and not as_asked:
        raise ValueError(f"precision {options.precision} is not resolved")
    spec = experiment.spec
    config = spec.run_config(options.epochs or spec.training.epochs, spec.model.pretrained and options.pretrained,
                             options.precision)
    return name_in(config, options.dataset, options.size)
