"""The live run's bars: download, epochs and batches with ETA and images/s, and the last epoch's numbers."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from engine.experiments import Experiment
from tui import numbers
from tui.lab import STATUS_WORDS, LiveRun

IDLE = "No run yet: select experiments on the experiments screen (e), then press r."
STARTING = "starting: loading torch and the data (a first run may be downloading the data or ResNet18 weights)"


class RunProgress(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(IDLE, id="run-title", markup=False)
        for name in ("download", "epoch", "batch"):
            with Horizontal(id=f"{name}-row", classes="bar-row"):
                yield Label(name, classes="bar-label")
                yield ProgressBar(id=f"{name}-bar", show_eta=True)
                yield Label("", id=f"{name}-info", classes="bar-info", markup=False)
        yield Static("", id="last-epoch", markup=False)

    def show(self, live: LiveRun | None, experiments: dict[int, Experiment]) -> None:
        self._text("#run-title", title(live, experiments) if live else IDLE, layout=True)  # it may wrap
        self._bars(live)
        self._text("#last-epoch", last_epoch_line(live))

    def _bars(self, live: LiveRun | None) -> None:
        download = live.download if live else None
        self.query_one("#download-row").display = download is not None
        if download:
            self._bar("download", download.total or None, download.done, f"{download.done / 1e6:.1f} MB")
        started = live.started if live else None
        for name in ("epoch", "batch"):
            self.query_one(f"#{name}-row").display = started is not None
        if started is None:
            return
        self._bar("epoch", started.epochs, len(live.epochs), f"{len(live.epochs)}/{started.epochs}")
        batch = live.batch
        if batch and batch.epoch > len(live.epochs):
            self._bar("batch", batch.batches, batch.batch,
                      f"{batch.batch}/{batch.batches} · {batch.images_per_second:,.0f} img/s · loss {batch.loss:.3f}")
        else:  # between epochs (evaluating), or after the last one
            done = started.batches if len(live.epochs) == started.epochs else 0
            self._bar("batch", started.batches, done, f"{done}/{started.batches}")

    def _bar(self, name: str, total: float | None, done: float, info: str) -> None:
        self.query_one(f"#{name}-bar", ProgressBar).update(total=total, progress=done)
        self._text(f"#{name}-info", info)

    def _text(self, selector: str, text: str, layout: bool = False) -> None:
        """Batch progress comes ten times a second: a text that did not change, or that cannot change the
        layout (one line of fixed width), must not make the screen lay itself out again."""
        static = self.query_one(selector, Static)
        if static.content != text:
            static.update(text, layout=layout)


def last_epoch_line(live: LiveRun | None) -> str:
    """The last epoch's numbers; before the first one, what the child is busy with."""
    if live is None:
        return ""
    if live.job.status == "running" and live.started is None and live.download is None:
        return STARTING
    last = live.epochs[-1] if live.epochs else None
    if last is None:
        return ""
    return (f"epoch {last.epoch}: train loss {last.train_loss:.3f} · val loss {last.val_loss:.3f} · val AUC "
            f"{numbers.auc(last.val_auc)} · val acc {numbers.percent(last.val_accuracy)} · lr {last.lr:.2g} · "
            f"{numbers.seconds(last.seconds)}")


def title(live: LiveRun, experiments: dict[int, Experiment]) -> str:
    job = live.job
    words = [f"#{job.experiment_id} {experiments[job.experiment_id].spec.name}", f"seed {job.seed}"]
    if live.started:
        words += [live.started.device, live.started.data]
    status = STATUS_WORDS.get(job.status, job.status)
    reason = f": {job.reason}" if job.reason else ""
    return " · ".join(words) + f" — {status}{reason}"
