"""Where runs come from and what they take (JobSource): the data, the experiments file and the run's options, as
every job planned from them carries them to the process that trains it."""

from __future__ import annotations

from dataclasses import dataclass

from engine.training.options import RunOptions


@dataclass(frozen=True)
class JobSource:
    data: str  # auto, synthetic, or an absolute path: the worker runs from a folder of its own
    experiments_file: str | None  # absolute; None for the repository's experiments.toml
    options: RunOptions
