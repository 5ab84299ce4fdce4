"""The course page's charts as data: which points, which means and spreads, in which order, computed from the
per-experiment rows of `engine.store.summary` (one row per group of comparable runs). The app draws them with plotext
and the report with matplotlib; neither computes anything itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from engine.experiments.spec import Experiment
from engine.store import summary
from tui.text.measures import of_set, set_titles

AUC_TARGET = 0.90  # the page's target line: "six experiments beat the 0.90 target"
CHANCE_AUC = 0.5  # AUC bars start at chance, so the differences that matter are not dwarfed by the common 0.5
# The page shades a "danger zone" without giving its edges. Ours: an AUC that reads as decent (the baseline's
# 0.82 and up) while missing at least half of the melanomas; with the page's own figures it holds 14 of 25.
DANGER_AUC = 0.80
DANGER_MEL_RECALL = 0.5
RUN_ALL = "'dermalab run 1-25' (or e, a, r in the app)"

Row = dict[str, Any]


@dataclass(frozen=True)
class Point:
    label: str  # the experiment id (with what tells its groups apart), written beside the point or under the bar
    x: float  # a bar's slot (1, 2, …), or the point's value
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
class Zone:
    """A rectangle of the plane with a name, drawn beneath the points."""

    name: str
    x: tuple[float, float]
    y: tuple[float, float]


@dataclass(frozen=True)
class Chart:
    key: str  # names the chart in tests and its PNG beside the report
    title: str
    kind: Literal["scatter", "line", "bars", "grouped_bars"]  # grouped: the series side by side in each slot
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    reading: str  # one sentence: what to read in it
    empty: str  # what to run to fill it, said while it has no points
    target: float | None = None  # a horizontal line at this y
    zone: Zone | None = None
    log_x: bool = False
    y_from: float = 0.0  # where bars start; lower when a value lies below it

    @property
    def ours(self) -> tuple[Series, ...]:
        return tuple(s for s in self.series if not s.page)

    @property
    def has_points(self) -> bool:
        return any(s.points for s in self.ours)

    @property
    def slots(self) -> list[tuple[float, str]]:
        """The labelled x positions of bars and of the arc's experiments, left to right."""
        return sorted({(p.x, p.label) for s in self.ours for p in s.points})


def one_data_kind(groups: list[Row]) -> tuple[list[Row], bool]:
    """Store.groups() of one kind of data, and whether it is synthetic: real data when there is some, else the
    synthetic (the two never mix in one chart or table)."""
    synthetic = all(g["synthetic"] for g in groups)
    return [g for g in groups if g["synthetic"] == synthetic], synthetic


def build(groups: list[Row], experiments: dict[int, Experiment], quick_looks: bool = False,
          sweep_points: Sequence[Row] = (), dataset: str | None = None) -> list[Chart]:
    """Every chart, in the order the app steps through them and the report shows them. They draw the page's
    figures: only groups run as the page ran them (runs from scratch and edited configs are left out, and quick
    looks unless `quick_looks`, each then marked with its epochs: '8 5ep'; synthetic data is said in the
    caption). The clinical chart adds the sweeps' points on the same kind of data (`sweep_points`, rows labelled
    '20 lr=0.003'): its reading holds for any model. The clinical measures are named after `dataset`'s critical
    classes (engine.classes.CRITICAL); the page's where none is chosen; a set that declares none has no clinical
    charts."""
    kind, synthetic = one_data_kind(groups)
    rows = [r for r in summary.experiment_rows(kind, experiments) if r["auc"] is not None]
    rows = labelled([r for r in rows if as_page(r) or (quick_looks and quick_look(r))])
    for row in rows:
        if quick_look(row):
            row["label"] += f" {row['epochs']}ep"
    drawn = {row["config_hash"] for row in rows}  # a point whose values are its base's own is the base's row
    swept = [row for row in sweep_points if row["synthetic"] == synthetic and row["config_hash"] not in drawn]
    titles = set_titles(dataset)
    if "mel_recall" not in of_set(dataset):  # a set without critical classes: nothing clinical to draw
        clinical_ones = []
    elif titles is None:
        clinical_ones = [clinical(rows, experiments, swept), metrics(rows)]
    else:
        clinical_ones = [clinical(rows, experiments, swept, titles[0]), metrics(rows, titles)]
    return [*clinical_ones, ranked(rows), chapters(rows, experiments), arc(rows, experiments),
            against_time(rows, experiments), against_params(rows, experiments)]


