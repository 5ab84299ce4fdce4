"""`dermalab lessons`: the page's lessons × the MedMNIST sets, as a terminal table, Markdown, CSV or LaTeX. Each cell
is the seed-paired change in AUC (and in the set's critical-class recall) of an experiment against the one it changes
(engine.store.lessons), with its 95 % interval; a change whose interval leaves out zero is outside the noise (bold
in Markdown and LaTeX, marked * in the terminal). Cells trained on synthetic stand-ins say so."""

from __future__ import annotations

import argparse
import csv
import sys

from engine.analysis.paired import PairedDifference
from engine.classes import DEFAULT, check_name, label, names
from engine.store import lessons
from engine.store.lessons import Cell
from tui import exit_codes
from tui.cli.inputs import experiments_of, open_store
from tui.text.tables import aligned

FIGURE_WORDS = {"auc": "ΔAUC", "mel_recall": "Δrecall"}
NOTE = ("Each cell: the mean seed-paired change against the experiment it changes, [95 % interval by Student's t "
        "over seeds]; * (bold) where the interval leaves out zero. Δrecall is the set's critical class "
        "(DermaMNIST: melanoma). (synthetic) marks cells trained on synthetic stand-ins, which test the mechanics, "
        "not the lessons.")


def cmd_lessons(args: argparse.Namespace) -> int:
    store = open_store()
    scopes = [(name, args.size) for name in chosen_sets(args.datasets, store)]
    found = lessons.table(store, experiments_of(args), scopes)
    shown = {lesson: cells for lesson, cells in found.items() if cells}
    if not shown:
        print(f"No lesson has runs of both its experiments on {', '.join(label(*scope) for scope in scopes)} yet; "
              "'dermalab run 7 8 --seeds 3' trains BatchNorm's.", file=sys.stderr)
        return exit_codes.OK
    if args.format == "csv":
        write_csv(shown)
        return exit_codes.OK
    # A set whose every cell ran on synthetic stand-ins says so once, in its heading; a mixed one, cell by cell.
    synthetic = {scope: all(cells[scope].synthetic for cells in shown.values() if scope in cells) for scope in scopes}
    header = ["lesson", *(label(*scope) + (" (synthetic)" if synthetic[scope] else "") for scope in scopes)]
    rows = [[lesson, *(text(cells.get(scope), args.format, not synthetic[scope]) for scope in scopes)]
            for lesson, cells in shown.items()]
    write(args.format, header, rows)
    return exit_codes.OK


def chosen_sets(asked: str | None, store) -> list[str]:
    """--datasets a,b (or all); by default the sets with runs in the store, DermaMNIST first."""
    if asked == "all":
        return [name for name in names() if name != "chestmnist"]
    if asked:
        return [check_name(name.strip(), "--datasets") for name in asked.split(",")]
    held = {row["dataset"] for row in store.execute("SELECT DISTINCT dataset FROM runs")}
    return [name for name in names() if name in held] or [DEFAULT]


def text(cell: Cell | None, fmt: str, say_synthetic: bool) -> str:
    if cell is None:
        return ""
    parts = [f"{FIGURE_WORDS[figure]} {change_text(change, cell.beyond_noise(figure), fmt)}"
             for figure, change in cell.changes.items() if change is not None]
    return " · ".join(parts) + (" (synthetic)" if say_synthetic and cell.synthetic else "")


def change_text(change: PairedDifference, beyond: bool | None, fmt: str) -> str:
    interval = "" if change.low is None else f" [{change.low:+.3f}, {change.high:+.3f}]"
    shown = f"{change.mean:+.3f}{interval}"
    if not beyond:
        return shown
    return {"md": f"**{shown}**", "latex": f"\\textbf{{{shown}}}"}.get(fmt, f"{shown}*")


CSV_HEADER = ["lesson", "dataset", "size", "synthetic", "figure", "mean", "low", "high", "seeds", "outside_noise"]


def write_csv(shown: dict[str, dict[lessons.Scope, Cell]]) -> None:
    """A row per lesson, set and figure, each number in a column of its own (fractions, as every CSV here; an
    interval's ends empty below two seeds), for a script to read rather than a person."""
    out = csv.writer(sys.stdout)
    out.writerow(CSV_HEADER)
    for lesson, cells in shown.items():
        for (dataset, size), cell in cells.items():
            for figure, change in cell.changes.items():
                if change is not None:
                    beyond = cell.beyond_noise(figure)
                    out.writerow([lesson, dataset, size, cell.synthetic, figure, change.mean, change.low, change.high,
                                  len(change.seeds), "" if beyond is None else beyond])


def write(fmt: str, header: list[str], rows: list[list[str]]) -> None:
    if fmt == "md":
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print(f"\n{NOTE}")
    elif fmt == "latex":
        print("\\begin{tabular}{l" + "l" * (len(header) - 1) + "}")
        for row in (header, *rows):
            print(" & ".join(latex(cell) for cell in row) + " \\\\")
        print("\\end{tabular}")
    else:
        print(aligned([header, *rows]))
        print(NOTE)


def latex(text: str) -> str:
    """Plain text safe in a tabular cell (the bold markup written by change_text kept)."""
    return text.replace("&", "\\&").replace("%", "\\%").replace("_", "\\_").replace("Δ", "$\\Delta$")

