"""A run's checkpoint: everything its next epoch depends on, saved at each epoch's end, so that a run stopped between
two epochs (its process killed, the machine rebooted, a cluster's time limit) goes on from the last finished epoch
instead of starting over, and ends as the run it would have been. One file per run, replaced whole at each save
(written beside it, then renamed), so a kill mid-save leaves the last one whole; deleted once the run has ended.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.events import EpochEnded

SUFFIX = ".checkpoint.pt"


def folder(beside: Path) -> Path:
    """Where runs keep their checkpoints: a folder beside their store's file (on this machine), or beside the
    cluster's results folder (on the shared file system, so a requeued task finds it from any node)."""
    return beside.parent / "checkpoints"


def path_for(beside: Path, run_id: str) -> Path:
    return folder(beside) / f"{run_id}{SUFFIX}"


def saved(beside: Path) -> dict[str, Path]:
    """The checkpoints kept in `folder(beside)`, by their runs' ids."""
    if not folder(beside).is_dir():
        return {}
    return {path.name.removesuffix(SUFFIX): path for path in folder(beside).glob(f"*{SUFFIX}")}


def remove(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@dataclass
class Progress:
    """The run's own counts so far, kept with its tensors' states: a resumed run's figures (train seconds, img/s,
    early stopping's best) count every epoch it trained, in whichever process."""

    epoch: int = 0
    history: list[EpochEnded] = field(default_factory=list)
    train_seconds: float = 0.0
    wall_seconds: float = 0.0
    best_auc: float = float("-inf")
    best_epoch: int = 0
    resumed_after: list[int] = field(default_factory=list)  # the epoch after which each resume went on


def save(path: Path, progress: Progress, states: dict[str, Any]) -> None:
    """`states`: the state dicts of the model, optimizer and scheduler, and the random generators'."""
    import torch  # here: `prune` and the app find checkpoints without torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial")
    torch.save({"progress": {**asdict(progress), "history": [asdict(epoch) for epoch in progress.history]},
                **states}, partial)
    os.replace(partial, path)


def load(path: Path) -> tuple[Progress, dict[str, Any]]:
    """The progress and the states saved; `weights_only` keeps a checkpoint file from running code when read."""
    import torch

    saved = torch.load(path, map_location="cpu", weights_only=True)
    progress = saved.pop("progress")
    progress["history"] = [EpochEnded(**epoch) for epoch in progress["history"]]
    return Progress(**progress), saved
