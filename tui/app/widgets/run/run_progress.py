"""The followed job's bars, from the store: epochs (moving with each batch) with the run's ETA, batches with img/s
and loss, and the last epoch's numbers; before its run starts, what it waits for. The epochs are counted as every
screen counts them (tui.app.progress); the ETA is the lab's smoothed one, shown from the first batch on, and it
stands still once a cancel is asked for."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from engine.experiments.spec import Experiment
from engine.status import Status
from tui.app import progress
from tui.app.lab import STATUS_WORDS, LiveRun
from tui.app.progress import Etas
from tui.app.widgets.frame.fitted_line import FittedLine
from tui.text import numbers
from tui.text.fit import Part, same

IDLE = "No run yet: select experiments on the experiments screen (e), then press r."
WAITING = "waiting for the worker (it starts with the first job, and imports torch once)"
STARTING = "starting: the worker prepares the data (a first run may be downloading the data or ResNet18 weights)"


class RunProgress(Vertical):
    def __init__(self) -> None:
        super().__init__()
        self.etas: dict[str, str] = {}  # job id -> the ETA last shown, kept once its run is cancelling or over

    def compose(self) -> ComposeResult:
        yield Static(IDLE, id="run-title", markup=False)
        for name in ("epoch", "batch"):
            with Horizontal(id=f"{name}-row", classes="bar-row"):
                yield Label(name, classes="bar-label")
                yield ProgressBar(id=f"{name}-bar", show_eta=False)
                yield FittedLine(id=f"{name}-info", classes="bar-info")
        yield FittedLine(id="last-epoch")

    def show(self, live: LiveRun | None, experiments: dict[int, Experiment], etas: Etas) -> None:
        self._text("#run-title", title(live.job, experiments) if live else IDLE, layout=True)  # it may wrap
        self._bars(live, etas)
        self.query_one("#last-epoch", FittedLine).show(epoch_parts(live))

    def _bars(self, live: LiveRun | None, etas: Etas) -> None:
        started = live is not None and live.job["epochs"] is not None
        for name in ("epoch", "batch"):
            self.query_one(f"#{name}-row").display = started
        if live is None or not started:
            return
        job, done = live.job, len(live.history)
        going = job["status"] == Status.RUNNING and job["epoch"] > done and job["batch"]
        eta = self._eta(job, etas)
        left = [] if job["status"] == Status.FINISHED else [(f"ETA {eta}", eta)]  # a run done has no time left
        self._bar("epoch", job["epochs"], (progress.fraction(job) or 0.0) * job["epochs"],
                  [same(progress.epoch_words(job)), *left])
        if going:  # img/s goes before the loss does
            self._bar("batch", job["batches"], job["batch"], [
                same(f"{job['batch']}/{job['batches']}"), same(f"loss {job['loss']:.3f}"),
                (f"{job['images_per_second'] or 0:,.0f} img/s", f"{job['images_per_second'] or 0:.0f}/s")])
        else:  # between epochs (evaluating), or after the last one
            full = job["batches"] if done == job["epochs"] else 0
            self._bar("batch", job["batches"], full, [same(f"{full}/{job['batches']}")])

    def _eta(self, job: dict[str, Any], etas: Etas) -> str:
        if job["status"] == Status.RUNNING and not job["cancel_requested"]:
            self.etas[job["job_id"]] = numbers.duration(etas.left(job["job_id"]))
        return self.etas.get(job["job_id"], numbers.MISSING)

    def _bar(self, name: str, total: float | None, done: float, info: list[Part]) -> None:
        self.query_one(f"#{name}-bar", ProgressBar).update(total=total, progress=done)
        self.query_one(f"#{name}-info", FittedLine).show(info)

    def _text(self, selector: str, text: str, layout: bool = False) -> None:
        """Progress comes twice a second: a text that did not change, or that cannot change the layout (one line
        of fixed width), must not make the screen lay itself out again."""
        static = self.query_one(selector, Static)
        if static.content != text:
            static.update(text, layout=layout)


def epoch_parts(live: LiveRun | None) -> list[Part]:
    """The last epoch's numbers, each with shorter words for a narrow screen; before the first one, what the job
    waits for."""
    if live is None:
        return []
    job = live.job
    if job["status"] == Status.QUEUED:
        return [same(WAITING)]
    if job["status"] == Status.RUNNING and job["epochs"] is None:
        return [same(f"starting: {job['phase']}" if job["phase"] else STARTING)]
    last = live.history[-1] if live.history else None
    if last is None:
        return []
    epoch, loss = last["epoch"], f"{last['train_loss']:.3f}"
    return [(f"epoch {epoch}: train loss {loss}", f"{epoch}: loss {loss}"),
            (f"val loss {last['val_loss']:.3f}", f"val {last['val_loss']:.3f}"),
            (f"val AUC {numbers.auc(last['val_auc'])}", f"AUC {numbers.auc(last['val_auc'])}"),
            (f"val acc {numbers.percent(last['val_accuracy'])}", f"acc {numbers.percent(last['val_accuracy'])}"),
            same(f"lr {last['lr']:.2g}"), same(numbers.seconds(last["seconds"]))]


def title(job: dict[str, Any], experiments: dict[int, Experiment]) -> str:
    experiment = experiments.get(job["experiment_id"])
    words = [f"#{job['experiment_id']} {experiment.spec.name if experiment else job['name']}", f"seed {job['seed']}"]
    if job["device"]:
        words += [job["device"], job["data"]]
    cancelling = job["cancel_requested"] and job["status"] == Status.RUNNING
    status = "cancelling" if cancelling else STATUS_WORDS.get(job["status"], job["status"])
    reason = f": {job['reason']}" if job["reason"] else ""
    return " · ".join(words) + f" — {status}{reason}"