def as_page(row: Row) -> bool:
    """Whether the group ran as the page ran its experiment (on whichever data)."""
    return set(row["differs"]) <= {summary.SYNTHETIC_DATA}


def quick_look(row: Row) -> bool:
    """Whether the group ran as the page did but for its epochs (`--epochs`)."""
    unlike = [word for word in row["differs"] if word != summary.SYNTHETIC_DATA]
    return len(unlike) == 1 and unlike[0].endswith(" epochs")


def quick_looks_left_out(groups: list[Row], experiments: dict[int, Experiment]) -> int:
    """How many groups of quick looks (of the data kind the charts draw) `build` leaves out by default."""
    rows = summary.experiment_rows(one_data_kind(groups)[0], experiments)
    return sum(1 for row in rows if row["auc"] is not None and quick_look(row))


def labelled(rows: list[Row]) -> list[Row]:
    """Each row with its label: the experiment id, and where an experiment has several groups (run on other data
    files, or in another precision), what tells each apart: '8 mine.npz', '8 bf16'."""
    by_experiment: dict[int, list[Row]] = {}
    for row in rows:
        by_experiment.setdefault(row["experiment_id"], []).append(row)
    for members in by_experiment.values():
        telling: list[Callable[[Row], str]] = []
        for part in (_data_name, _data_fingerprint, _precision):
            if _splits(part, members, telling):
                telling.append(part)
        for row in members:
            row["label"] = " ".join([str(row["experiment_id"]), *(part(row) for part in telling)])
    return rows


def _splits(part: Callable[[Row], str], members: list[Row], telling: list[Callable[[Row], str]]) -> bool:
    """Whether `part` tells apart some groups that the parts chosen so far leave alike."""
    seen: dict[tuple[str, ...], str] = {}
    for row in members:
        alike = tuple(chosen(row) for chosen in telling)
        if seen.setdefault(alike, part(row)) != part(row):
            return True
    return False


def _data_name(row: Row) -> str:
    return "synthetic" if row["synthetic"] else PurePath(row["data"]).name.removesuffix(" (medmnist)")


def _data_fingerprint(row: Row) -> str:
    """For a file of one name whose bytes changed between runs: its MD5's first digits."""
    return f"md5 {row['data_fingerprint'][:6]}" if row["data_fingerprint"] else "md5 unknown"


def _precision(row: Row) -> str:
    return row["precision"]


def clinical(rows: list[Row], experiments: dict[int, Experiment], swept: Sequence[Row] = (),
             focus: str = "melanoma recall") -> Chart:
    ours, page = _beside_page(rows, experiments, "auc", "mel_recall")
    points = (Series("sweep points", _ours(list(swept), "auc", "mel_recall").points),) if swept else ()
    return Chart(
        "clinical", f"AUC against {focus}", "scatter", "macro AUC", focus, (ours, *points, page),
        f"Read the points inside the danger zone (AUC ≥ {DANGER_AUC:.2f}, melanoma recall < {DANGER_MEL_RECALL:.2f}): "
        "models that look fine by AUC yet miss half the melanomas or more.",
        f"No finished runs yet: {RUN_ALL} fills it; 'dermalab run 8 20 21 --seeds 3' shows the punchline.",
        zone=Zone("danger zone", (DANGER_AUC, 1.0), (0.0, DANGER_MEL_RECALL)))


def metrics(rows: list[Row], names: tuple[str, str] = ("mel recall", "cancer sensitivity")) -> Chart:
    in_order = sorted(rows, key=lambda r: r["experiment_id"])
    series = tuple(Series(name, _bars(in_order, key)) for key, name in (
        ("auc", "AUC"), ("mel_recall", names[0]), ("cancer_sensitivity", names[1])))
    return Chart(
        "metrics", "AUC beside the cancer metrics", "grouped_bars", "experiment", "share",
        series, "Read the gap between each experiment's AUC bar and its two cancer bars: a high AUC can sit beside "
        "low melanoma recall and cancer sensitivity.",
        f"No finished runs yet: {RUN_ALL} fills it.")


def ranked(rows: list[Row]) -> Chart:
    order = sorted(rows, key=lambda r: (-r["auc"], r["experiment_id"]))
    return Chart(
        "auc_ranked", "Experiments ranked by AUC", "bars", "experiment, best AUC first", "macro AUC",
        (Series("AUC", _bars(order)),),
        f"Read which experiments clear the {AUC_TARGET:.2f} line, and how far the one-line changes move AUC from "
        "the baseline's level.",
        f"No finished runs yet: {RUN_ALL} fills it.", target=AUC_TARGET, y_from=CHANCE_AUC)


