"""The side pane of the experiments list: what the highlighted experiment changes vs its parent, its lesson,
the page's figures and its full resolved config with the experiment each value came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.experiments.spec import Experiment
from engine.experiments.sweeps import Sweep
from tui.text import numbers
from tui.text.measures import MEASURES


class ExperimentDetail(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="experiment-detail")

    def compose(self) -> ComposeResult:
        yield Static(id="detail-text")

    def show_experiment(self, experiment: Experiment, experiments: dict[int, Experiment],
                        swept: Sequence[Sweep] = ()) -> None:
        """`swept`: the experiments file's sweeps, of which those extending this experiment are listed."""
        spec = experiment.spec
        parent = experiments.get(spec.extends) if spec.extends else None
        text = Text.assemble((f"#{spec.id} {spec.name}", "bold"), f"  · {spec.chapter}\n")
        text.append("\n")
        text.append_text(changes(experiment, parent))
        if spec.lesson:
            text.append("\nLesson\n", style="bold")
            text.append(spec.lesson + "\n")
        if own := [sweep for sweep in swept if sweep.base.id == spec.id]:
            text.append("\nSweeps of it (ctrl+p Sweeps: their points, charts, and r to run one)\n", style="bold")
            for sweep in own:
                question = f": {' '.join(sweep.question.split())}" if sweep.question else ""
                text.append(f"  {sweep.name}, {numbers.plural(sweep.size(), 'point')} × "
                            f"{numbers.plural(sweep.seeds, 'seed')}{question}\n")
        text.append("\nPublished (the page: one run, Apple M1 Max)\n", style="bold")
        text.append(published(experiment) + "\n")
        text.append("\nResolved config (value · set by)\n", style="bold")
        text.append_text(resolved(experiment))
        self._show(text)

    def show_chapter(self, chapter: str, members: list[Experiment]) -> None:
        text = Text(f"{chapter}\n\n", style="bold")
        for experiment in members:
            figures = experiment.spec.published
            page_auc = numbers.auc(figures.auc if figures else None)
            text.append(f"#{experiment.id:<3}{experiment.spec.name:<20} page AUC {page_auc}\n")
        text.append("\nspace or c selects the whole chapter.")
        self._show(text)

    def _show(self, text: Text) -> None:
        self.query_one("#detail-text", Static).update(text)
        self.scroll_home(animate=False)


def changes(experiment: Experiment, parent: Experiment | None) -> Text:
    if parent is None:
        return Text("The starting point: it extends no other experiment.\n")
    text = Text(f"Changes vs #{parent.id} {parent.spec.name}\n", style="bold")
    before = parent.spec.config()
    for key, value in configured(experiment.changes, before).items():
        text.append(f"  {key} = {shown(value)}", style="bold")
        text.append(f"  (was {shown(lookup(before, key))})\n")
    return text


def published(experiment: Experiment) -> str:
    figures = experiment.spec.published
    if figures is None:
        return "  none for this experiment"
    return (f"  AUC {numbers.auc(figures.auc)} · mel recall {numbers.percent(figures.mel_recall)} · "
            f"{MEASURES['cancer_sensitivity'].name} {numbers.percent(figures.cancer_sensitivity)}\n"
            f"  accuracy {numbers.percent(figures.accuracy)} · "
            f"balanced acc {numbers.percent(figures.balanced_accuracy)}\n"
            f"  params {numbers.count(figures.params)} · trained in {numbers.seconds(figures.time_s)}")


def resolved(experiment: Experiment) -> Text:
    config = experiment.spec.config()
    origin = configured(experiment.origin, config)
    width = max(map(len, origin))
    text = Text()
    for key, source in origin.items():
        own = source == experiment.id
        text.append(f"  {key:<{width}} {shown(lookup(config, key))}", style="bold" if own else "")
        text.append(f" · #{source}\n", style="dim")
    return text


def configured(flat: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Only the keys that decide training (the chapter is inherited too, but it is a heading, not config)."""
    return {key: value for key, value in flat.items() if key.split(".")[0] in config}


def lookup(config: dict[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def shown(value: Any) -> str:
    """TOML-like: true/false, lists in brackets, augmentations as op(arg=value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "unset"
    if isinstance(value, list):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if isinstance(value, dict) and "op" in value:
        arguments = ", ".join(f"{k}={shown(v)}" for k, v in value.items() if k != "op")
        return f"{value['op']}({arguments})"
    return str(value)
