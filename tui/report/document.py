"""`dermalab report`: the store as a Markdown report plus one CSV per table and, with matplotlib, the page's charts
as PNG files. A view: every number comes from the engine (summary, bootstrap, screening) or `tui.views.charts`; this
module picks, orders and words them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.analysis import screening
from engine.classes import DEFAULT_SIZE
from engine.errors import UserError
from engine.experiments import sweeps
from engine.experiments.spec import Experiment
from engine.paths import why_not
from engine.status import Status
from engine.store import sealed, summary
from engine.store.runs import Store
from engine.store.sweep_results import SweepResults
from engine.words import unsealed
from tui.report import chart_pngs, png
from tui.report import run_figures as report_figures
from tui.report.reported import Reported
from tui.text.numbers import plural
from tui.text.tables import Column, flatten, markdown, sort_rows, write_csv
from tui.views import charts, sweep_figures

TOP_RUNS = 5  # runs by AUC that get an operating point
TARGET = 0.9  # melanoma sensitivity of those operating points
REPORT = "report.md"


@dataclass(frozen=True)
class Section:
    title: str
    words: str  # what the table shows and how to read it
    csv: str
    columns: list[Column]
    rows: list[dict[str, Any]]  # flat rows holding every column's key

    def markdown(self) -> str:
        headers = [c.header for c in self.columns]
        table = markdown([{c.header: c.shown(r) for c in self.columns} for r in self.rows], headers)
        return f"## {self.title}\n\n{self.words}\n\n{table}\n\nAs CSV: `{self.csv}`.\n"

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{k: v for c in self.columns for k, v in c.raw(r).items()} for r in self.rows]


EXPERIMENT = [Column("#", "experiment_id"), Column("experiment", "name"), Column("n", "n")]
RUN = [Column("run", "run_id"), Column("#", "experiment_id"), Column("experiment", "name"), Column("seed", "seed")]
UNLIKE_PAGE = Column("unlike the page", "differs")  # the last column of every table


def write(out: Path, store: Store, experiments: dict[int, Experiment], force: bool = False,
          progress: Callable[[str], None] = lambda step: None,
          experiments_file: Path | str | None = None) -> list[Path]:
    """Writes report.md, the CSVs and (with matplotlib) the PNGs into `out`; returns their paths, the report first.
    A file of an earlier report in `out` is written over only with `force`. `progress` hears each step as it
    starts ("the tables", "figure 3 of 9: auc_curves.png"): the figures take tens of seconds. Each sweep of
    `experiments_file` (the file `experiments` came from) with a finished point gets a section and its charts."""
    if out.exists() and not out.is_dir():  # said before any figure is drawn
        raise UserError(f"--out {out} is a file; give a folder for the report.")
    progress("the tables")
    groups, synthetic = charts.one_data_kind(store.groups())
    if not groups:
        raise UserError("There are no finished runs to report on; "
                        "train some first, e.g. 'dermalab run 8 11 --seeds 3'.")
    runs = [r for r in store.runs() if r["status"] == Status.FINISHED and r["synthetic"] == synthetic]
    top = sort_rows(summary.run_rows(runs, experiments), "auc", descending=True)[:TOP_RUNS]
    chosen = Reported.of(store)
    # The page's figures are DermaMNIST's, and a set without critical classes has nothing to screen for.
    sections = [leaderboard(groups, experiments, chosen), recall_grid(groups, experiments, chosen),
                *([comparison(groups, experiments)] if chosen.page else []),
                best_runs(runs, store, experiments, chosen),
                *([operating_points(top, store, chosen)] if chosen.critical else [])]
    lesion_pictures, left_out = report_figures.pngs(groups, runs, top, highest(runs, "auc"), TARGET, store,
                                                    experiments, chosen)
    swept = sweep_figures.swept(store, experiments, experiments_file)
    sections += [sweep_section(sweep, found, chosen) for sweep, found in swept]
    page_charts = charts.build(groups, experiments, sweep_points=sweep_figures.clinical_points(swept),
                               dataset=chosen.dataset)
    pictures = (chart_pngs.pngs(page_charts) + lesion_pictures
                + [png for sweep, found in swept for png in chart_pngs.pngs(sweep_figures.build(sweep, found))])
    drawn = png.available()
    _check_place(out, [REPORT, *(s.csv for s in sections), *(p.file for p in pictures if drawn)], force)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for section in sections:
            with open(out / section.csv, "w", newline="") as stream:
                write_csv(section.csv_rows(), stream)
        images = png.write(out, pictures, progress) if drawn else []
        (out / REPORT).write_text("\n".join([_opening(runs, synthetic, sealed.unsealings(store), chosen),
                                             *(s.markdown() for s in sections),
                                             png.markdown(pictures, drawn), *(left_out if drawn else [])]))
    except OSError as error:
        raise UserError(f"The report cannot be written to {out} ({why_not(out, error)}); "
                        "choose a writable folder.") from None
    return [out / REPORT, *(out / s.csv for s in sections), *images]


def _check_place(out: Path, files: list[str], force: bool) -> None:
    there = [name for name in files if (out / name).exists()]
    if there and not force:
        raise UserError(f"{out} already holds a report ({', '.join(there[:2])}{', …' if len(there) > 2 else ''}); "
                        "give a new folder, or add --force to write over it.")


def _opening(runs: list[dict[str, Any]], synthetic: bool, unsealings: int, chosen: Reported) -> str:
    """`runs`: every finished run of the reported kind of data; `unsealings`: how often the test split was seen."""
    shown = "DermaMNIST" if chosen.page and chosen.size == DEFAULT_SIZE else chosen.label
    if synthetic:
        data = ("synthetic images: they test the program, and say nothing about skin lesions" if chosen.page else
                f"synthetic images shaped like {shown}'s: they test the program, and say nothing about its images")
    else:
        data = f"{shown} (synthetic runs are left out)"
    experiments = len({r["experiment_id"] for r in runs})
    return (f"# dermalab report\n\nWritten by `dermalab report` on {time.strftime('%Y-%m-%d %H:%M')} from "
            f"{plural(len(runs), 'finished run')} of {plural(experiments, 'experiment')} on {data}. "
            f"Every figure is measured on the validation split, as on the course page. {unsealed(unsealings)}\n")


def sweep_section(sweep: sweeps.Sweep, found: SweepResults, chosen: Reported) -> Section:
    """A sweep's points as `results --sweep` gives them, under its question and its answer."""
    words = " ".join([*([" ".join(sweep.question.split())] if sweep.question else []),
                      sweep_figures.best_versus_base(sweep, found), *sweep_figures.notes(sweep, found)])
    columns = [Column("point", "point"), Column("n", "n"), Column("AUC", "auc", True), *chosen.clinical(spread=True),
               Column("time", "train_seconds", True), Column("stopped", "halved"), Column("edited", "edited")]
    return Section(f"Sweep {sweep.name}", words, f"sweep-{sweep.name}.csv", columns,
                   sort_rows(found.rows, "auc", descending=True))


