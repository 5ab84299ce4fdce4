"""The typed events a run reports, from start to finish; the store, the job's heartbeat and the CLI consume them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.classes import DEFAULT


@dataclass(frozen=True)
class DataProgress:
    """Bytes of the dataset (or weights) downloaded so far."""
    what: str
    done: int
    total: int


@dataclass(frozen=True)
class RunStarted:
    """A run began: what it is and how long it will take."""
    run_id: str
    experiment_id: int
    name: str
    seed: int
    device: str
    data: str
    epochs: int
    batches: int
    resumed_after: int = 0  # the epochs a resumed run had finished before (engine.training.checkpoint)
    dataset: str = DEFAULT  # the MedMNIST set it trains on, whose critical classes its figures are titled after


@dataclass(frozen=True)
class BatchProgress:
    """Training progress inside an epoch (sent at most a few times a second)."""
    run_id: str
    epoch: int
    batch: int
    batches: int
    loss: float
    images_per_second: float


@dataclass(frozen=True)
class EpochEnded:
    """One epoch done, with the numbers the curves plot."""
    run_id: str
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    val_auc: float
    val_accuracy: float
    lr: float
    seconds: float


@dataclass(frozen=True)
class RunFinished:
    """The run ended normally; metrics are on the val split after the last epoch. Notes say briefly how the run
    actually ran where that differs from what was asked (a fallback, a substitution, an early stop). Test figures
    (`sealed`) are stored apart and shown only when asked for by name (dermalab test --unseal)."""
    run_id: str
    metrics: dict[str, Any]
    probabilities: list[list[float]] = field(repr=False)
    notes: tuple[str, ...] = ()
    stopped_epoch: int | None = None  # the last epoch trained, when early stopping ended the run before its epochs
    sealed: dict[str, Any] | None = field(default=None, repr=False)  # test split: metrics, labels, probabilities


@dataclass(frozen=True)
class RunFailed:
    """The run ended early: status is failed, cancelled or diverged; epoch is where it stopped."""
    run_id: str
    status: str
    reason: str
    epoch: int


Event = DataProgress | RunStarted | BatchProgress | EpochEnded | RunFinished | RunFailed
