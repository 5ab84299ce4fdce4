"""Live curves and ETA on short runs: the training loss batch by batch between epoch ends, an ETA from the run's
pace from its first batch on that stands still once a cancel is asked for, and a legend on every line."""

from __future__ import annotations

import time

from engine.jobs.queue import eta_seconds
from tui.app.lab import Lab, StoreSnapshot
from tui.app.progress import Etas
from tui.app.widgets.run.curves import Curves
from tui.app.widgets.run.run_progress import RunProgress
from tui.text import numbers

EPOCHS = [{"epoch": 1, "train_loss": 1.2, "val_loss": 1.4, "val_auc": 0.7}]


def job(batch: int, loss: float, **changes) -> dict:
    row = {"job_id": "j1", "experiment_id": 8, "name": "BatchNorm", "seed": 0, "status": "running", "epoch": 1,
           "epochs": 5, "batch": batch, "batches": 100, "loss": loss, "cancel_requested": 0, "started_at": 1000.0,
           "beat_at": 1010.0, "phase": None, "reason": None, "device": "cpu", "data": "synthetic"}
    return {**row, **changes}


def test_each_heartbeat_of_a_running_job_adds_a_point_within_its_epoch(tmp_path):
    from engine.store.runs import Store

    lab = Lab({}, Store(tmp_path / "runs.sqlite"), None)
    seen = [lab.apply(StoreSnapshot(time.monotonic(), [job(batch, loss)], None, None))
            for batch, loss in ((10, 2.0), (50, 1.5), (50, 1.5))]
    assert lab.beats == {"j1": [(0.1, 2.0), (0.5, 1.5)]}
    assert "beats" in seen[0] and "beats" in seen[1] and "beats" not in seen[2]


def test_the_eta_shows_from_the_first_batches_and_stands_still_on_cancel():
    bars, now, etas = RunProgress(), time.time(), Etas()

    def eta(row: dict) -> str:
        etas.note([row])  # as the lab notes each snapshot's jobs
        return bars._eta(row, etas)

    first = eta(job(10, 2.0, started_at=now - 10, beat_at=now))  # a tenth of the first epoch, in 10 s
    assert first != numbers.MISSING
    assert abs(eta_seconds(job(10, 2.0, beat_at=1010.0), 1010.0) - 490.0) < 1e-6  # 2% done in 10 s: 490 s to go
    later = job(60, 1.0, started_at=now - 10, beat_at=now + 100, cancel_requested=1)
    assert eta(later) == first  # asked to cancel: the ETA shown is kept, not recomputed
    assert eta(job(60, 1.0, status="cancelled", started_at=now - 10, beat_at=now + 200)) == first


def test_every_line_says_what_it_is():
    loss = Curves("loss", [("train_loss", "train"), ("val_loss", "val")], id="loss", beats_label="train, by batch")
    auc = Curves("auc", [("val_auc", "val AUC")], id="auc")
    overlays = [("#2 s0", EPOCHS)]
    assert [label for _, _, label, _ in loss.lines(EPOCHS, overlays, [(0.5, 1.6), (1.0, 1.2)])] == [
        "#2 s0 val", "train, by batch", "train", "val"]
    assert [label for _, _, label, _ in auc.lines(EPOCHS, overlays, None)] == ["#2 s0 val AUC", "val AUC"]