def leaderboard(groups: list[dict[str, Any]], experiments: dict[int, Experiment], chosen: Reported) -> Section:
    rows = sort_rows(summary.experiment_rows(groups, experiments), "auc", descending=True)
    return Section(
        "Leaderboard", "Each experiment over its seeds: the mean ± the standard deviation between seeds, over n "
        "finished runs (a lone run has no spread). Runs are averaged only with runs of the same config, epochs, "
        "weights and data; a row run unlike the page says how, and has no ΔAUC. Ordered by mean macro AUC; ΔAUC "
        f"is our mean minus the page's figure. {chosen.group_words()}",
        "leaderboard.csv",
        [*EXPERIMENT, Column("AUC", "auc", True), *chosen.clinical(spread=True), Column("accuracy", "accuracy", True),
         Column("ΔAUC", "delta_auc"), UNLIKE_PAGE], rows)


def recall_grid(groups: list[dict[str, Any]], experiments: dict[int, Experiment], chosen: Reported) -> Section:
    rows = [flatten(r) for r in summary.experiment_rows(groups, experiments)]
    if chosen.page:
        reading = (" Read the mel column beside the leaderboard: a high AUC can come with most melanomas called "
                   "something else.")
    elif chosen.critical:
        reading = (f" Read the {chosen.focus} column beside the leaderboard: a high AUC can come with most of its "
                   "images called something else.")
    else:
        reading = ""
    return Section(
        "Recall per class", f"Of the val {'lesions' if chosen.page else 'images'} of each class, the share the model "
        f"names correctly (mean over seeds), in experiment order.{reading}",
        "recall_grid.csv", [*EXPERIMENT, *(Column(c, f"recall_{c}") for c in chosen.classes), UNLIKE_PAGE], rows)


