"""Every running job, a compact row each (experiment, seed, slot, its epoch and a bar of the run done, img/s), shown
while more than one trains at once; the row under the cursor is the job whose bars and curves the run view shows."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.app import progress

BAR_CELLS = 6
NAME_CELLS = 16  # an experiment's name is cut to this, so a row fits 80 columns


class RunningJobs(OptionList):
    def show(self, running: list[dict[str, Any]], followed: str | None) -> None:
        """One row per running job; rows are rewritten in place while the same jobs run, so the cursor stays put."""
        self.display = len(running) > 1
        ids = [job["job_id"] for job in running]
        if ids != [option.id for option in self.options]:
            self.set_options([Option(row(job), id=job["job_id"]) for job in running])
        else:
            for job in running:
                self.replace_option_prompt(job["job_id"], row(job))
        if followed in ids and self.highlighted != ids.index(followed):
            self.highlighted = ids.index(followed)


def row(job: dict[str, Any]) -> Text:
    name = job["name"] if len(job["name"]) <= NAME_CELLS else job["name"][:NAME_CELLS - 1] + "…"
    words = [f"#{job['experiment_id']} {name}", f"s{job['seed']}", job["slot"] or ""]
    if job["epochs"]:
        words += [f"{progress.epoch_words(job)} {bar(progress.fraction(job) or 0.0)} {progress.percent(job)}",
                  f"{job['images_per_second'] or 0:,.0f} img/s"]
    else:
        words.append("starting")
    return Text(" · ".join(words))  # names from files are text, never markup


def bar(done: float) -> str:
    filled = round(BAR_CELLS * done)
    return "█" * filled + "░" * (BAR_CELLS - filled)