def chapters(rows: list[Row], experiments: dict[int, Experiment]) -> Chart:
    """AUC bars in experiment order, one series per chapter (numbered as on the page), a free slot between."""
    series, slot = [], 0
    for number, chapter, members in _by_chapter(rows, experiments):
        series.append(Series(f"{number} {chapter}", _bars(members, first=slot + 1)))
        slot += len(members) + 1
    return Chart(
        "chapters", "AUC by chapter", "bars", "experiment, grouped by the page's chapters", "macro AUC",
        tuple(series), "Read each chapter as a group: within it, which single change moved AUC most.",
        f"No finished runs yet: {RUN_ALL} fills it.", y_from=CHANCE_AUC)


def arc(rows: list[Row], experiments: dict[int, Experiment]) -> Chart:
    return Chart(
        "arc", "The progression from experiment 1 to 25", "line", "experiment", "macro AUC",
        _beside_page(rows, experiments, "experiment_id", "auc"),
        "Read the arc from baseline to kitchen sink: the dip at 14, where Normalize reached training only, and "
        "the recovery as the wins stack up.",
        f"No finished runs yet: {RUN_ALL} fills it, in order.")


def against_time(rows: list[Row], experiments: dict[int, Experiment]) -> Chart:
    return Chart(
        "auc_time", "AUC against training time", "scatter", "training time (s, log scale)", "macro AUC",
        _beside_page(rows, experiments, "train_seconds", "auc"),
        "Read the upper left, a high AUC in little time, and how little the slow runs add; the page timed an "
        "Apple M1 Max, we time this machine.",
        f"No finished runs yet: {RUN_ALL} fills it.", log_x=True)


def against_params(rows: list[Row], experiments: dict[int, Experiment]) -> Chart:
    return Chart(
        "auc_params", "AUC against parameters", "scatter", "parameters (log scale)", "macro AUC",
        _beside_page(rows, experiments, "params", "auc"),
        "Read along a row: a CNN of about 95 thousand parameters matches an 11-million-parameter ResNet18; the "
        "baseline's 7 thousand fall short.",
        f"No finished runs yet: {RUN_ALL} fills it; 'dermalab run 1 8 23' spans the three sizes.", log_x=True)


def _beside_page(rows: list[Row], experiments: dict[int, Experiment], x: str, y: str) -> tuple[Series, Series]:
    return _ours(rows, x, y), _page(rows, experiments, x, y)


def _ours(rows: list[Row], x: str, y: str) -> Series:
    """A point per row with both values: the means, and the spreads where the row has them."""
    points = tuple(Point(r["label"], r[x], r[y], r.get(f"{x}_std"), r.get(f"{y}_std"), r["n"])
                   for r in rows if r.get(x) is not None and r.get(y) is not None)
    return Series("ours", points)


def _page(rows: list[Row], experiments: dict[int, Experiment], x: str, y: str) -> Series:
    """The page's single run of each experiment we ran, under our rows' keys, to show beside ours."""
    points = []
    for experiment_id in sorted({r["experiment_id"] for r in rows}):
        published = experiments[experiment_id].spec.published if experiment_id in experiments else None
        if published:
            figures = {**published.model_dump(), "experiment_id": experiment_id, "train_seconds": published.time_s}
            points.append(Point(str(experiment_id), figures[x], figures[y]))
    return Series("the page", tuple(points), page=True)


def _bars(rows: list[Row], key: str = "auc", first: int = 1) -> tuple[Point, ...]:
    """A bar per row in slots from `first` on; a row without the figure keeps its slot empty."""
    return tuple(Point(r["label"], slot, r[key], y_spread=r[f"{key}_std"], n=r["n"])
                 for slot, r in enumerate(rows, start=first) if r[key] is not None)


def _by_chapter(rows: list[Row], experiments: dict[int, Experiment]) -> list[tuple[int, str, list[Row]]]:
    """(page number, chapter, its rows in experiment order) for the chapters with rows; the page numbers its
    chapters in the order of their first experiment."""
    chapters: dict[str, list[Row]] = {e.spec.chapter: [] for e in sorted(experiments.values(), key=lambda e: e.spec.id)}
    for row in sorted(rows, key=lambda r: r["experiment_id"]):
        chapters.setdefault(row["chapter"], []).append(row)
    return [(number, name, members) for number, (name, members) in enumerate(chapters.items(), start=1) if members]
