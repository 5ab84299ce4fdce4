"""The course page's charts as data: which points, which means and spreads, in which order, computed from the
per-experiment rows of `engine.summary`. The app draws them with plotext and the report with matplotlib; neither
computes anything itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from engine import summary
from engine.experiments import Experiment

AUC_TARGET = 0.90  # the page's target line: "six experiments beat the 0.90 target"
CHANCE_AUC = 0.5  # AUC bars start at chance, so the differences that matter are not dwarfed by the common 0.5


@dataclass(frozen=True)
class Point:
    label: str  # the experiment id, written beside the point or under the bar
    x: float  # a bar's position, or the point's value
    y: float
    x_spread: float | None = None  # the standard deviation between seeds; None for a lone run
    y_spread: float | None = None
    n: int = 1  # how many runs the mean is over


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[Point, ...]
    page: bool = False  # the page's published figures, not our runs


@dataclass(frozen=True)
class Chart:
    key: str  # names the chart in tests and its PNG beside the report
    title: str
    kind: Literal["bars"]
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    reading: str  # one sentence: what to read in it
    empty: str  # what to run to fill it, said while it has no points
    target: float | None = None  # a horizontal line at this y
    y_from: float = 0.0  # where bars start; lower when a value lies below it

    @property
    def has_points(self) -> bool:
        return any(s.points for s in self.series if not s.page)


def one_data_kind(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Finished runs of one kind of data, and whether it is synthetic: real runs when there are any, else the
    synthetic ones (the two never mix in one chart or table)."""
    finished = [r for r in runs if r["status"] == "finished"]
    synthetic = all(r["synthetic"] for r in finished)
    return [r for r in finished if bool(r["synthetic"]) == synthetic], synthetic


def build(runs: list[dict[str, Any]], experiments: dict[int, Experiment]) -> list[Chart]:
    """Every chart, in the order the app steps through them and the report shows them."""
    rows = summary.experiment_rows(one_data_kind(runs)[0], experiments)
    return [ranked(rows)]


def ranked(rows: list[dict[str, Any]]) -> Chart:
    order = sorted((r for r in rows if r["auc"] is not None), key=lambda r: (-r["auc"], r["experiment_id"]))
    points = tuple(Point(str(r["experiment_id"]), position, r["auc"], y_spread=r["auc_std"], n=r["n"])
                   for position, r in enumerate(order, start=1))
    return Chart(
        "auc_ranked", "Experiments ranked by AUC", "bars", "experiment, best AUC first", "macro AUC",
        (Series("AUC", points),),
        f"Read which experiments clear the {AUC_TARGET:.2f} line, and how far the one-line changes move AUC from "
        "the baseline's level.",
        "No finished runs yet: 'dermalab run 1-25' (or e, a, r in the app) fills this chart.",
        target=AUC_TARGET, y_from=CHANCE_AUC)