def comparison(groups: list[dict[str, Any]], experiments: dict[int, Experiment]) -> Section:
    columns = [*EXPERIMENT]
    for key, header in (("auc", "AUC"), ("mel_recall", "mel recall"), ("cancer_sensitivity", "cancer sens")):
        columns += [Column(header, key, True), Column(f"{header} page", f"{key}_published"),
                    Column(f"{header} verdict", f"{key}_verdict")]
    return Section(
        "Against the course page", "Our seed mean beside the single figure the page reports. *consistent*: the "
        f"page's figure lies within our mean ± 2 standard deviations over at least {summary.CONSISTENT_MIN_RUNS} "
        "seeds; *different*: it lies outside; *too few runs*: fewer seeds than that, so the spread is unknown. "
        "Rows run unlike the page (other epochs, no ImageNet weights, a changed config) get no page figure.",
        "compare.csv", [*columns, UNLIKE_PAGE], summary.compare_rows(groups, experiments))


def best_runs(runs: list[dict[str, Any]], store: Store, experiments: dict[int, Experiment],
              chosen: Reported) -> Section:
    """The best run by AUC, beside the best by the critical group's recall where the set has one."""
    group = None if chosen.critical is None else "cancer sensitivity" if chosen.page else chosen.titles[1]
    keys = {"highest AUC": "auc", **({f"highest {group}": "cancer_sensitivity"} if group else {})}
    rows = summary.with_intervals(summary.run_rows([highest(runs, key) for key in keys.values()], experiments), store)
    picks = [{"pick": pick, **row} for pick, row in zip(keys, rows)]
    clinical = []
    if chosen.critical:
        focus, group_title = chosen.titles
        clinical = [Column(focus, "mel_recall"), Column(f"{focus} 95% CI", "mel_recall_ci"),
                    Column(group_title, "cancer_sensitivity")]
    return Section(
        "The best run by AUC" + (f" beside the best by {group}" if group else ""), "Single runs, not seed means. The "
        "95% CI columns are bootstrap intervals (1,000 resamples of the val set): how far the figure could move on "
        "another val set of the same size." + (" When the two picks differ, the leaderboard's winner is not the "
                                              "model to screen with." if group else ""),
        "best_runs.csv",
        [Column("pick", "pick"), *RUN, Column("AUC", "auc"), Column("AUC 95% CI", "auc_ci"), *clinical,
         Column("accuracy", "accuracy"), UNLIKE_PAGE], picks)


def highest(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return max(runs, key=lambda r: r[key] or 0)


def operating_points(top: list[dict[str, Any]], store: Store, chosen: Reported) -> Section:
    """`top`: the run rows with the highest AUC, best first; the set's critical class is screened for (melanoma on
    DermaMNIST)."""
    rows, left_out = [], []
    for run in top:  # a run without one (no melanoma in its val set) is named, and the others still shown
        try:
            point = screening.operating_point(summary.predictions(store, run["run_id"]), TARGET, "mel")
        except UserError as error:
            left_out.append(str(error).rstrip("."))
            continue
        rows.append({**run, **point.to_dict()})
    focus, recall = chosen.focus, chosen.titles[0]
    if chosen.page:
        words = (f"For the {len(rows)} runs with the highest AUC: a lesion goes to review when its P(melanoma) is at "
                 f"least the threshold, set as high as it can be while still sending {TARGET:.0%} of val melanomas. "
                 "Beside it: the sensitivity reached, the specificity left (share of non-melanoma lesions not sent), "
                 "and the benign lesions (not akiec, bcc or mel) sent per 1,000 patients with the val set's mix of "
                 "lesions.")
    else:
        group = ", ".join(chosen.critical.group) if chosen.critical else ""
        words = (f"For the {len(rows)} runs with the highest AUC: an image goes to review when its P({focus}) is "
                 f"at least the threshold, set as high as it can be while still sending {TARGET:.0%} of val {focus} "
                 f"images. Beside it: the sensitivity reached, the specificity left (share of the other images not "
                 f"sent), and the images of no critical class ({group}) sent per 1,000 patients at the val set's mix.")
    return Section(
        f"Operating points at {TARGET:.0%} {focus} sensitivity",
        f"{words} '{recall}' is what the same run catches when it simply names the likeliest class." +
        "".join(f" Left out: {reason[0].lower()}{reason[1:]}." for reason in left_out),
        "operating_points.csv",
        [*RUN, Column("AUC", "auc"), Column(recall, "mel_recall"), Column("threshold", "threshold"),
         Column("sensitivity", "sensitivity"), Column("specificity", "specificity"),
         Column("benign flagged /1000" if chosen.page else "flagged /1000", "flagged_per_1000"), UNLIKE_PAGE], rows)
